import { describe, expect, it } from 'vitest';
import { moveIndex, scrollToReveal, visibleRange } from './virtual';

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
