/**
 * A list too long to load whole (10,000 heroes or stories): the core filters, sorts and
 * counts it in SQLite, and this store holds only the window of rows around what is on
 * screen, and the total. Scrolling asks for the rows in view (`show`); a change in the
 * core refetches that window only (`refresh`); a save or delete shows at once.
 */
import { tick } from 'svelte';
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
  /** Where a new row goes, so a create shows before the refetch (without it, it waits). */
  place?: Placement<T, F>;
};

/** The list's filter and order, as the core applies them, for rows it has not sent yet. */
export type Placement<T, F> = {
  /** Whether `item` is in the list `filter` shows; false when unsure (the refetch decides). */
  matches(item: T, filter: F): boolean;
  /** Whether `a` comes before `b` in the list. */
  before(a: T, b: T): boolean;
};

/**
 * An RFC 3339 UTC time as text that sorts as the time does: the fraction padded to
 * nanoseconds (the core writes 0 to 9 digits, and "…01Z" would sort after "…01.5Z").
 */
export function instantKey(iso: string): string {
  const m = /^(.*:\d\d)(?:\.(\d{1,9}))?Z$/.exec(iso);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}` : iso;
}

/** SQLite's `NOCASE`: ASCII letters folded, everything else compared as is. */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * Text compared as SQLite compares it: by UTF-8 bytes, which is code point order. (`<` on
 * JavaScript strings compares UTF-16 units, which puts an emoji before U+E000..U+FFFF.)
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit's rank in code point order: surrogates (U+10000 and up) after the BMP. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** Whitespace as Rust's `str::trim` has it (Unicode White_Space: U+0085 yes, U+FEFF no). */
const EDGE_SPACE = /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** A filter's text as the core reads it: trimmed like Rust's `str::trim`. */
export function trimText(text: string | null | undefined): string {
  return (text ?? '').replace(EDGE_SPACE, '');
}

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

/**
 * `next`, with each row that did not change taken from `previous` (the same object), so a
 * refetched window re-renders only the rows that changed, not all of them.
 */
export function keepUnchanged<T extends { id: string }>(previous: readonly T[], next: T[]): T[] {
  if (previous.length === 0) return next;
  const before = new Map(previous.map((r) => [r.id, r]));
  let kept = 0;
  const out = next.map((row) => {
    const old = before.get(row.id);
    if (old !== undefined && JSON.stringify(old) === JSON.stringify(row)) {
      kept += 1;
      return old;
    }
    return row;
  });
  return kept === 0 ? next : out;
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
  readonly #place: Placement<T, F> | undefined;
  /** The window wanted: what the list shows, with margins. */
  #wanted: Window = { offset: 0, limit: MARGIN * 2 };
  #visible = { start: 0, end: 0 };
  /** Rows on their way out (deleted): kept out of windows fetched meanwhile. */
  #hidden = new Set<string>();
  #inflight: Promise<void> | null = null;
  #stale = false;
  /** Rows shown from a command's answer so far: a window fetched before one is outdated. */
  #local = 0;
  /** Local writes on their way (see `write`). */
  #writing = 0;
  /** Refreshes asked for while a write was on its way: settled by the refetch after it. */
  #afterWrite: { done: Promise<void>; settle: () => void } | null = null;

  constructor({ fetch, report, filter, name, place }: PagedStoreOptions<T, F>) {
    this.#name = name;
    this.#place = place;
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
    if (this.#writing > 0) {
      if (!this.#afterWrite) {
        let settle!: () => void;
        const done = new Promise<void>((resolve) => (settle = resolve));
        this.#afterWrite = { done, settle };
      }
      return this.#afterWrite.done;
    }
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
      const local = this.#local;
      try {
        if (!this.loaded) this.#markFirstAsk();
        const page = await this.#fetch(filter, this.#wanted);
        this.#markAnswer();
        // The filter changed, or a saved row was shown meanwhile (this window may lack it).
        if (filter !== this.filter || local !== this.#local) {
          this.#stale = true;
          continue;
        }
        this.total = Math.max(0, page.total - this.#hiddenIn(page.rows));
        this.offset = page.offset;
        const rows = this.#hidden.size ? page.rows.filter((r) => !this.#hidden.has(r.id)) : page.rows;
        this.rows = keepUnchanged(this.rows, rows);
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

  /**
   * Marks the first window's way to the screen (the launch benchmark reads them):
   * `<name>-dom` once its rows are in the DOM, `-laid-out` after the layout that follows,
   * `-painted` once the next frame is drawn.
   */
  #markPainted(): void {
    const name = this.#name;
    if (!name || typeof requestAnimationFrame === 'undefined' || typeof performance === 'undefined') return;
    void tick().then(() => {
      performance.mark(`${name}-dom`);
      void document.body.offsetHeight;
      performance.mark(`${name}-laid-out`);
      requestAnimationFrame(() => setTimeout(() => performance.mark(`${name}-painted`), 0));
    });
  }

  /** Marks when the first window was asked for (`<name>-asked`: the launch benchmark reads it). */
  #markFirstAsk(): void {
    if (!this.#name || typeof performance === 'undefined') return;
    if (performance.getEntriesByName(`${this.#name}-asked`).length === 0) performance.mark(`${this.#name}-asked`);
  }

  /**
   * Marks when a window's answer arrived: `<name>-answered` for the first, `<name>-window`
   * for the latest (the benchmark times each to its rows laid out).
   */
  #markAnswer(): void {
    if (!this.#name || typeof performance === 'undefined') return;
    const mark = `${this.#name}-window`;
    performance.clearMarks(mark);
    performance.mark(mark);
    if (performance.getEntriesByName(`${this.#name}-answered`).length === 0) performance.mark(`${this.#name}-answered`);
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
    this.#local += 1;
  }

  /**
   * Shows a row the core just created where the list's order puts it, before any refetch:
   * inside the window, or counted above or below it. False when the store cannot tell
   * (no placement, or a filter it leaves to the core): the refetch shows it then.
   */
  insert(item: T): boolean {
    const place = this.#place;
    if (!place || !this.loaded || !place.matches(item, this.filter)) return false;
    if (this.rows.some((r) => r.id === item.id)) {
      this.upsert(item);
      return true;
    }
    const i = this.rows.findIndex((r) => place.before(item, r));
    const end = this.offset + this.rows.length;
    if (i === 0 && this.offset > 0) {
      this.offset += 1; // above the window: the rows in it move down one place
    } else if (i < 0 && end < this.total) {
      // below the window: only the count changes
    } else {
      const at = i < 0 ? this.rows.length : i;
      this.rows = [...this.rows.slice(0, at), item, ...this.rows.slice(at)];
    }
    this.total += 1;
    this.#local += 1;
    return true;
  }

  /**
   * Waits for a local write (a command already sent), shows its answer (`show`), then
   * refetches the window once, in the background. A refresh asked for meanwhile (the
   * core's `data_changed` for this very write arrives before its answer) waits for that
   * refetch instead of running beside the write: its window would be out of date as soon
   * as the answer is shown, and fetching and applying it would hold the answer up.
   */
  async write<R>(sent: Promise<R>, show: (answer: R) => void): Promise<R> {
    this.#writing += 1;
    try {
      const answer = await sent;
      show(answer);
      return answer;
    } finally {
      this.#writing -= 1;
      if (this.#writing === 0) {
        const waiting = this.#afterWrite;
        this.#afterWrite = null;
        const refreshed = this.refresh();
        if (waiting) void refreshed.then(waiting.settle);
      }
    }
  }

  /**
   * Shows what an update returned at once (where the row is; a row outside the window
   * stays where it is), then refetches the window in the background (its place may have
   * changed, and rows changed elsewhere).
   */
  save(sent: Promise<T>): Promise<T> {
    return this.write(sent, (item) => this.upsert(item));
  }

  /** Shows the row a create returned in its place at once, then refetches the window. */
  saveNew(sent: Promise<T>): Promise<T> {
    return this.write(sent, (item) => void this.insert(item));
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
