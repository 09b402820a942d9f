/** The hero form's model: drafts, validation by the generated rules, trait helpers. */
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroTrait } from '$lib/bindings/HeroTrait';
import type { HeroView } from '$lib/bindings/HeroView';
import { HERO_TRAITS, RULES } from '$lib/bindings/rules';
import type { HeroFilter } from '$lib/bindings/HeroFilter';
import { checkFields, type Checked } from '$lib/ui/form/rules';
import { compareText, foldAscii, trimText, type Placement } from '$lib/ui/paged-store.svelte';

/** What the form edits: like `HeroInput`, but the age field may be empty. */
export type HeroDraft = Omit<HeroInput, 'age'> & { age: number | null };

export type HeroField = keyof HeroInput;

/** The fields the hero form shows, in no particular order. */
export const HERO_FIELDS = Object.keys(RULES.hero) as HeroField[];

export function emptyDraft(): HeroDraft {
  return { name: '', age: null, traits: [], appearance: '', special_ability: '' };
}

export function draftFrom(hero: HeroView): HeroDraft {
  return {
    name: hero.name,
    age: hero.age,
    traits: [...hero.traits],
    appearance: hero.appearance,
    special_ability: hero.special_ability,
  };
}

/** Adds or removes a trait, keeping the order in which traits were chosen. */
export function toggleTrait(traits: readonly HeroTrait[], trait: HeroTrait): HeroTrait[] {
  return traits.includes(trait) ? traits.filter((t) => t !== trait) : [...traits, trait];
}

/** Checks every rule at once and returns the trimmed input the core expects. */
export function validateHero(draft: HeroDraft): Checked<HeroInput, HeroField> {
  const errors = checkFields(RULES.hero, draft);
  if (Object.keys(errors).length > 0 || draft.age === null) return { ok: false, errors };
  return {
    ok: true,
    input: {
      name: draft.name.trim(),
      age: draft.age,
      traits: [...draft.traits],
      appearance: draft.appearance.trim(),
      special_ability: draft.special_ability.trim(),
    },
  };
}

export function traitLabel(trait: HeroTrait): string {
  return trait.charAt(0).toUpperCase() + trait.slice(1);
}

/** Each trait's colour on the wheel, spread evenly so chips side by side differ. */
export function traitHue(trait: HeroTrait): number {
  return HERO_TRAITS.indexOf(trait) * (360 / HERO_TRAITS.length);
}

/**
 * The hero list's filter and order as the core's `heroes_page` has them (`name LIKE`
 * the trimmed text, any ASCII case; `ORDER BY name COLLATE NOCASE, id`), so a new hero
 * shows in its place before the list is fetched again.
 */
export const heroPlacement: Placement<HeroView, HeroFilter> = {
  matches(hero, filter) {
    const text = trimText(filter.text);
    return !text || foldAscii(hero.name).includes(foldAscii(text));
  },
  before(a, b) {
    const order = compareText(foldAscii(a.name), foldAscii(b.name));
    return order < 0 || (order === 0 && a.id < b.id);
  },
};
