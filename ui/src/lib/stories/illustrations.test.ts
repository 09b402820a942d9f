import { describe, expect, it } from 'vitest';
import { illustrationAt, inOrder } from './illustrations';

const untimed = (n: number) => Array.from({ length: n }, (_, i) => ({ timestamp: 0, display_order: i }));

describe('illustrationAt', () => {
  it('has nothing to show without illustrations', () => {
    expect(illustrationAt([], 10, 100)).toBe(-1);
  });

  it('shows the first before the narration starts or without one', () => {
    expect(illustrationAt(untimed(4), 0, 100)).toBe(0);
    expect(illustrationAt(untimed(4), 50, null)).toBe(0);
  });

  it('shows illustration i of n for the i-th share of the duration', () => {
    const items = untimed(4);
    expect(illustrationAt(items, 24.9, 100)).toBe(0);
    expect(illustrationAt(items, 25, 100)).toBe(1);
    expect(illustrationAt(items, 60, 100)).toBe(2);
    expect(illustrationAt(items, 99, 100)).toBe(3);
    expect(illustrationAt(items, 100, 100)).toBe(3);
    expect(illustrationAt(items, 140, 100)).toBe(3);
  });

  it('follows the illustrations’ own start times when they have them', () => {
    const items = [
      { timestamp: 0, display_order: 0 },
      { timestamp: 10, display_order: 1 },
      { timestamp: 70, display_order: 2 },
    ];
    expect(illustrationAt(items, 9, 100)).toBe(0);
    expect(illustrationAt(items, 10, 100)).toBe(1);
    expect(illustrationAt(items, 69, 100)).toBe(1);
    expect(illustrationAt(items, 80, 100)).toBe(2);
  });

  it('orders by display order', () => {
    const sorted = inOrder([
      { timestamp: 0, display_order: 2 },
      { timestamp: 0, display_order: 0 },
      { timestamp: 0, display_order: 1 },
    ]);
    expect(sorted.map((i) => i.display_order)).toEqual([0, 1, 2]);
  });
});
