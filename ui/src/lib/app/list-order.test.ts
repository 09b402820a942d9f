// The lists' placements (what the UI does with a row it has just saved, before the core's
// next answer) checked against the core itself: `list-order.fixture.json` holds rows saved
// through the real core and its lists' answers under many filters, written by
// `cargo test-all --test list_order` (which fails when the file is stale).
import { describe, expect, it } from 'vitest';
import type { HeroFilter } from '$lib/bindings/HeroFilter';
import type { HeroView } from '$lib/bindings/HeroView';
import type { StoryFilter } from '$lib/bindings/StoryFilter';
import type { StorySummary } from '$lib/bindings/StorySummary';
import { heroPlacement } from '$lib/heroes/hero';
import { storyPlacement } from '$lib/stories/story';
import type { Placement } from '$lib/ui/paged-store.svelte';
import fixture from './list-order.fixture.json';

type Case<F> = { filter: F; ids: string[] };
type List<T, F> = { rows: T[]; cases: Case<F>[] };

/**
 * A placement may leave a row to the core (say it does not match when unsure), but it
 * never claims a row the core does not list; where it does place rows, they are in the
 * core's order. Where `complete` holds for a filter, it claims every row the core lists.
 */
function check<T extends { id: string }, F>(list: List<T, F>, place: Placement<T, F>, complete: (f: F) => boolean) {
  for (const { filter, ids } of list.cases) {
    const claimed = list.rows.filter((row) => place.matches(row, filter));
    const listed = new Set(ids);
    const stray = claimed.filter((row) => !listed.has(row.id));
    expect(stray.map((r) => r.id), `claimed but not listed for ${JSON.stringify(filter)}`).toEqual([]);
    const sorted = [...claimed].sort((a, b) => (place.before(a, b) ? -1 : place.before(b, a) ? 1 : 0));
    const coreOrder = ids.filter((id) => claimed.some((row) => row.id === id));
    expect(sorted.map((r) => r.id), `order for ${JSON.stringify(filter)}`).toEqual(coreOrder);
    if (complete(filter)) expect(claimed.length, `every listed row for ${JSON.stringify(filter)}`).toBe(ids.length);
  }
}

describe('the lists’ placements agree with the core', () => {
  it('places heroes as heroes_page lists them, under every filter', () => {
    const heroes = fixture.heroes as unknown as List<HeroView, HeroFilter>;
    expect(heroes.rows.length).toBeGreaterThan(50);
    check(heroes, heroPlacement, () => true);
  });

  it('places stories as stories_page lists them, leaving text searches to the core', () => {
    const stories = fixture.stories as unknown as List<StorySummary, StoryFilter>;
    expect(stories.rows.length).toBeGreaterThan(50);
    check(stories, storyPlacement, (f) => !f.text?.trim());
  });

  it('orders a pair the same way whichever comes first', () => {
    const rows = fixture.heroes.rows as unknown as HeroView[];
    for (const a of rows) for (const b of rows) if (a !== b) expect(heroPlacement.before(a, b)).toBe(!heroPlacement.before(b, a));
  });
});
