import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { HeroView } from '$lib/bindings/HeroView';

const api = vi.hoisted(() => ({
  list: vi.fn(),
  create: vi.fn(),
  update: vi.fn(),
  delete: vi.fn(),
  retry: vi.fn(),
  discard: vi.fn(),
}));
vi.mock('$lib/backend', () => ({ heroes: api, auth: {}, sync: {} }));

const { HeroStore } = await import('./store.svelte');
const { toasts } = await import('$lib/ui/toasts.svelte');
const { session } = await import('$lib/session/store.svelte');

const hero = (id: string, name = id): HeroView => ({
  id,
  name,
  age: 7,
  traits: ['kind'],
  appearance: '',
  special_ability: '',
  avatar_url: null,
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

describe('HeroStore', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    toasts.items = [];
  });

  it('loads the list', async () => {
    api.list.mockResolvedValue([hero('a'), hero('b')]);
    const store = new HeroStore();
    expect(store.loaded).toBe(false);
    await store.refresh();
    expect(store.loaded).toBe(true);
    expect(store.items.map((h) => h.id)).toEqual(['a', 'b']);
  });

  it('shows a created hero at once', async () => {
    api.create.mockResolvedValue(hero('c', 'Luna'));
    api.list.mockReturnValue(new Promise(() => {}));
    const store = new HeroStore();
    store.items = [hero('a')];
    await store.create({ name: 'Luna', age: 7, traits: ['kind'], appearance: '', special_ability: '' });
    expect(store.items.map((h) => h.id)).toEqual(['c', 'a']);
  });

  it("saves an edit under the hero's id", async () => {
    const input = { name: 'Luna', age: 8, traits: ['kind' as const], appearance: '', special_ability: '' };
    api.update.mockResolvedValue(hero('a', 'Luna'));
    api.list.mockReturnValue(new Promise(() => {}));
    const store = new HeroStore();
    store.items = [hero('a'), hero('b')];
    await store.update('a', input);
    expect(api.update).toHaveBeenCalledWith('a', input);
    expect(store.items.map((h) => h.name)).toEqual(['Luna', 'b']);
  });

  it('passes validation errors of a create to the caller', async () => {
    const error = { code: 'validation', message: 'bad', fields: [{ field: 'name', message: 'empty' }] };
    api.create.mockRejectedValue(error);
    const store = new HeroStore();
    await expect(
      store.create({ name: '', age: 7, traits: ['kind'], appearance: '', special_ability: '' }),
    ).rejects.toEqual(error);
  });

  it('brings a hero back and says why when its delete fails', async () => {
    api.delete.mockRejectedValue({ code: 'internal', message: 'disk full', fields: [] });
    api.list.mockResolvedValue([hero('a')]);
    const store = new HeroStore();
    store.items = [hero('a')];
    await store.delete('a');
    await store.refresh();
    expect(store.items.map((h) => h.id)).toEqual(['a']);
    expect(toasts.items.map((t) => t.message)).toEqual(['disk full']);
  });

  it('refetches after discarding a failed change', async () => {
    api.discard.mockResolvedValue(null);
    api.list.mockResolvedValue([hero('a', 'server copy')]);
    const store = new HeroStore();
    await store.discard('a');
    expect(api.discard).toHaveBeenCalledWith('a');
    expect(store.items.map((h) => h.name)).toEqual(['server copy']);
  });

  it('treats a refused session as expired, not as a toast', async () => {
    session.expired = false;
    api.retry.mockRejectedValue({ code: 'unauthorized', message: 'token expired', fields: [] });
    const store = new HeroStore();
    await store.retry('a');
    expect(session.expired).toBe(true);
    expect(toasts.items).toEqual([]);
  });
});
