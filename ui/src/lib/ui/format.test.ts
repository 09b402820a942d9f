import { describe, expect, it } from 'vitest';
import { avatarHue, charCount, initial, plural, relativeTime } from './format';

const NOW = new Date('2025-03-01T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

describe('counts', () => {
  it('writes numbers with their noun', () => {
    expect(plural(1, 'hero', 'heroes')).toBe('1 hero');
    expect(plural(10000, 'hero', 'heroes')).toBe('10,000 heroes');
  });

  it('counts characters the way the core does', () => {
    expect(charCount('héllo')).toBe(5);
    expect(charCount('🦊🦉')).toBe(2);
  });
});

describe('relativeTime', () => {
  it.each([
    [10, 'just now'],
    [-10, 'in a moment'],
    [5 * 60, '5 minutes ago'],
    [-2 * 60, 'in 2 minutes'],
    [3 * 3600, '3 hours ago'],
    [26 * 3600, 'yesterday'],
    [3 * 86400, '3 days ago'],
  ])('%i s ago reads %j', (seconds, text) => {
    expect(relativeTime(ago(seconds), NOW, 'en')).toBe(text);
  });

  it('gives a date after a week, and nothing for a bad timestamp', () => {
    expect(relativeTime('2025-01-15T12:00:00Z', NOW, 'en')).toBe('Jan 15, 2025');
    expect(relativeTime('not a date', NOW, 'en')).toBe('');
  });
});

describe('avatars', () => {
  it('uses the first letter, as a person sees it', () => {
    expect(initial('luna')).toBe('L');
    expect(initial('  élodie')).toBe('É');
    expect(initial('👩‍🚀 Astro')).toBe('👩‍🚀');
    expect(initial('   ')).toBe('?');
  });

  it('gives each id a stable hue, spread over the wheel', () => {
    const id = '0190a5c4-7b7e-7000-8000-000000000001';
    expect(avatarHue(id)).toBe(avatarHue(id));
    const hues = Array.from({ length: 36 }, (_, i) => avatarHue(`0190a5c4-7b7e-7000-8000-${String(i).padStart(12, '0')}`));
    for (const hue of hues) expect(hue).toBeGreaterThanOrEqual(0);
    for (const hue of hues) expect(hue).toBeLessThan(360);
    // Ids differing in one character must not collapse onto a couple of colours.
    expect(new Set(hues.map((h) => Math.floor(h / 30))).size).toBeGreaterThan(6);
  });
});
