import { describe, expect, it, vi } from 'vitest';
import { covers, MARGIN, PagedStore, windowFor } from './paged-store.svelte';

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
});
