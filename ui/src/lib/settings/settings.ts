/** Settings' choices and their words. */
import { formatCount } from '$lib/ui/format';
import type { CacheKind } from '$lib/bindings/CacheKind';
import type { ConflictStrategy } from '$lib/bindings/ConflictStrategy';
import type { EntityKind } from '$lib/bindings/EntityKind';

export const INTERVALS: readonly { seconds: number; label: string }[] = [
  { seconds: 5 * 60, label: 'Every 5 minutes' },
  { seconds: 15 * 60, label: 'Every 15 minutes' },
  { seconds: 30 * 60, label: 'Every 30 minutes' },
  { seconds: 60 * 60, label: 'Every hour' },
  { seconds: 4 * 60 * 60, label: 'Every 4 hours' },
];

const MB = 1024 * 1024;
export const CAPS: readonly { bytes: number; label: string }[] = [
  { bytes: 250 * MB, label: '250 MB' },
  { bytes: 500 * MB, label: '500 MB' },
  { bytes: 1024 * MB, label: '1 GB' },
  { bytes: 2048 * MB, label: '2 GB' },
  { bytes: 5120 * MB, label: '5 GB' },
];

export const STRATEGY_ENTITIES: readonly { entity: EntityKind; label: string }[] = [
  { entity: 'hero', label: 'Heroes' },
  { entity: 'story', label: 'Stories' },
  { entity: 'custom_event', label: 'Custom events' },
  { entity: 'user_profile', label: 'Profile' },
];

export const STRATEGIES: Record<ConflictStrategy, { label: string; explain: string }> = {
  merge: {
    label: 'Merge field by field',
    explain: 'Keeps both devices’ edits when they touched different fields; asks only when they changed the same one.',
  },
  user_prompt: { label: 'Ask me', explain: 'Shows both versions side by side and lets you choose every time.' },
  last_write_wins: { label: 'Last write wins', explain: 'The most recent change is kept, whichever device made it.' },
  server_wins: { label: 'Server wins', explain: 'The version already on the server is kept; this device’s edit is set aside.' },
  local_wins: { label: 'This device wins', explain: 'This device’s edit replaces the server’s version.' },
};
export const STRATEGY_ORDER: readonly ConflictStrategy[] = ['merge', 'user_prompt', 'last_write_wins', 'server_wins', 'local_wins'];

export const CACHE_KINDS: Record<CacheKind, { label: string; explain: string }> = {
  avatar: { label: 'Hero pictures', explain: 'Kept as long as the hero exists.' },
  audio: { label: 'Narrations', explain: 'Kept 30 days after the last listen; favourites stay.' },
  illustration: { label: 'Illustrations', explain: 'Kept 14 days after last seen.' },
};

/** Bytes for people: "412 MB", "1.2 GB", "980 KB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${formatCount(bytes)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toLocaleString(undefined, { maximumFractionDigits: value < 10 ? 1 : 0 })} ${units[unit]}`;
}

/** The interval option closest to what the core has (it may hold any number of seconds). */
export function nearestInterval(seconds: number): number {
  return INTERVALS.reduce((best, o) => (Math.abs(o.seconds - seconds) < Math.abs(best - seconds) ? o.seconds : best), INTERVALS[0].seconds);
}
