import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StorySummary } from '$lib/bindings/StorySummary';
import type { StoryView } from '$lib/bindings/StoryView';

const api = vi.hoisted(() => ({
  page: vi.fn(),
  create: vi.fn(),
  update: vi.fn(),
  delete: vi.fn(),
  favorite: vi.fn(),
  retry: vi.fn(),
  discard: vi.fn(),
  generate: vi.fn(),
}));
vi.mock('$lib/backend', () => ({ stories: api, heroes: { page: vi.fn() }, auth: {}, sync: {}, media: {} }));

const { StoryStore, summaryOf } = await import('./store.svelte');
const { toasts, TOAST_DURATION } = await import('$lib/ui/toasts.svelte');

const SYNCED = {
  status: 'synced',
  op: null,
  error: null,
  attempts: 0,
  given_up: false,
  next_attempt_at: null,
  version: 1,
  last_synced_at: null,
} as const;

const summary = (id: string, title = id, is_favorite = false): StorySummary => ({
  id,
  hero_id: null,
  hero_name: null,
  title,
  excerpt: 'Once upon a time',
  language: 'en',
  event_type: 'bedtime',
  custom_event_id: null,
  is_favorite,
  play_count: 0,
  last_played_at: null,
  has_audio: false,
  created_at: '2025-01-01T00:00:00Z',
  updated_at: '2025-01-01T00:00:00Z',
  sync: { ...SYNCED },
});

const view = (s: StorySummary, changes: Partial<StoryView> = {}): StoryView => ({
  id: s.id,
  hero_id: s.hero_id,
  hero_name: s.hero_name,
  title: s.title,
  content: 'Once upon a time, the end.',
  language: s.language,
  event_type: s.event_type,
  custom_event_id: s.custom_event_id,
  is_favorite: s.is_favorite,
  play_count: s.play_count,
  last_played_at: null,
  audio_url: null,
  audio_duration: null,
  created_at: s.created_at,
  updated_at: s.updated_at,
  sync: s.sync,
  ...changes,
});

const page = (rows: StorySummary[], total = rows.length) => ({ total, offset: 0, rows });

/** A core with these rows; deleting one takes it out of later pages. */
function coreWith(rows: StorySummary[]) {
  let current = [...rows];
  api.page.mockImplementation(async () => page(current));
  api.delete.mockImplementation(async (id: string) => {
    current = current.filter((r) => r.id !== id);
    return null;
  });
}

describe('StoryStore', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.useFakeTimers();
    toasts.items = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stars a story at once and keeps what the core saved', async () => {
    coreWith([summary('a'), summary('b')]);
    const store = new StoryStore();
    await store.refresh();
    let resolve!: (v: StoryView) => void;
    api.favorite.mockReturnValue(new Promise((r) => (resolve = r)));
    const done = store.favorite('a', true);
    expect(store.at(0)?.is_favorite).toBe(true);
    // The core saves it (and a play came in from another device meanwhile).
    coreWith([{ ...summary('a'), is_favorite: true, play_count: 3 }, summary('b')]);
    resolve(view(summary('a'), { is_favorite: true, play_count: 3 }));
    await done;
    expect(api.favorite).toHaveBeenCalledWith('a', true);
    expect(store.at(0)).toMatchObject({ is_favorite: true, play_count: 3, excerpt: 'Once upon a time' });
    await vi.runAllTimersAsync();
    expect(store.at(0)).toMatchObject({ is_favorite: true, play_count: 3 });
  });

  it('puts the star back when the core refuses', async () => {
    coreWith([summary('a', 'A', true)]);
    const store = new StoryStore();
    await store.refresh();
    api.favorite.mockRejectedValue({ code: 'not_found', message: 'No such story', fields: [] });
    expect(await store.favorite('a', false)).toBeNull();
    expect(store.at(0)?.is_favorite).toBe(true);
    expect(toasts.items.map((t) => t.kind)).toEqual(['error']);
  });

  it('hides a deleted story at once and sends nothing before the undo time ends', async () => {
    coreWith([summary('a', 'Moon'), summary('b')]);
    const store = new StoryStore();
    await store.refresh();
    store.deleteWithUndo({ id: 'a', title: 'Moon' });
    expect(store.total).toBe(1);
    expect(store.at(0)?.id).toBe('b');
    expect(toasts.items[0]).toMatchObject({ message: '“Moon” deleted', action: { label: 'Undo', testid: 'undo-delete' } });
    // A refetch meanwhile (a sync) still leaves it out.
    await store.refresh();
    expect(store.total).toBe(1);
    vi.advanceTimersByTime(TOAST_DURATION - 10);
    expect(api.delete).not.toHaveBeenCalled();
    expect(store.isDeleting('a')).toBe(true);
  });

  it('deletes when the toast expires', async () => {
    coreWith([summary('a', 'Moon'), summary('b')]);
    const store = new StoryStore();
    await store.refresh();
    store.deleteWithUndo({ id: 'a', title: 'Moon' });
    await vi.advanceTimersByTimeAsync(TOAST_DURATION + 10);
    expect(api.delete).toHaveBeenCalledTimes(1);
    expect(api.delete).toHaveBeenCalledWith('a');
    expect(store.total).toBe(1);
    expect(store.isDeleting('a')).toBe(false);
  });

  it('Undo brings the story back and never deletes it', async () => {
    coreWith([summary('a', 'Moon'), summary('b')]);
    const store = new StoryStore();
    await store.refresh();
    store.deleteWithUndo({ id: 'a', title: 'Moon' });
    toasts.act(toasts.items[0].id);
    await vi.advanceTimersByTimeAsync(TOAST_DURATION * 2);
    expect(api.delete).not.toHaveBeenCalled();
    expect(store.total).toBe(2);
    expect(store.at(0)?.id).toBe('a');
  });

  it('signing out drops a waiting delete without sending it', async () => {
    coreWith([summary('a', 'Moon')]);
    const store = new StoryStore();
    await store.refresh();
    store.deleteWithUndo({ id: 'a', title: 'Moon' });
    store.clear();
    await vi.advanceTimersByTimeAsync(TOAST_DURATION * 2);
    expect(api.delete).not.toHaveBeenCalled();
    expect(toasts.items).toEqual([]);
  });

  it('a failed delete is reported and the story comes back', async () => {
    coreWith([summary('a', 'Moon')]);
    api.delete.mockRejectedValue({ code: 'internal', message: 'disk full', fields: [] });
    const store = new StoryStore();
    await store.refresh();
    store.deleteWithUndo({ id: 'a', title: 'Moon' });
    await vi.advanceTimersByTimeAsync(TOAST_DURATION + 10);
    expect(store.total).toBe(1);
    expect(toasts.items.some((t) => t.kind === 'error')).toBe(true);
  });

  it('summaryOf keeps the row excerpt and derives has_audio', () => {
    const row = summary('a');
    const s = summaryOf(view(row, { audio_url: 'https://x/a.mp3', title: 'New' }), row);
    expect(s).toMatchObject({ title: 'New', has_audio: true, excerpt: 'Once upon a time' });
    expect('content' in s).toBe(false);
  });
});
