/** Pull-to-refresh maths: rubber-banding and the wheel-overscroll gesture. */

/** Distance (px, after resistance) past which releasing triggers a refresh. */
export const PULL_THRESHOLD = 72;
/** The indicator never travels further than this. */
export const PULL_MAX = 128;
/** Wheel events further apart than this (ms) belong to separate gestures. */
export const WHEEL_GESTURE_GAP = 180;

/** Rubber-band: how far the content moves for a raw drag of `raw` px. */
export function resist(raw: number, max: number = PULL_MAX): number {
  if (raw <= 0) return 0;
  return max * (1 - Math.exp(-raw / max));
}

export type PullPhase = 'idle' | 'pulling' | 'armed' | 'refreshing';

export function pullPhase(distance: number, refreshing: boolean): PullPhase {
  if (refreshing) return 'refreshing';
  if (distance <= 0) return 'idle';
  return distance >= PULL_THRESHOLD ? 'armed' : 'pulling';
}

/** A wheel delta in pixels, whatever unit the browser reported it in. */
export function wheelPixels(deltaY: number, deltaMode: number): number {
  if (deltaMode === 1) return deltaY * 16;
  if (deltaMode === 2) return deltaY * 400;
  return deltaY;
}

/**
 * Turns upward wheel scrolling at the top of a list into a raw pull distance. Only a gesture
 * that *starts* at the top pulls, so the momentum of scrolling up to the top never does.
 */
export class WheelPull {
  #raw = 0;
  #lastAt = Number.NEGATIVE_INFINITY;
  #allowed = false;

  /** Feeds one wheel event (`deltaY` in px, negative = up); returns the raw pull distance. */
  wheel(deltaY: number, atTop: boolean, time: number): number {
    if (time - this.#lastAt > WHEEL_GESTURE_GAP) {
      this.#allowed = atTop;
      this.#raw = 0;
    }
    this.#lastAt = time;
    if (!this.#allowed || !atTop) {
      this.#raw = 0;
      return 0;
    }
    this.#raw = Math.max(0, this.#raw - deltaY);
    return this.#raw;
  }

  /** Ends the current gesture (called once the wheel has been quiet for a gap). */
  end(): void {
    this.#raw = 0;
    this.#lastAt = Number.NEGATIVE_INFINITY;
  }
}
