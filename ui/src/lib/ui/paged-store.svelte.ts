/**
 * A list too long to load whole (10,000 heroes or stories): the core filters, sorts and
 * counts it in SQLite, and this store holds only the window of rows around what is on
 * screen, and the total. Scrolling asks for the rows in view (`show`); a change in the
 * core refetches that window only (`refresh`); a save or delete shows at once.
 */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { Page } from '$lib/bindings/Page';
import type { Window } from '$lib/bindings/Window';

export type PagedStoreOptions<T, F> = {
  /** One window of the filtered list and the count of all matches. */
  fetch: (filter: F, window: Window) => Promise<Page<T>>;
  /** Shows an error that no form owns (a failed refresh or removal). */
  report: (error: ErrorPayload) => void;
  filter: F;
  /** Names the `performance` mark set when the first window is painted (`<name>-painted`). */
  name?: string;
};

/** Rows fetched around the visible ones, on each side, so a scroll step rarely waits. */
export const MARGIN = 60;
/** Visible rows are asked for in blocks of this size, so small scrolls reuse a window. */
const BLOCK = 40;

/** The window to fetch for visible rows `start..end` (end exclusive). */
export function windowFor(start: number, end: number): Window {
  const from = Math.max(0, Math.floor((start - MARGIN) / BLOCK) * BLOCK);
  const to = Math.ceil((end + MARGIN) / BLOCK) * BLOCK;
  return { offset: from, limit: Math.max(BLOCK, to - from) };
}

/** Whether `window` holds rows `start..end` (clamped to `total`). */
export function covers(window: Window, total: number, start: number, end: number): boolean {
  const last = Math.min(end, total);
  return start >= window.offset && last <= window.offset + window.limit;
}

export class PagedStore<T extends { id: string }, F> {
  /** How many rows match the filter, in all. */
  total = $state(0);
  /** False until the first window arrived, so the empty state doesn't flash. */
  loaded = $state(false);
  /** Raw: replaced whole with each window. */
  filter = $state.raw<F>(undefined as F);
  /** The fetched rows; `rows[i]` is list row `offset + i`. */
  rows = $state.raw<T[]>([]);
  offset = $state(0);

  readonly #fetch: (filter: F, window: Window) => Promise<Page<T>>;
  readonly #report: (error: ErrorPayload) => void;
  readonly #initial: F;
  readonly #name: string | undefined;
  /** The window wanted: what the list shows, with margins. */
  #wanted: Window = { offset: 0, limit: MARGIN * 2 };
  #visible = { start: 0, end: 0 };
  /** Rows on their way out (deleted): kept out of windows fetched meanwhile. */
  #hidden = new Set<string>();
  #inflight: Promise<void> | null = null;
  #stale = false;

  constructor({ fetch, report, filter, name }: PagedStoreOptions<T, F>) {
    this.#name = name;
    this.#fetch = fetch;
    this.#report = report;
    this.#initial = filter;
    this.filter = filter;
  }

  /** List row `index`, or undefined while its window is on its way. */
  at(index: number): T | undefined {
    return this.rows[index - this.offset];
  }

  /** Where row `id` is in the list, if it is in the fetched window. */
  indexOf(id: string): number {
    const i = this.rows.findIndex((r) => r.id === id);
    return i < 0 ? -1 : this.offset + i;
  }

  /** The list shows rows `start..end`: fetches their window unless it is already here. */
  show(start: number, end: number): void {
    this.#visible = { start, end };
    const have = { offset: this.offset, limit: this.rows.length };
    if (this.loaded && covers(have, this.total, start, end)) return;
    this.#wanted = windowFor(start, end);
    void this.refresh();
  }

  /** Narrows the list: starts again from its top. */
  setFilter(filter: F): void {
    this.filter = filter;
    this.#visible = { start: 0, end: 0 };
    this.#wanted = windowFor(0, 0);
    void this.refresh();
  }

  /** Refetches the wanted window; calls made while one runs coalesce into one more. */
  refresh(): Promise<void> {
    if (this.#inflight) {
      this.#stale = true;
      return this.#inflight;
    }
    this.#inflight = this.#fetchUntilFresh().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #fetchUntilFresh(): Promise<void> {
    do {
      this.#stale = false;
      const filter = this.filter;
      try {
        const page = await this.#fetch(filter, this.#wanted);
        if (filter !== this.filter) {
          this.#stale = true;
          continue;
        }
        this.total = Math.max(0, page.total - this.#hiddenIn(page.rows));
        this.offset = page.offset;
        this.rows = this.#hidden.size ? page.rows.filter((r) => !this.#hidden.has(r.id)) : page.rows;
        if (!this.loaded) this.#markPainted();
        this.loaded = true;
        // A window past the end (the list shrank under the scroll position): go back.
        if (page.rows.length === 0 && page.total > 0 && page.offset >= page.total) {
          this.#wanted = windowFor(Math.max(0, page.total - (this.#visible.end - this.#visible.start)), page.total);
          this.#stale = true;
        }
      } catch (error) {
        this.#report(error as ErrorPayload);
        return;
      }
    } while (this.#stale);
  }

  /** The first window is on screen once the next frame is drawn (the benchmark reads it). */
  #markPainted(): void {
    const name = this.#name;
    if (!name || typeof requestAnimationFrame === 'undefined' || typeof performance === 'undefined') return;
    requestAnimationFrame(() => setTimeout(() => performance.mark(`${name}-painted`), 0));
  }

  #hiddenIn(rows: readonly T[]): number {
    if (!this.#hidden.size) return 0;
    return rows.reduce((n, r) => n + (this.#hidden.has(r.id) ? 1 : 0), 0);
  }

  /** Forgets the list (on sign-out, so another account never sees it). */
  clear(): void {
    this.rows = [];
    this.total = 0;
    this.offset = 0;
    this.loaded = false;
    this.filter = this.#initial;
    this.#hidden.clear();
  }

  /** Shows a saved row at once where it is (an edit); a new row waits for the refetch. */
  upsert(item: T): void {
    const i = this.rows.findIndex((r) => r.id === item.id);
    if (i < 0) return;
    const next = [...this.rows];
    next[i] = item;
    this.rows = next;
  }

  /** Shows what a create or update returned, then refetches the window for its place. */
  async save(write: Promise<T>): Promise<T> {
    const item = await write;
    this.upsert(item);
    await this.refresh();
    return item;
  }

  /** Hides row `id` at once (a delete, or a delete waiting for its undo time). */
  hide(id: string): void {
    this.#hidden.add(id);
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => r.id !== id);
    if (this.rows.length < before) this.total = Math.max(0, this.total - 1);
  }

  /** Shows a hidden row again (undo). */
  unhide(id: string): void {
    if (this.#hidden.delete(id)) void this.refresh();
  }

  /**
   * Takes the row out of the list at once, then runs `send` (the delete command). If that
   * fails, the error is reported and the refetch that follows brings the row back.
   */
  async remove(id: string, send: () => Promise<unknown>): Promise<void> {
    this.hide(id);
    try {
      await send();
    } catch (error) {
      this.#report(error as ErrorPayload);
    } finally {
      this.#hidden.delete(id);
      void this.refresh();
    }
  }
}
