import { beforeEach, describe, expect, it, vi } from 'vitest';

const api = vi.hoisted(() => ({
  unsynced: vi.fn(),
  activity: vi.fn(),
  retry: vi.fn(),
  discard: vi.fn(),
  cancel: vi.fn(),
}));
const conflictList = vi.hoisted(() => vi.fn());
vi.mock('$lib/backend', () => ({ sync: api, conflicts: { list: conflictList } }));

const { SyncPanelStore, reportFileName, ACTIVITY_LIMIT } = await import('./panel.svelte');

const row = (id: string, status: string) => ({ entity: 'hero', id, title: id, updated_at: '', sync: { status } });

describe('SyncPanelStore', () => {
  beforeEach(() => {
    for (const fn of Object.values(api)) fn.mockReset();
    api.unsynced.mockResolvedValue([row('a', 'failed'), row('b', 'conflict'), row('c', 'pending_update')]);
    api.activity.mockResolvedValue([]);
    conflictList.mockReset().mockResolvedValue([{ entity: 'hero', id: 'b', title: 'b', fields: ['name', 'age'] }]);
  });

  it('loads rows and splits them by state', async () => {
    const store = new SyncPanelStore();
    await store.refresh();
    expect(api.activity).toHaveBeenCalledWith(ACTIVITY_LIMIT);
    expect(store.failed.map((r) => r.id)).toEqual(['a']);
    expect(store.conflicts.map((r) => r.id)).toEqual(['b']);
    expect(store.pending.map((r) => r.id)).toEqual(['c']);
    expect(store.conflictFields).toEqual({ 'hero:b': ['name', 'age'] });
  });

  it('still lists the rows when the conflicts list fails', async () => {
    conflictList.mockRejectedValue({ code: 'internal', message: 'x', fields: [] });
    const store = new SyncPanelStore();
    await store.refresh();
    expect(store.rows).toHaveLength(3);
    expect(store.conflictFields).toEqual({});
  });

  it('refreshes on core events only while on screen', async () => {
    const store = new SyncPanelStore();
    store.changed();
    expect(api.unsynced).not.toHaveBeenCalled();
    store.show();
    await store.refresh();
    const calls = api.unsynced.mock.calls.length;
    store.changed();
    await store.refresh();
    expect(api.unsynced.mock.calls.length).toBeGreaterThan(calls);
    store.hide();
  });

  it('coalesces refreshes asked for during one', async () => {
    const store = new SyncPanelStore();
    await Promise.all([store.refresh(), store.refresh(), store.refresh()]);
    expect(api.unsynced).toHaveBeenCalledTimes(2);
  });

  it('retries and discards a row, then reloads', async () => {
    const store = new SyncPanelStore();
    api.retry.mockResolvedValue(null);
    api.discard.mockResolvedValue(null);
    await store.retry('hero', 'a');
    await store.discard('hero', 'a');
    expect(api.retry).toHaveBeenCalledWith('hero', 'a');
    expect(api.discard).toHaveBeenCalledWith('hero', 'a');
    expect(api.unsynced).toHaveBeenCalledTimes(2);
    expect(store.busy).toEqual([]);
  });

  it('shows progress until the pull is done', () => {
    const store = new SyncPanelStore();
    store.onProgress({ received: 10, remaining: 90, first_sync: true, done: false });
    expect(store.progress?.received).toBe(10);
    store.onProgress({ received: 100, remaining: 0, first_sync: true, done: true });
    expect(store.progress).toBeNull();
  });

  it('names the report file by date', () => {
    expect(reportFileName(new Date('2025-03-01T12:34:56Z'))).toBe('infinite-stories-sync-report-2025-03-01T12-34-56.json');
  });
});
