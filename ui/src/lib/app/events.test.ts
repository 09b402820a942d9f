import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SyncOverview } from '$lib/bindings/SyncOverview';

const list = vi.hoisted(() => vi.fn());
const storyPage = vi.hoisted(() => vi.fn());
const profileGet = vi.hoisted(() => vi.fn());
vi.mock('$lib/backend', () => ({
  heroes: { page: list },
  stories: { page: storyPage },
  auth: {},
  sync: {},
  profile: { get: profileGet, usage: vi.fn() },
}));

const { handleCoreEvent } = await import('./events');
const { session } = await import('$lib/session/store.svelte');
const { syncStore } = await import('$lib/sync/store.svelte');
const { toasts } = await import('$lib/ui/toasts.svelte');
const { noticeStore } = await import('$lib/conflicts/notices.svelte');
const { syncPanel } = await import('$lib/sync/panel.svelte');

const overview: SyncOverview = {
  account: null,
  network: 'server_unreachable',
  work_offline: false,
  syncing: true,
  paused_reason: null,
  last_sync_at: null,
  last_error: null,
  pending: 3,
  failed: 1,
  conflicts: 0,
};

describe('handleCoreEvent', () => {
  beforeEach(() => {
    list.mockReset().mockResolvedValue({ total: 0, offset: 0, rows: [] });
    storyPage.mockReset().mockResolvedValue({ total: 0, offset: 0, rows: [] });
    profileGet.mockReset().mockResolvedValue({ value: { theme: 'system' }, source: 'network', saved_copy: null, refreshing: false });
    toasts.items = [];
    session.account = null;
    session.expired = false;
  });

  it('refetches heroes on data_changed, only when signed in', () => {
    handleCoreEvent({ type: 'data_changed', entity: 'hero' });
    expect(list).not.toHaveBeenCalled();
    session.account = { user_id: 'u', email: 'e@x.io', name: 'Sam', server_url: 'http://s' };
    handleCoreEvent({ type: 'data_changed', entity: 'hero' });
    expect(list).toHaveBeenCalledTimes(1);
    expect(storyPage).not.toHaveBeenCalled();
  });

  it('refetches only the list of the entity that changed', () => {
    session.account = { user_id: 'u', email: 'e@x.io', name: 'Sam', server_url: 'http://s' };
    for (const entity of ['story', 'illustration', 'custom_event', 'user_profile'] as const) {
      handleCoreEvent({ type: 'data_changed', entity });
    }
    expect(list).not.toHaveBeenCalled();
  });

  it('takes the overview as it comes', () => {
    handleCoreEvent({ type: 'overview', overview });
    expect(syncStore.overview).toEqual(overview);
    expect(syncStore.syncing).toBe(true);
  });

  it('shows sync failures as toasts', () => {
    handleCoreEvent({ type: 'sync_failed', error: { code: 'server', message: 'Server error (500)', fields: [] } });
    expect(toasts.items.map((t) => t.message)).toEqual([
      'The server had a problem. Your changes are saved; sync will try again by itself.',
    ]);
  });

  it('marks the session expired', () => {
    handleCoreEvent({ type: 'session_expired' });
    expect(session.expired).toBe(true);
  });

  it('shows a notice the core pushes', () => {
    noticeStore.clear();
    const notice = {
      id: 7,
      created_at: '2025-03-01T12:00:00Z',
      entity: 'hero' as const,
      entity_id: 'h1',
      title: 'Luna',
      reason: 'replaced' as const,
      fields: ['name'],
      history_id: 2,
    };
    handleCoreEvent({ type: 'notice', notice });
    expect(noticeStore.items).toEqual([notice]);
  });

  it('passes sync progress to the Sync panel', () => {
    handleCoreEvent({ type: 'sync_progress', progress: { received: 40, remaining: 60, first_sync: true, done: false } });
    expect(syncPanel.progress?.received).toBe(40);
  });

  it('re-reads the profile when it changed', () => {
    session.account = { user_id: 'u', email: 'e@x.io', name: 'Sam', server_url: 'http://s' };
    handleCoreEvent({ type: 'data_changed', entity: 'user_profile' });
    expect(profileGet).toHaveBeenCalledTimes(1);
  });
});
