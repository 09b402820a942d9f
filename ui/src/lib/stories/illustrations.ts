/** Which illustration the reader shows while the narration plays. */

export type Timed = { timestamp: number; display_order: number };

/** Illustrations in the order the story shows them. */
export function inOrder<T extends Timed>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.display_order - b.display_order || a.timestamp - b.timestamp);
}

/**
 * The index (into `items`, already in order) of the illustration for `position` seconds
 * into the narration. When the illustrations carry their own start times (increasing, not
 * all zero), the last one that has started is shown; otherwise illustration i of n covers
 * the i-th share of `duration`. Before any narration (or without one) the first shows;
 * -1 only when there is none.
 */
export function illustrationAt(items: readonly Timed[], position: number, duration: number | null): number {
  const n = items.length;
  if (n === 0) return -1;
  if (n === 1 || !(position > 0)) return 0;
  if (hasTimings(items)) {
    let shown = 0;
    for (let i = 0; i < n; i++) if (items[i].timestamp <= position) shown = i;
    return shown;
  }
  if (!duration || !(duration > 0)) return 0;
  return Math.min(n - 1, Math.max(0, Math.floor((position / duration) * n)));
}

/** Whether the start times say something: increasing, and not all the same. */
function hasTimings(items: readonly Timed[]): boolean {
  let distinct = false;
  for (let i = 1; i < items.length; i++) {
    if (items[i].timestamp < items[i - 1].timestamp) return false;
    if (items[i].timestamp !== items[i - 1].timestamp) distinct = true;
  }
  return distinct;
}
