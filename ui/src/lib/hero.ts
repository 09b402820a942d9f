/** Hero rules shared with the core (crates/protocol/src/hero.rs) and the form model. */
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroTrait } from '$lib/bindings/HeroTrait';
import type { HeroView } from '$lib/bindings/HeroView';
import { charCount } from '$lib/format';

export const NAME_MAX = 100;
export const AGE_MIN = 1;
export const AGE_MAX = 18;
export const TRAITS_MIN = 1;
export const TRAITS_MAX = 5;
export const APPEARANCE_MAX = 500;
export const SPECIAL_ABILITY_MAX = 200;

export const HERO_TRAITS: readonly HeroTrait[] = [
  'brave',
  'kind',
  'curious',
  'funny',
  'clever',
  'creative',
  'adventurous',
  'gentle',
  'loyal',
  'honest',
  'patient',
  'cheerful',
];

/** What the form edits: like `HeroInput`, but the age field may be empty. */
export type HeroDraft = Omit<HeroInput, 'age'> & { age: number | null };

export type HeroField = keyof HeroInput;
export type HeroErrors = Partial<Record<HeroField, string>>;

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

export type Validation = { ok: true; input: HeroInput } | { ok: false; errors: HeroErrors };

/** Checks every rule at once and returns the trimmed input the core expects. */
export function validateHero(draft: HeroDraft): Validation {
  const errors: HeroErrors = {};
  const name = draft.name.trim();
  const appearance = draft.appearance.trim();
  const special_ability = draft.special_ability.trim();

  if (name.length === 0) errors.name = 'Give your hero a name';
  else if (charCount(name) > NAME_MAX) errors.name = `Use at most ${NAME_MAX} characters`;

  const { age } = draft;
  if (age === null || !Number.isInteger(age) || age < AGE_MIN || age > AGE_MAX) {
    errors.age = `Age must be from ${AGE_MIN} to ${AGE_MAX}`;
  }

  if (new Set(draft.traits).size !== draft.traits.length) {
    errors.traits = 'Each trait may be chosen once';
  } else if (draft.traits.length < TRAITS_MIN || draft.traits.length > TRAITS_MAX) {
    errors.traits = `Choose ${TRAITS_MIN} to ${TRAITS_MAX} traits`;
  }

  if (charCount(appearance) > APPEARANCE_MAX) {
    errors.appearance = `Use at most ${APPEARANCE_MAX} characters`;
  }
  if (charCount(special_ability) > SPECIAL_ABILITY_MAX) {
    errors.special_ability = `Use at most ${SPECIAL_ABILITY_MAX} characters`;
  }

  if (Object.keys(errors).length > 0 || age === null) return { ok: false, errors };
  return {
    ok: true,
    input: { name, age, traits: [...draft.traits], appearance, special_ability },
  };
}

/** Each trait's colour on the wheel, spread evenly so chips side by side differ. */
export function traitHue(trait: HeroTrait): number {
  return HERO_TRAITS.indexOf(trait) * (360 / HERO_TRAITS.length);
}
