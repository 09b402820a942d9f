import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CustomEventView } from '$lib/bindings/CustomEventView';

const api = vi.hoisted(() => ({
  list: vi.fn(),
  create: vi.fn(),
  update: vi.fn(),
  delete: vi.fn(),
  favorite: vi.fn(),
}));
vi.mock('$lib/backend', () => ({ customEvents: api, stories: {}, heroes: {}, auth: {}, sync: {}, media: {} }));

const { CustomEventStore } = await import('./store.svelte');
const { validateEvent, emptyEventDraft, splitKeywords } = await import('./event');
const { toasts } = await import('$lib/ui/toasts.svelte');

const event = (id: string, title: string, is_favorite = false): CustomEventView => ({
  id,
  title,
  description: '',
  prompt_seed: '',
  keywords: [],
  category: 'everyday',
  tone: 'gentle',
  pictogram_emoji: '🎂',
  is_favorite,
  usage_count: 0,
  created_at: '2025-01-01T00:00:00Z',
  updated_at: '2025-01-01T00:00:00Z',
  sync: {
    status: 'synced',
    op: null,
    error: null,
    attempts: 0,
    given_up: false,
    next_attempt_at: null,
    version: 1,
    last_synced_at: null,
  },
});

describe('CustomEventStore', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    toasts.items = [];
  });

  it('lists favourites first, then by title', async () => {
    api.list.mockResolvedValue([event('1', 'zoo'), event('2', 'Apple'), event('3', 'Moon', true)]);
    const store = new CustomEventStore();
    await store.refresh();
    expect(store.loaded).toBe(true);
    expect(store.items.map((e) => e.title)).toEqual(['Moon', 'Apple', 'zoo']);
  });

  it('moves a starred event to the top at once, and back when refused', async () => {
    api.list.mockResolvedValue([event('1', 'Apple'), event('2', 'Zebra')]);
    const store = new CustomEventStore();
    await store.refresh();
    api.favorite.mockResolvedValue(event('2', 'Zebra', true));
    await store.favorite('2', true);
    expect(store.items.map((e) => e.id)).toEqual(['2', '1']);
    api.favorite.mockRejectedValue({ code: 'internal', message: 'no', fields: [] });
    await store.favorite('2', false);
    expect(store.items[0]).toMatchObject({ id: '2', is_favorite: true });
    expect(toasts.items).toHaveLength(1);
  });

  it('shows a created or edited event in its place', async () => {
    api.list.mockResolvedValue([event('1', 'Birthday')]);
    const store = new CustomEventStore();
    await store.refresh();
    api.create.mockResolvedValue(event('2', 'Andes trip'));
    await store.create({ ...validInput() });
    expect(store.items.map((e) => e.title)).toEqual(['Andes trip', 'Birthday']);
    api.update.mockResolvedValue(event('2', 'Zoo trip'));
    await store.update('2', validInput());
    expect(store.items.map((e) => e.title)).toEqual(['Birthday', 'Zoo trip']);
  });

  it('removes at once and restores the list when a delete fails', async () => {
    api.list.mockResolvedValue([event('1', 'Birthday'), event('2', 'Zoo')]);
    const store = new CustomEventStore();
    await store.refresh();
    api.delete.mockResolvedValue(null);
    await store.delete('1');
    expect(store.items.map((e) => e.id)).toEqual(['2']);
    api.delete.mockRejectedValue({ code: 'internal', message: 'no', fields: [] });
    await store.delete('2');
    expect(store.items.map((e) => e.id)).toEqual(['1', '2']);
  });
});

function validInput() {
  const check = validateEvent({ ...emptyEventDraft(), title: 'Trip', keywords: 'mountains, llamas' });
  if (!check.ok) throw new Error('invalid');
  return check.input;
}

describe('validateEvent', () => {
  it('splits keywords and trims', () => {
    expect(splitKeywords(' cake, candles ,, party ')).toEqual(['cake', 'candles', 'party']);
    const check = validateEvent({ ...emptyEventDraft(), title: '  Trip ', keywords: 'a, b' });
    expect(check).toMatchObject({ ok: true, input: { title: 'Trip', keywords: ['a', 'b'] } });
  });

  it('uses the generated messages', () => {
    const check = validateEvent({ ...emptyEventDraft(), title: ' ', pictogram_emoji: 'ab', keywords: 'k,'.repeat(11) });
    expect(check).toEqual({
      ok: false,
      errors: { title: 'Give the event a title', pictogram_emoji: 'Use a single emoji (at most 8 bytes)', keywords: 'Use at most 10 keywords' },
    });
  });
});
