import { describe, expect, it } from 'vitest';
import type { StorySummary } from '$lib/bindings/StorySummary';
import { storyPlacement } from './story';
import { NO_FILTER } from './store.svelte';

const story = (over: Partial<StorySummary>): StorySummary => ({ ...({} as StorySummary), hero_id: null, is_favorite: false, ...over });

describe('storyPlacement', () => {
  it('orders newest first, then by id, whatever the fraction digits', () => {
    const a = story({ id: 'a', created_at: '2026-11-30T10:00:01Z' });
    const b = story({ id: 'b', created_at: '2026-11-30T10:00:01.5Z' });
    const c = story({ id: 'c', created_at: '2026-11-30T10:00:01.500Z' });
    expect(storyPlacement.before(b, a)).toBe(true);
    expect(storyPlacement.before(a, b)).toBe(false);
    // Same instant: the larger id first, as `ORDER BY created_at DESC, id DESC`.
    expect(storyPlacement.before(c, b)).toBe(true);
  });
  it('matches the hero and favourites filters, and leaves a text search to the core', () => {
    const s = story({ hero_id: 'h1', is_favorite: true });
    expect(storyPlacement.matches(s, NO_FILTER)).toBe(true);
    expect(storyPlacement.matches(s, { ...NO_FILTER, hero_id: 'h1', favorites_only: true })).toBe(true);
    expect(storyPlacement.matches(s, { ...NO_FILTER, hero_id: 'h2' })).toBe(false);
    expect(storyPlacement.matches({ ...s, is_favorite: false }, { ...NO_FILTER, favorites_only: true })).toBe(false);
    expect(storyPlacement.matches(s, { ...NO_FILTER, text: 'moon' })).toBe(false);
    expect(storyPlacement.matches(s, { ...NO_FILTER, text: '  ' })).toBe(true);
  });
});
