import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatBytes, nearestInterval, STRATEGIES, STRATEGY_ORDER } from './settings';
import { applyTheme, savedTheme } from './theme';

describe('applyTheme', () => {
  const root = () => ({ dataset: {} as DOMStringMap }) as HTMLElement;

  afterEach(() => vi.unstubAllGlobals());

  it('sets light and dark, and removes the override for system', () => {
    const el = root();
    applyTheme('dark', el);
    expect(el.dataset.theme).toBe('dark');
    applyTheme('light', el);
    expect(el.dataset.theme).toBe('light');
    applyTheme('system', el);
    expect('theme' in el.dataset).toBe(false);
  });

  it('remembers the theme on this device for the next start', () => {
    const store = new Map<string, string>();
    vi.stubGlobal('localStorage', {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => store.set(k, v),
    });
    expect(savedTheme()).toBeNull();
    applyTheme('dark', root());
    expect(savedTheme()).toBe('dark');
    store.set('infinite-stories.theme', 'neon');
    expect(savedTheme()).toBeNull();
  });

  it('works without storage', () => {
    vi.stubGlobal('localStorage', undefined);
    expect(() => applyTheme('dark', root())).not.toThrow();
    expect(savedTheme()).toBeNull();
  });
});

describe('settings helpers', () => {
  it('formats bytes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(412 * 1024 * 1024)).toBe('412 MB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe(`${(1.5).toLocaleString()} GB`);
  });

  it('snaps an interval to the closest option', () => {
    expect(nearestInterval(900)).toBe(900);
    expect(nearestInterval(1000)).toBe(900);
    expect(nearestInterval(10 * 3600)).toBe(4 * 3600);
  });

  it('explains every strategy', () => {
    expect(STRATEGY_ORDER).toHaveLength(Object.keys(STRATEGIES).length);
    for (const s of STRATEGY_ORDER) expect(STRATEGIES[s].explain.length).toBeGreaterThan(20);
  });
});
