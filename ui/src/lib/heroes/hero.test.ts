import { describe, expect, it } from 'vitest';
import type { HeroView } from '$lib/bindings/HeroView';
import { HERO_TRAITS, RULES } from '$lib/bindings/rules';
import { draftFrom, emptyDraft, heroPlacement, toggleTrait, traitHue, traitLabel, validateHero, type HeroDraft } from './hero';

const NAME_MAX = RULES.hero.name.max;
const APPEARANCE_MAX = RULES.hero.appearance.max;
const SPECIAL_ABILITY_MAX = RULES.hero.special_ability.max;

const valid = (): HeroDraft => ({
  name: 'Luna',
  age: 7,
  traits: ['brave', 'kind'],
  appearance: 'Red boots',
  special_ability: 'Talks to owls',
});

const long = (n: number) => 'x'.repeat(n);

describe('validateHero', () => {
  // The same table as the core's `validation_table` test (crates/protocol/src/hero.rs).
  const cases: [string, (d: HeroDraft) => void, string | null][] = [
    ['valid', () => {}, null],
    ['empty name', (d) => (d.name = '   '), 'name'],
    ['name at max', (d) => (d.name = long(NAME_MAX)), null],
    ['name too long', (d) => (d.name = long(NAME_MAX + 1)), 'name'],
    ['name counts characters, not UTF-16 units', (d) => (d.name = '🦊'.repeat(NAME_MAX)), null],
    ['name is trimmed before counting', (d) => (d.name = `  ${long(NAME_MAX)}  `), null],
    ['age missing', (d) => (d.age = null), 'age'],
    ['age 0', (d) => (d.age = 0), 'age'],
    ['age 1', (d) => (d.age = 1), null],
    ['age 18', (d) => (d.age = 18), null],
    ['age 19', (d) => (d.age = 19), 'age'],
    ['age not whole', (d) => (d.age = 7.5), 'age'],
    ['no traits', (d) => (d.traits = []), 'traits'],
    ['5 traits', (d) => (d.traits = HERO_TRAITS.slice(0, 5)), null],
    ['6 traits', (d) => (d.traits = HERO_TRAITS.slice(0, 6)), 'traits'],
    ['repeated trait', (d) => (d.traits = ['kind', 'kind']), 'traits'],
    ['appearance at max', (d) => (d.appearance = long(APPEARANCE_MAX)), null],
    ['appearance too long', (d) => (d.appearance = long(APPEARANCE_MAX + 1)), 'appearance'],
    ['ability at max', (d) => (d.special_ability = long(SPECIAL_ABILITY_MAX)), null],
    ['ability too long', (d) => (d.special_ability = long(SPECIAL_ABILITY_MAX + 1)), 'special_ability'],
  ];

  it.each(cases)('%s', (_, change, field) => {
    const draft = valid();
    change(draft);
    const result = validateHero(draft);
    if (field === null) expect(result.ok).toBe(true);
    else expect(result.ok ? [] : Object.keys(result.errors)).toEqual([field]);
  });

  it('reports every invalid field at once', () => {
    const result = validateHero(emptyDraft());
    expect(result.ok ? null : Object.keys(result.errors).sort()).toEqual(['age', 'name', 'traits']);
  });

  it('words each error as the core does', () => {
    const errors = (draft: HeroDraft) => {
      const result = validateHero(draft);
      return result.ok ? {} : result.errors;
    };
    expect(errors(emptyDraft())).toEqual({
      name: 'Give your hero a name',
      age: 'Age must be from 1 to 18',
      traits: 'Choose 1 to 5 traits',
    });
    expect(
      errors({
        name: long(101),
        age: 19,
        traits: ['kind', 'kind'],
        appearance: long(501),
        special_ability: long(201),
      }),
    ).toEqual({
      name: 'Use at most 100 characters',
      age: 'Age must be from 1 to 18',
      traits: 'Each trait may be chosen once',
      appearance: 'Use at most 500 characters',
      special_ability: 'Use at most 200 characters',
    });
  });

  it('returns the trimmed input the core expects', () => {
    const result = validateHero({ ...valid(), name: '  Luna ', appearance: ' boots\n', special_ability: '' });
    expect(result).toEqual({
      ok: true,
      input: { name: 'Luna', age: 7, traits: ['brave', 'kind'], appearance: 'boots', special_ability: '' },
    });
  });
});

describe('hero form helpers', () => {
  it('toggles traits keeping the order they were chosen in', () => {
    expect(toggleTrait(['kind'], 'brave')).toEqual(['kind', 'brave']);
    expect(toggleTrait(['kind', 'brave'], 'kind')).toEqual(['brave']);
  });

  it('labels traits', () => {
    expect(traitLabel('adventurous')).toBe('Adventurous');
  });

  it('has exactly the twelve traits of the core, each with its own hue', () => {
    expect(HERO_TRAITS).toHaveLength(12);
    expect(new Set(HERO_TRAITS.map(traitHue)).size).toBe(12);
  });

  it('copies a hero into a draft without sharing its trait list', () => {
    const hero = { ...valid(), age: 7, id: 'h1', traits: ['brave'] } as unknown as HeroView;
    const draft = draftFrom(hero);
    draft.traits.push('kind');
    expect(hero.traits).toEqual(['brave']);
    expect(draft).toMatchObject({ name: 'Luna', age: 7, special_ability: 'Talks to owls' });
  });
});

describe('heroPlacement', () => {
  const hero = (name: string, id = 'a'): HeroView => ({ ...({} as HeroView), id, name });
  it('orders by name in any ASCII case, then id, as the core does', () => {
    const names = ['bo', 'Zed', 'Al', 'al', 'Émile', 'AL'].map((n, i) => hero(n, `id${i}`));
    const sorted = [...names].sort((a, b) => (heroPlacement.before(a, b) ? -1 : heroPlacement.before(b, a) ? 1 : 0));
    // NOCASE folds ASCII only, so "É" (U+00C9) sorts after every ASCII letter.
    expect(sorted.map((h) => h.name)).toEqual(['Al', 'al', 'AL', 'bo', 'Zed', 'Émile']);
  });
  it('matches the trimmed search anywhere in the name, in any ASCII case', () => {
    expect(heroPlacement.matches(hero('Captain Luna'), { text: '  LUNA ' })).toBe(true);
    expect(heroPlacement.matches(hero('Captain Luna'), { text: 'moon' })).toBe(false);
    expect(heroPlacement.matches(hero('Luna'), { text: '   ' })).toBe(true);
    expect(heroPlacement.matches(hero('50%'), { text: '%' })).toBe(true);
    expect(heroPlacement.matches(hero('Luna'), { text: '%' })).toBe(false);
  });
});
