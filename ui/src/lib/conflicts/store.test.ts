import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConflictDetail } from '$lib/bindings/ConflictDetail';
import type { Notice } from '$lib/bindings/Notice';

const api = vi.hoisted(() => ({
  detail: vi.fn(),
  resolve: vi.fn(),
  history: vi.fn(),
  restore: vi.fn(),
}));
const syncApi = vi.hoisted(() => ({ notices: vi.fn(), dismissNotice: vi.fn() }));
vi.mock('$lib/backend', () => ({ conflicts: api, sync: syncApi }));

const { ConflictStore, titleOf } = await import('./store.svelte');
const { NoticeStore } = await import('./notices.svelte');
const { toasts } = await import('$lib/ui/toasts.svelte');

const detail = { entity: 'hero', id: 'h1', local: { name: 'Luna' } } as unknown as ConflictDetail;

describe('ConflictStore', () => {
  beforeEach(() => {
    for (const fn of Object.values(api)) fn.mockReset();
    toasts.items = [];
  });

  it('opens a row and loads both versions', async () => {
    api.detail.mockResolvedValue(detail);
    const store = new ConflictStore();
    const opening = store.open('hero', 'h1');
    expect(store.row).toEqual({ entity: 'hero', id: 'h1' });
    expect(store.loading).toBe(true);
    await opening;
    expect(api.detail).toHaveBeenCalledWith('hero', 'h1');
    expect(store.detail).toBe(detail);
    expect(store.loading).toBe(false);
  });

  it('says so when the conflict is already settled', async () => {
    api.detail.mockRejectedValue({ code: 'not_found', message: 'gone', fields: [] });
    const store = new ConflictStore();
    await store.open('hero', 'h1');
    expect(store.detail).toBeNull();
    expect(store.error).toMatch(/already been settled/);
  });

  it('ignores a detail that arrives after the dialog moved on', async () => {
    let answer: (d: ConflictDetail) => void = () => {};
    api.detail.mockReturnValueOnce(new Promise((r) => (answer = r)));
    const store = new ConflictStore();
    const first = store.open('hero', 'h1');
    store.close();
    answer(detail);
    await first;
    expect(store.detail).toBeNull();
    expect(store.row).toBeNull();
  });

  it('resolves, closes and says so', async () => {
    api.detail.mockResolvedValue(detail);
    api.resolve.mockResolvedValue(null);
    const store = new ConflictStore();
    await store.open('hero', 'h1');
    const choice = { choice: 'merged' as const, fields: { name: 'Luna' } };
    expect(await store.resolve(choice)).toBe(true);
    expect(api.resolve).toHaveBeenCalledWith('hero', 'h1', choice);
    expect(store.row).toBeNull();
    expect(toasts.items.map((t) => t.message)).toEqual(['Conflict resolved: the versions were merged']);
  });

  it('stays open when resolving fails', async () => {
    api.detail.mockResolvedValue(detail);
    api.resolve.mockRejectedValue({ code: 'validation', message: 'Choose 1 to 5 traits', fields: [] });
    const store = new ConflictStore();
    await store.open('hero', 'h1');
    expect(await store.resolve({ choice: 'keep_mine' })).toBe(false);
    expect(store.row).not.toBeNull();
    expect(store.resolving).toBe(false);
    expect(toasts.items[0].message).toBe('Choose 1 to 5 traits');
  });

  it('loads a row history and restores a version', async () => {
    api.history.mockResolvedValue([{ id: 3 }]);
    api.restore.mockResolvedValue('h1');
    const store = new ConflictStore();
    await store.openHistory('hero', 'h1', 'Luna');
    expect(store.records).toEqual([{ id: 3 }]);
    expect(await store.restore(3)).toBe(true);
    expect(api.restore).toHaveBeenCalledWith(3);
    store.closeHistory();
    expect(store.historyOf).toBeNull();
  });

  it('titles a row by its name or title', () => {
    expect(titleOf({ name: 'Luna' })).toBe('Luna');
    expect(titleOf({ title: 'The moon' })).toBe('The moon');
    expect(titleOf({ title: ' ' })).toBe('Untitled');
  });
});

describe('NoticeStore', () => {
  const notice = (id: number, at: string): Notice => ({
    id,
    created_at: at,
    entity: 'hero',
    entity_id: `h${id}`,
    title: `Hero ${id}`,
    reason: 'replaced',
    fields: [],
    history_id: null,
  });

  beforeEach(() => {
    syncApi.notices.mockReset();
    syncApi.dismissNotice.mockReset();
    toasts.items = [];
  });

  it('lists notices newest first, and a pushed one replaces its copy', async () => {
    syncApi.notices.mockResolvedValue([notice(1, '2025-01-01T00:00:00Z'), notice(2, '2025-02-01T00:00:00Z')]);
    const store = new NoticeStore();
    await store.load();
    expect(store.items.map((n) => n.id)).toEqual([2, 1]);
    store.add({ ...notice(1, '2025-03-01T00:00:00Z'), title: 'Renamed' });
    expect(store.items.map((n) => n.id)).toEqual([1, 2]);
    expect(store.items[0].title).toBe('Renamed');
  });

  it('hides a dismissed notice at once, and brings it back if the core refuses', async () => {
    const store = new NoticeStore();
    store.add(notice(1, '2025-01-01T00:00:00Z'));
    syncApi.dismissNotice.mockResolvedValueOnce(null);
    await store.dismiss(1);
    expect(syncApi.dismissNotice).toHaveBeenCalledWith(1);
    expect(store.items).toEqual([]);

    store.add(notice(2, '2025-01-01T00:00:00Z'));
    syncApi.dismissNotice.mockRejectedValueOnce({ code: 'internal', message: 'disk full', fields: [] });
    await store.dismiss(2);
    expect(store.items.map((n) => n.id)).toEqual([2]);
    expect(toasts.items[0].message).toBe('disk full');
  });
});
