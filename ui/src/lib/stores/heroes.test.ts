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

const { HeroStore } = await import('./heroes.svelte');
const { toasts } = await import('./toasts.svelte');
const { session } = await import('./session.svelte');

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

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

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

  it('coalesces refreshes asked for while one runs into one more fetch', async () => {
    const first = deferred<HeroView[]>();
    api.list.mockReturnValueOnce(first.promise).mockResolvedValue([hero('new')]);
    const store = new HeroStore();
    const calls = [store.refresh(), store.refresh(), store.refresh()];
    first.resolve([hero('old')]);
    await Promise.all(calls);
    expect(api.list).toHaveBeenCalledTimes(2);
    expect(store.items.map((h) => h.id)).toEqual(['new']);
  });

  it('shows a created hero at once', async () => {
    api.create.mockResolvedValue(hero('c', 'Luna'));
    api.list.mockReturnValue(new Promise(() => {}));
    const store = new HeroStore();
    store.items = [hero('a')];
    await store.create({ name: 'Luna', age: 7, traits: ['kind'], appearance: '', special_ability: '' });
    expect(store.items.map((h) => h.id)).toEqual(['c', 'a']);
  });

  it('passes validation errors of a create to the caller', async () => {
    const error = { code: 'validation', message: 'bad', fields: [{ field: 'name', message: 'empty' }] };
    api.create.mockRejectedValue(error);
    const store = new HeroStore();
    await expect(
      store.create({ name: '', age: 7, traits: ['kind'], appearance: '', special_ability: '' }),
    ).rejects.toEqual(error);
  });

  it('removes a deleted hero at once and keeps it out of lists fetched meanwhile', async () => {
    const deletion = deferred<null>();
    api.delete.mockReturnValue(deletion.promise);
    api.list.mockResolvedValue([hero('a'), hero('b')]);
    const store = new HeroStore();
    store.items = [hero('a'), hero('b')];
    const pending = store.delete('a');
    expect(store.items.map((h) => h.id)).toEqual(['b']);
    await store.refresh();
    expect(store.items.map((h) => h.id)).toEqual(['b']);
    api.list.mockResolvedValue([hero('b')]);
    deletion.resolve(null);
    await pending;
    await store.refresh();
    expect(store.items.map((h) => h.id)).toEqual(['b']);
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

  it('treats a refused session as expired, not as a toast', async () => {
    session.expired = false;
    api.retry.mockRejectedValue({ code: 'unauthorized', message: 'token expired', fields: [] });
    const store = new HeroStore();
    await store.retry('a');
    expect(session.expired).toBe(true);
    expect(toasts.items).toEqual([]);
  });
});
