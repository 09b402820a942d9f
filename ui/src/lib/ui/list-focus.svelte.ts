/**
 * Keyboard focus in a long virtual list (a roving tabindex): which row is active, moving
 * it with the arrow, Page Up/Down, Home and End keys (scrolling it into view first, since
 * the row may not be rendered yet), and the keys a list gives its focused row. The active
 * row is followed by its id, so it stays active across refetches and rows inserted above
 * it; when it goes away, the row that takes its place becomes the active one.
 */
import { tick } from 'svelte';
import { moveIndex } from './virtual';

/** The rows, as a `PagedStore` has them. */
export type FocusRows<T> = { readonly total: number; at(index: number): T | undefined; indexOf(id: string): number };
/** The list on screen, as `VirtualList` is. */
export type FocusView = { reveal(index: number): void; pageSize(): number };
/** What a key does to the focused row (keys as `KeyboardEvent.key`, letters in lower case). */
export type RowKeys<T> = Record<string, (item: T, index: number) => void>;

export class ListFocus<T extends { id: string }> {
  #activeId = $state<string | null>(null);
  /** Where the active row was, so the next row takes over when it is deleted. */
  #lastIndex = $state(0);
  readonly #rows: () => FocusRows<T>;
  readonly #view: () => FocusView | undefined;
  readonly #element: (item: T) => HTMLElement | null | undefined;

  /**
   * `rows` and `view` are read when needed (props and bound components change);
   * `element` finds a row's element to focus.
   */
  constructor(rows: () => FocusRows<T>, view: () => FocusView | undefined, element: (item: T) => HTMLElement | null | undefined) {
    this.#rows = rows;
    this.#view = view;
    this.#element = element;
  }

  /** The row Tab reaches and the keys act on (-1: the list is empty). */
  readonly index = $derived.by(() => {
    const rows = this.#rows();
    const found = this.#activeId === null ? -1 : rows.indexOf(this.#activeId);
    return found >= 0 ? found : Math.min(this.#lastIndex, rows.total - 1);
  });

  /** Row `index` became active (it took focus, or a key moved to it). */
  activate(index: number): void {
    this.#activeId = this.#rows().at(index)?.id ?? null;
    this.#lastIndex = index;
  }

  /** The row at `index` is going away: the one that takes its place becomes active. */
  leaving(index: number): void {
    this.#lastIndex = index;
  }

  /** Moves keyboard focus to row `index`, scrolling it into view. */
  async focus(index: number): Promise<void> {
    const view = this.#view();
    if (!view) return;
    view.reveal(index);
    await tick();
    const item = this.#rows().at(index);
    if (!item) return;
    this.activate(index);
    await tick();
    this.#element(item)?.focus({ preventScroll: true });
  }

  /** Focuses the active row again (after a dialog closed, or the focused row went away). */
  refocus(): void {
    if (this.index >= 0) void this.focus(this.index);
  }

  /**
   * The list's keydown: navigation keys move the active row; on a focused row, `keys`
   * (Enter, Delete, letters…) act on it. Keys with Ctrl, Alt or Meta are left alone.
   */
  keydown(event: KeyboardEvent, keys: RowKeys<T>): void {
    const view = this.#view();
    if (!view || event.ctrlKey || event.metaKey || event.altKey) return;
    const rows = this.#rows();
    const next = moveIndex(event.key, this.index, rows.total, view.pageSize());
    if (next !== null) {
      event.preventDefault();
      void this.focus(next);
      return;
    }
    const onRow = (event.target as HTMLElement | null)?.matches?.('[role="listitem"]') ?? false;
    const item = rows.at(this.index);
    const action = keys[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (!onRow || !item || !action) return;
    event.preventDefault();
    action(item, this.index);
  }
}
