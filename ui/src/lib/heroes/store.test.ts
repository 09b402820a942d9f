import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { HeroView } from '$lib/bindings/HeroView';

const api = vi.hoisted(() => ({
  page: vi.fn(),
  create: vi.fn(),
  update: vi.fn(),
  delete: vi.fn(),
  retry: vi.fn(),
  discard: vi.fn(),
}));
vi.mock('$lib/backend', () => ({ heroes: api, stories: { page: vi.fn() }, auth: {}, sync: {} }));

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

const page = (rows: HeroView[], total = rows.length, offset = 0) => ({ total, offset, rows });

describe('HeroStore', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    toasts.items = [];
  });

  it('loads the first window and the count', async () => {
    api.page.mockResolvedValue(page([hero('a'), hero('b')], 10_000));
    const store = new HeroStore();
    expect(store.loaded).toBe(false);
    await store.refresh();
    expect(store.loaded).toBe(true);
    expect(store.total).toBe(10_000);
    expect([store.at(0)?.id, store.at(1)?.id, store.at(2)]).toEqual(['a', 'b', undefined]);
    expect(api.page).toHaveBeenCalledWith({ text: null }, { offset: 0, limit: expect.any(Number) });
  });

  it('shows a created hero after refetching its window', async () => {
    api.create.mockResolvedValue(hero('c', 'Luna'));
    api.page.mockResolvedValue(page([hero('a'), hero('c', 'Luna')]));
    const store = new HeroStore();
    await store.create({ name: 'Luna', age: 7, traits: ['kind'], appearance: '', special_ability: '' });
    expect(store.total).toBe(2);
    expect(store.indexOf('c')).toBe(1);
  });

  it("saves an edit under the hero's id and shows it at once", async () => {
    const input = { name: 'Luna', age: 8, traits: ['kind' as const], appearance: '', special_ability: '' };
    api.page.mockResolvedValueOnce(page([hero('a'), hero('b')]));
    const store = new HeroStore();
    await store.refresh();
    api.update.mockResolvedValue(hero('a', 'Luna'));
    api.page.mockReturnValue(new Promise(() => {}));
    void store.update('a', input);
    await vi.waitFor(() => expect(store.at(0)?.name).toBe('Luna'));
    expect(api.update).toHaveBeenCalledWith('a', input);
  });

  it('passes validation errors of a create to the caller', async () => {
    const error = { code: 'validation', message: 'bad', fields: [{ field: 'name', message: 'empty' }] };
    api.create.mockRejectedValue(error);
    const store = new HeroStore();
    await expect(
      store.create({ name: '', age: 7, traits: ['kind'], appearance: '', special_ability: '' }),
    ).rejects.toEqual(error);
  });

  it('hides a deleted hero at once, and brings it back and says why when the delete fails', async () => {
    api.page.mockResolvedValue(page([hero('a'), hero('b')]));
    const store = new HeroStore();
    await store.refresh();
    let fail!: (e: unknown) => void;
    api.delete.mockReturnValue(new Promise((_, reject) => (fail = reject)));
    const deleting = store.delete('a');
    expect([store.total, store.at(0)?.id]).toEqual([1, 'b']);
    fail({ code: 'internal', message: 'disk full', fields: [] });
    await deleting;
    await store.refresh();
    expect(store.at(0)?.id).toBe('a');
    expect(toasts.items.map((t) => t.message)).toEqual(['disk full']);
  });

  it('refetches after discarding a failed change', async () => {
    api.discard.mockResolvedValue(null);
    api.page.mockResolvedValue(page([hero('a', 'server copy')]));
    const store = new HeroStore();
    await store.discard('a');
    expect(api.discard).toHaveBeenCalledWith('a');
    expect(store.at(0)?.name).toBe('server copy');
  });

  it('asks only for the window in view while scrolling', async () => {
    api.page.mockImplementation((_f, w: { offset: number; limit: number }) =>
      Promise.resolve(page(Array.from({ length: w.limit }, (_, i) => hero(`h${w.offset + i}`)), 10_000, w.offset)),
    );
    const store = new HeroStore();
    await store.refresh();
    api.page.mockClear();
    store.show(5, 20);
    expect(api.page).not.toHaveBeenCalled();
    store.show(5000, 5015);
    await vi.waitFor(() => expect(store.at(5000)?.id).toBe('h5000'));
    const [, window] = api.page.mock.calls[0];
    expect(window.offset).toBeLessThanOrEqual(5000);
    expect(window.offset + window.limit).toBeGreaterThanOrEqual(5015);
    expect(window.limit).toBeLessThanOrEqual(200);
  });

  it('starts from the top with a new search', async () => {
    api.page.mockResolvedValue(page([hero('a')], 1));
    const store = new HeroStore();
    store.setFilter({ text: 'lu' });
    await vi.waitFor(() => expect(store.loaded).toBe(true));
    expect(api.page).toHaveBeenLastCalledWith({ text: 'lu' }, expect.objectContaining({ offset: 0 }));
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
