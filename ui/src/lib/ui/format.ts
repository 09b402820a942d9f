/** Pure presentation helpers: counts, relative times and avatars. */

/** Length in Unicode code points, which is how the core counts characters. */
export function charCount(text: string): number {
  return [...text].length;
}

/**
 * Whole numbers with the user's digit grouping ("10,004"). A session without a locale
 * (LANG unset: the POSIX locale, which groups nothing) gets English grouping rather than
 * "10004".
 */
const COUNT_FORMAT: Intl.NumberFormat = (() => {
  const wanted = typeof navigator !== 'undefined' ? navigator.languages?.[0] || navigator.language : undefined;
  try {
    const f = new Intl.NumberFormat(wanted);
    return /posix/i.test(f.resolvedOptions().locale) || f.format(1000) === '1000' ? new Intl.NumberFormat('en-US') : f;
  } catch {
    return new Intl.NumberFormat('en-US');
  }
})();

export function formatCount(n: number): string {
  return COUNT_FORMAT.format(n);
}

export function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
];

/** "just now", "5 minutes ago", "in 2 hours", then a date after a week. */
export function relativeTime(iso: string, now: Date = new Date(), locale?: string): string {
  const then = new Date(iso);
  let value = (then.getTime() - now.getTime()) / 1000;
  if (Number.isNaN(value)) return '';
  if (Math.abs(value) < 45) return value < 0 ? 'just now' : 'in a moment';
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(value) < size) return format.format(Math.round(value), unit);
    value /= size;
  }
  return then.toLocaleDateString(locale, { dateStyle: 'medium' });
}

/** The first letter of a name as a person would see it (emoji and accents included). */
export function initial(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) return '?';
  const [first] = new Intl.Segmenter().segment(trimmed);
  return first.segment.toLocaleUpperCase();
}

/** A stable hue (0-359) for an id, so a hero keeps its colour everywhere. */
export function avatarHue(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  // Final avalanche (murmur3 fmix32): ids that differ in one character get unrelated hues.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 360;
}
