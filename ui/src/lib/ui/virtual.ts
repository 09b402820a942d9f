/** Windowing and keyboard-movement maths for fixed-height lists. */

/** Item indices to render: `start` inclusive, `end` exclusive. */
export type Range = { start: number; end: number };

/** Rows rendered past the top (`before`) and the bottom (`after`) edge of the viewport. */
export type Overscan = { before: number; after: number };

/** Which way the list is being scrolled; null once it has rested. */
export type ScrollDirection = 'up' | 'down' | null;

/**
 * The overscan for `rows` past each edge: while the list is being scrolled, `rows` ahead
 * and one behind (the rows behind are leaving the view, and building them would only
 * lengthen each step and each window that lands); at rest, `rows` on both sides.
 */
export function overscanFor(rows: number, direction: ScrollDirection): Overscan {
  const behind = Math.min(rows, 1);
  if (direction === 'down') return { before: behind, after: rows };
  if (direction === 'up') return { before: rows, after: behind };
  return { before: rows, after: rows };
}

export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  itemHeight: number,
  count: number,
  overscan: number | Overscan,
): Range {
  if (count === 0 || itemHeight <= 0) return { start: 0, end: 0 };
  const { before, after } = typeof overscan === 'number' ? { before: overscan, after: overscan } : overscan;
  const first = Math.floor(Math.max(0, scrollTop) / itemHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + viewportHeight) / itemHeight);
  return {
    start: Math.max(0, Math.min(first, count - 1) - before),
    end: Math.min(count, last + after),
  };
}

/**
 * Gives each rendered row a slot, the key its DOM is built under: a row still shown keeps
 * its slot (its element, and the focus in it, follow the row), and a new row takes a slot
 * freed by one that left. Scrolling then updates rows in place instead of building new
 * ones. `keys` are the rows' keys in order, each once.
 */
export function assignSlots(previous: ReadonlyMap<string, number>, keys: readonly string[]): Map<string, number> {
  const next = new Map<string, number>();
  const taken = new Set<number>();
  for (const key of keys) {
    const slot = previous.get(key);
    if (slot !== undefined) {
      next.set(key, slot);
      taken.add(slot);
    }
  }
  const free: number[] = [];
  let fresh = 0;
  for (const slot of previous.values()) {
    if (!taken.has(slot)) free.push(slot);
    fresh = Math.max(fresh, slot + 1);
  }
  free.sort((a, b) => b - a); // pop() hands out the lowest first
  for (const key of keys) {
    if (!next.has(key)) next.set(key, free.length > 0 ? free.pop()! : fresh++);
  }
  return next;
}

/** The scrollTop that brings item `index` fully into view, or null if it already is. */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  itemHeight: number,
): number | null {
  const top = index * itemHeight;
  const bottom = top + itemHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return bottom - viewportHeight;
  return null;
}

/** Where a navigation key moves the active index, or null if the key doesn't move it. */
export function moveIndex(key: string, current: number, count: number, pageSize: number): number | null {
  if (count === 0) return null;
  const last = count - 1;
  const from = Math.min(Math.max(current, 0), last);
  switch (key) {
    case 'ArrowDown':
      return current < 0 ? 0 : Math.min(from + 1, last);
    case 'ArrowUp':
      return Math.max(from - 1, 0);
    case 'PageDown':
      return Math.min(from + Math.max(1, pageSize), last);
    case 'PageUp':
      return Math.max(from - Math.max(1, pageSize), 0);
    case 'Home':
      return 0;
    case 'End':
      return last;
    default:
      return null;
  }
}
