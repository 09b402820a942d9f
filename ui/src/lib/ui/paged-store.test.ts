import { describe, expect, it, vi } from 'vitest';
import { compareText, covers, foldAscii, keepUnchanged, MARGIN, PagedStore, type Placement, trimText, windowFor } from './paged-store.svelte';

type Row = { id: string };
const rows = (from: number, n: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: `r${from + i}` }));

describe('windowFor', () => {
  it('holds the visible rows with a margin on each side, in blocks', () => {
    for (const [start, end] of [
      [0, 10],
      [37, 52],
      [9_990, 10_000],
    ]) {
      const w = windowFor(start, end);
      expect(w.offset).toBeLessThanOrEqual(Math.max(0, start - MARGIN));
      expect(w.offset + w.limit).toBeGreaterThanOrEqual(end + MARGIN);
      expect(w.limit).toBeLessThanOrEqual(end - start + 2 * MARGIN + 80);
    }
    // A small scroll asks for the same window.
    expect(windowFor(100, 115)).toEqual(windowFor(101, 116));
  });

  it('knows when a window already holds the rows, up to the end of the list', () => {
    expect(covers({ offset: 0, limit: 100 }, 10_000, 10, 30)).toBe(true);
    expect(covers({ offset: 0, limit: 100 }, 10_000, 90, 110)).toBe(false);
    expect(covers({ offset: 0, limit: 100 }, 50, 30, 60)).toBe(true);
  });
});

describe('compareText', () => {
  it('orders by code point, as SQLite orders UTF-8 bytes', () => {
    // UTF-16 units put the emoji (a surrogate pair, D83D…) before U+FFFD; bytes do not.
    expect('😀' < '\uFFFD').toBe(true);
    expect(compareText('😀', '\uFFFD')).toBeGreaterThan(0);
    expect(compareText('\uE000', '😀')).toBeLessThan(0);
    expect(compareText('😀', '🦄')).toBeLessThan(0);
    expect(compareText('ab', 'abc')).toBeLessThan(0);
    expect(compareText('b', 'a')).toBeGreaterThan(0);
    expect(compareText('same', 'same')).toBe(0);
  });
});

describe('trimText', () => {
  it('trims what Rust’s str::trim trims', () => {
    expect(trimText('  luna\t')).toBe('luna');
    expect(trimText('\u0085luna\u3000')).toBe('luna');
    expect(trimText('\uFEFFluna')).toBe('\uFEFFluna');
    expect(trimText(null)).toBe('');
  });
});

describe('keepUnchanged', () => {
  it('keeps the objects of rows that did not change, so they do not render again', () => {
    const a = { id: 'a', n: 1, sync: { status: 'synced' } };
    const b = { id: 'b', n: 2, sync: { status: 'synced' } };
    const next = [
      { id: 'a', n: 1, sync: { status: 'synced' } },
      { id: 'b', n: 2, sync: { status: 'pending_update' } },
      { id: 'c', n: 3, sync: { status: 'synced' } },
    ];
    const out = keepUnchanged([a, b], next);
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(next[1]);
    expect(out[2]).toBe(next[2]);
    expect(out).toEqual(next);
  });
});

describe('PagedStore', () => {
  const make = (total: number) => {
    const fetch = vi.fn((_f: null, w: { offset: number; limit: number }) =>
      Promise.resolve({ total, offset: w.offset, rows: rows(w.offset, Math.max(0, Math.min(w.limit, total - w.offset))) }),
    );
    return { fetch, store: new PagedStore<Row, null>({ fetch, report: vi.fn(), filter: null }) };
  };

  it('coalesces refreshes asked for while one runs into one more', async () => {
    const { fetch, store } = make(10);
    const a = store.refresh();
    void store.refresh();
    void store.refresh();
    await a;
    await store.refresh();
    expect(fetch.mock.calls.length).toBeLessThanOrEqual(3);
    expect(store.total).toBe(10);
  });

  it('goes back to the last rows when the list shrank under the scroll position', async () => {
    let total = 1000;
    const fetch = vi.fn((_f: null, w: { offset: number; limit: number }) =>
      Promise.resolve({ total, offset: w.offset, rows: rows(w.offset, Math.max(0, Math.min(w.limit, total - w.offset))) }),
    );
    const store = new PagedStore<Row, null>({ fetch, report: vi.fn(), filter: null });
    store.show(900, 915);
    await vi.waitFor(() => expect(store.at(900)?.id).toBe('r900'));
    total = 20;
    await store.refresh();
    await vi.waitFor(() => expect(store.at(19)?.id).toBe('r19'));
    expect(store.total).toBe(20);
  });

  it('hides a row at once and shows it again on undo', async () => {
    const { store } = make(3);
    await store.refresh();
    store.hide('r1');
    expect([store.total, store.at(1)?.id]).toEqual([2, 'r2']);
    store.unhide('r1');
    await vi.waitFor(() => expect(store.at(1)?.id).toBe('r1'));
    expect(store.total).toBe(3);
  });

  describe('insert: a created row shows before any refetch', () => {
    // Rows sorted by a number in their id, as the core would; the filter is "even only" or none.
    type N = { id: string; n: number };
    const place: Placement<N, 'even' | null> = {
      matches: (item, filter) => filter !== 'even' || item.n % 2 === 0,
      before: (a, b) => a.n < b.n,
    };
    const setup = (all: number[], filter: 'even' | null = null) => {
      let server = all.map((n) => ({ id: `n${n}`, n }));
      let release: () => void = () => {};
      let hold = false;
      const fetch = vi.fn(async (f: 'even' | null, w: { offset: number; limit: number }) => {
        const snapshot = server.filter((r) => place.matches(r, f)).sort((a, b) => a.n - b.n);
        if (hold) await new Promise<void>((r) => (release = r));
        return { total: snapshot.length, offset: w.offset, rows: snapshot.slice(w.offset, w.offset + w.limit) };
      });
      const store = new PagedStore<N, 'even' | null>({ fetch, report: vi.fn(), filter, place });
      return {
        store,
        fetch,
        add: (n: number) => (server = [...server, { id: `n${n}`, n }]),
        holdNext: () => (hold = true),
        release: () => {
          hold = false;
          release();
        },
      };
    };
    const ids = (store: { rows: N[] }) => store.rows.map((r) => r.n);

    it('puts it in its place in the window and counts it', async () => {
      const { store } = setup([10, 20, 30]);
      await store.refresh();
      expect(store.insert({ id: 'n25', n: 25 })).toBe(true);
      expect([ids(store), store.total]).toEqual([[10, 20, 25, 30], 4]);
      expect(store.insert({ id: 'n5', n: 5 })).toBe(true);
      expect(store.insert({ id: 'n40', n: 40 })).toBe(true);
      expect([ids(store), store.total]).toEqual([[5, 10, 20, 25, 30, 40], 6]);
    });

    it('above the window moves the window down; below it only counts', async () => {
      const { store } = setup(Array.from({ length: 1000 }, (_, i) => i * 10));
      store.show(500, 515);
      await vi.waitFor(() => expect(store.loaded).toBe(true));
      const [offset, first, last] = [store.offset, store.rows[0].n, store.rows.at(-1)!.n];
      store.insert({ id: 'n1', n: 1 });
      expect([store.offset, store.at(offset + 1)?.n, store.total]).toEqual([offset + 1, first, 1001]);
      store.insert({ id: 'n99999', n: 99_999 });
      expect([store.rows.at(-1)?.n, store.total]).toEqual([last, 1002]);
    });

    it('an update of a row outside the window neither counts nor shows it twice', async () => {
      const { store } = setup(Array.from({ length: 1000 }, (_, i) => i * 10));
      store.show(500, 515);
      await vi.waitFor(() => expect(store.loaded).toBe(true));
      const before = [store.total, store.offset, ids(store)];
      await store.save(Promise.resolve({ id: 'n10', n: 5_005 })); // row 1, far above
      expect([store.total, store.offset, ids(store)]).toEqual(before);
    });

    it('leaves a row the filter hides, or one it cannot judge, to the refetch', async () => {
      const { store } = setup([2, 4], 'even');
      await store.refresh();
      expect(store.insert({ id: 'n3', n: 3 })).toBe(false);
      expect(ids(store)).toEqual([2, 4]);
      const bare = new PagedStore<N, null>({ fetch: vi.fn(), report: vi.fn(), filter: null });
      expect(bare.insert({ id: 'n1', n: 1 })).toBe(false);
    });

    it('a window fetched before the insert does not take the row away again', async () => {
      const { store, fetch, add, holdNext, release } = setup([10, 30]);
      await store.refresh();
      holdNext();
      const stale = store.refresh(); // asks for the window now, before the create
      await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(2));
      add(20);
      store.insert({ id: 'n20', n: 20 });
      release();
      await stale;
      expect(ids(store)).toEqual([10, 20, 30]);
      expect(fetch).toHaveBeenCalledTimes(3); // the outdated window was fetched again
    });

    it('a refresh asked for during a write waits for its answer: one refetch, after it', async () => {
      const { store, fetch, add } = setup([10, 30]);
      await store.refresh();
      let answer!: (row: N) => void;
      const written = store.saveNew(new Promise<N>((resolve) => (answer = resolve)));
      const asked = store.refresh(); // the core's data_changed, before the answer
      await Promise.resolve();
      expect(fetch).toHaveBeenCalledTimes(1);
      add(20);
      answer({ id: 'n20', n: 20 });
      await written;
      expect(ids(store)).toEqual([10, 20, 30]);
      await asked;
      expect(fetch).toHaveBeenCalledTimes(2);
      expect([ids(store), store.total]).toEqual([[10, 20, 30], 3]);
    });

    it('a failed write still refetches, and settles the refreshes that waited', async () => {
      const { store, fetch } = setup([10]);
      await store.refresh();
      const written = store.save(Promise.reject(new Error('refused')));
      const asked = store.refresh();
      await expect(written).rejects.toThrow('refused');
      await asked;
      expect(fetch).toHaveBeenCalledTimes(2);
    });

    it('folds case as SQLite NOCASE does: ASCII only', () => {
      expect(foldAscii('ÉLODIE Anna')).toBe('Élodie anna');
    });
  });
});
