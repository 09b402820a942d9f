import { describe, expect, it } from 'vitest';
import { PULL_MAX, PULL_THRESHOLD, WHEEL_GESTURE_GAP, WheelPull, pullPhase, resist, wheelPixels } from './pull';

describe('resist', () => {
  it('follows the pointer closely at first, then ever more slowly, never past the max', () => {
    expect(resist(0)).toBe(0);
    expect(resist(-20)).toBe(0);
    expect(resist(10)).toBeGreaterThan(9);
    expect(resist(200) - resist(100)).toBeLessThan(resist(100));
    expect(resist(10_000)).toBeLessThanOrEqual(PULL_MAX);
  });

  it('can reach the threshold with a reasonable drag', () => {
    expect(resist(120)).toBeGreaterThanOrEqual(PULL_THRESHOLD);
    expect(resist(80)).toBeLessThan(PULL_THRESHOLD);
  });
});

describe('pullPhase', () => {
  it('names each stage of the gesture', () => {
    expect(pullPhase(0, false)).toBe('idle');
    expect(pullPhase(PULL_THRESHOLD - 1, false)).toBe('pulling');
    expect(pullPhase(PULL_THRESHOLD, false)).toBe('armed');
    expect(pullPhase(0, true)).toBe('refreshing');
  });
});

describe('wheelPixels', () => {
  it('converts line and page deltas', () => {
    expect(wheelPixels(-3, 1)).toBe(-48);
    expect(wheelPixels(1, 2)).toBe(400);
    expect(wheelPixels(-120, 0)).toBe(-120);
  });
});

describe('WheelPull', () => {
  it('turns upward wheeling at the top into pull, and downward wheeling back', () => {
    const pull = new WheelPull();
    expect(pull.wheel(-40, true, 0)).toBe(40);
    expect(pull.wheel(-40, true, 16)).toBe(80);
    expect(pull.wheel(30, true, 32)).toBe(50);
    expect(pull.wheel(100, true, 48)).toBe(0);
  });

  it('ignores a gesture that started below the top (momentum of scrolling up)', () => {
    const pull = new WheelPull();
    expect(pull.wheel(-40, false, 0)).toBe(0);
    expect(pull.wheel(-40, true, 16)).toBe(0);
    expect(pull.wheel(-40, true, 32)).toBe(0);
    // A new gesture after a pause at the top does pull.
    expect(pull.wheel(-40, true, 32 + WHEEL_GESTURE_GAP + 1)).toBe(40);
  });

  it('starts over after end()', () => {
    const pull = new WheelPull();
    pull.wheel(-40, true, 0);
    pull.end();
    expect(pull.wheel(-10, true, 10)).toBe(10);
  });

  it('drops the pull when the list scrolls away from the top', () => {
    const pull = new WheelPull();
    pull.wheel(-40, true, 0);
    expect(pull.wheel(-40, false, 10)).toBe(0);
  });
});
