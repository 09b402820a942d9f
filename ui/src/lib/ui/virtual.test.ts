import { describe, expect, it } from 'vitest';
import { assignSlots, moveIndex, overscanFor, scrollToReveal, visibleRange } from './virtual';

describe('overscanFor', () => {
  it('renders ahead of a scroll and one row behind it; both sides at rest', () => {
    expect(overscanFor(3, 'down')).toEqual({ before: 1, after: 3 });
    expect(overscanFor(3, 'up')).toEqual({ before: 3, after: 1 });
    expect(overscanFor(3, null)).toEqual({ before: 3, after: 3 });
    expect(overscanFor(0, 'down')).toEqual({ before: 0, after: 0 });
  });

  it('narrows the range on the side the list scrolls away from', () => {
    expect(visibleRange(8000, 400, 80, 10_000, overscanFor(3, 'down'))).toEqual({ start: 99, end: 108 });
    expect(visibleRange(8000, 400, 80, 10_000, overscanFor(3, 'up'))).toEqual({ start: 97, end: 106 });
  });
});

describe('visibleRange', () => {
  it('renders the rows in view plus overscan, clamped to the list', () => {
    expect(visibleRange(0, 400, 80, 10_000, 3)).toEqual({ start: 0, end: 8 });
    expect(visibleRange(8000, 400, 80, 10_000, 3)).toEqual({ start: 97, end: 108 });
    expect(visibleRange(799_600, 400, 80, 10_000, 3)).toEqual({ start: 9992, end: 10_000 });
  });

  it('stays small however long the list is', () => {
    const { start, end } = visibleRange(400_000, 700, 80, 10_000, 6);
    expect(end - start).toBeLessThanOrEqual(22);
  });

  it('copes with empty lists, overscroll and lists that shrank under the scroll position', () => {
    expect(visibleRange(0, 400, 80, 0, 3)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(-50, 400, 80, 5, 3)).toEqual({ start: 0, end: 5 });
    expect(visibleRange(10_000, 400, 80, 5, 3)).toEqual({ start: 1, end: 5 });
  });
});

describe('scrollToReveal', () => {
  it('scrolls only when the row is not fully visible', () => {
    expect(scrollToReveal(2, 0, 400, 80)).toBeNull();
    expect(scrollToReveal(10, 0, 400, 80)).toBe(480);
    expect(scrollToReveal(1, 400, 400, 80)).toBe(80);
  });
});

describe('moveIndex', () => {
  it.each([
    ['ArrowDown', 3, 4],
    ['ArrowDown', 9, 9],
    ['ArrowDown', -1, 0],
    ['ArrowUp', 3, 2],
    ['ArrowUp', 0, 0],
    ['PageDown', 3, 7],
    ['PageDown', 8, 9],
    ['PageUp', 5, 1],
    ['PageUp', 2, 0],
    ['Home', 5, 0],
    ['End', 5, 9],
  ])('%s from %i goes to %i', (key, from, to) => {
    expect(moveIndex(key, from, 10, 4)).toBe(to);
  });

  it('ignores other keys and empty lists', () => {
    expect(moveIndex('Enter', 3, 10, 4)).toBeNull();
    expect(moveIndex('ArrowDown', 0, 0, 4)).toBeNull();
  });
});

describe('assignSlots', () => {
  const slots = (m: Map<string, number>, keys: string[]) => keys.map((k) => m.get(k));

  it('keeps the slot of a row still shown, and gives a new row a freed one', () => {
    const first = assignSlots(new Map(), ['a', 'b', 'c']);
    expect(slots(first, ['a', 'b', 'c'])).toEqual([0, 1, 2]);
    // Scrolled by one: "a" left, "d" came; "b" and "c" keep their elements.
    const second = assignSlots(first, ['b', 'c', 'd']);
    expect(slots(second, ['b', 'c', 'd'])).toEqual([1, 2, 0]);
    // A row inserted above: every row keeps its slot, the new one gets a fresh slot.
    const third = assignSlots(second, ['x', 'b', 'c', 'd']);
    expect(slots(third, ['x', 'b', 'c', 'd'])).toEqual([3, 1, 2, 0]);
  });

  it('never gives two rows one slot, and reuses slots instead of growing', () => {
    let m = new Map<string, number>();
    for (let top = 0; top < 500; top += 7) {
      const keys = Array.from({ length: 20 }, (_, i) => `r${top + i}`);
      m = assignSlots(m, keys);
      expect(new Set(slots(m, keys)).size).toBe(20);
      expect(m.size).toBe(20);
      expect(Math.max(...m.values())).toBeLessThan(20);
    }
  });
});
