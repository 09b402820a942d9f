import { describe, expect, it } from 'vitest';
import { modKey, shortcutFor } from './shortcuts';

const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});

describe('shortcutFor', () => {
  it('syncs on Ctrl+R, Cmd+R and F5', () => {
    expect(shortcutFor(key('r', { ctrlKey: true }))).toBe('sync');
    expect(shortcutFor(key('R', { metaKey: true }))).toBe('sync');
    expect(shortcutFor(key('F5'))).toBe('sync');
  });

  it('makes a new item on Ctrl+N and Cmd+N', () => {
    expect(shortcutFor(key('n', { ctrlKey: true }))).toBe('new');
    expect(shortcutFor(key('n', { metaKey: true }))).toBe('new');
  });

  it('switches screens, searches, opens the Sync panel and the help', () => {
    expect(shortcutFor(key('2', { ctrlKey: true }))).toBe('screen-2');
    expect(shortcutFor(key('6', { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(key('f', { ctrlKey: true }))).toBe('search');
    expect(shortcutFor(key('j', { metaKey: true }))).toBe('sync-panel');
    expect(shortcutFor(key('F1'))).toBe('help');
    expect(shortcutFor(key('/', { ctrlKey: true }))).toBe('help');
  });

  it('leaves plain typing and other chords alone', () => {
    expect(shortcutFor(key('r'))).toBeNull();
    expect(shortcutFor(key('n'))).toBeNull();
    expect(shortcutFor(key('r', { ctrlKey: true, altKey: true }))).toBeNull();
    expect(shortcutFor(key('s', { ctrlKey: true }))).toBeNull();
  });
});

describe('modKey', () => {
  it('writes shortcuts the platform way', () => {
    expect(modKey('R', true)).toBe('⌘R');
    expect(modKey('R', false)).toBe('Ctrl+R');
  });
});
