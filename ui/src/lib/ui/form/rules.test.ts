import { describe, expect, it } from 'vitest';
import { RULES, type FieldRule } from '$lib/bindings/rules';
import { checkField, checkFields } from './rules';

const text = {
  kind: 'text',
  max: 5,
  required: 'Say something',
  too_long: 'Too long',
} as const satisfies FieldRule;

describe('checkField', () => {
  describe('text', () => {
    it('asks for a required text that is blank after trimming', () => {
      expect(checkField(text, '')).toBe('Say something');
      expect(checkField(text, ' \n\t')).toBe('Say something');
      expect(checkField({ ...text, required: null }, '  ')).toBeNull();
    });

    it('counts code points of the trimmed text', () => {
      expect(checkField(text, '12345')).toBeNull();
      expect(checkField(text, '  12345  ')).toBeNull();
      expect(checkField(text, '🦊🦊🦊🦊🦊')).toBeNull();
      expect(checkField(text, '123456')).toBe('Too long');
    });
  });

  describe('int', () => {
    const age = RULES.hero.age;

    it.each([
      [null, 'Age must be from 1 to 18'],
      [0, 'Age must be from 1 to 18'],
      [1, null],
      [18, null],
      [19, 'Age must be from 1 to 18'],
      [7.5, 'Age must be from 1 to 18'],
      [Number.NaN, 'Age must be from 1 to 18'],
    ])('%s → %s', (value, message) => {
      expect(checkField(age, value)).toBe(message);
    });
  });

  describe('choices', () => {
    const traits = RULES.hero.traits;

    it('refuses a repeated choice before counting', () => {
      expect(checkField(traits, ['kind', 'kind'])).toBe('Each trait may be chosen once');
      expect(checkField(traits, ['a', 'b', 'c', 'd', 'e', 'a'])).toBe('Each trait may be chosen once');
    });

    it('wants min to max of them', () => {
      expect(checkField(traits, [])).toBe('Choose 1 to 5 traits');
      expect(checkField(traits, ['a'])).toBeNull();
      expect(checkField(traits, ['a', 'b', 'c', 'd', 'e'])).toBeNull();
      expect(checkField(traits, ['a', 'b', 'c', 'd', 'e', 'f'])).toBe('Choose 1 to 5 traits');
    });
  });

  describe('words', () => {
    const keywords = RULES.custom_event.keywords;
    const many = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

    it('allows none, up to max_items', () => {
      expect(checkField(keywords, [])).toBeNull();
      expect(checkField(keywords, many(10))).toBeNull();
      expect(checkField(keywords, many(11))).toBe('Use at most 10 keywords');
    });

    it('refuses blank words', () => {
      expect(checkField(keywords, ['cake', '  '])).toBe('Keywords cannot be empty');
    });

    it('limits each word, counting code points of the trimmed word', () => {
      expect(checkField(keywords, ['x'.repeat(30)])).toBeNull();
      expect(checkField(keywords, [` ${'🎂'.repeat(30)} `])).toBeNull();
      expect(checkField(keywords, ['x'.repeat(31)])).toBe('Each keyword may have at most 30 characters');
    });

    it('reports the first broken rule only', () => {
      expect(checkField(keywords, [...many(10), ''])).toBe('Use at most 10 keywords');
    });
  });

  describe('emoji', () => {
    const emoji = RULES.custom_event.pictogram_emoji;

    it('asks for one when blank', () => {
      expect(checkField(emoji, '')).toBe('Pick an emoji');
      expect(checkField(emoji, '  ')).toBe('Pick an emoji');
    });

    // The same table as the core's `emoji_rule` test (crates/protocol).
    it.each(['🎂', '⭐', '❤️', '👍🏽', '🇫🇷', '1️⃣', '#⃣', '☀', ' 🎂 '])('accepts %j', (value) => {
      expect(checkField(emoji, value)).toBeNull();
    });

    it.each([
      'a',
      'ab',
      '🎂🎂',
      '👩‍🚀', // one grapheme, but 11 bytes
      '🎂a',
      '\u{FE0F}',
      '👨‍👩‍👧',
      '🇫',
      '🇫🇷🇫🇷',
      '1',
      'x\u{20E3}',
      '🎂\u{200D}',
    ])('refuses %j', (value) => {
      expect(checkField(emoji, value)).toBe('Use a single emoji (at most 8 bytes)');
    });
  });
});

describe('checkFields', () => {
  it('checks every field that has a rule and reports each broken one', () => {
    const draft = {
      title: '',
      description: 'x'.repeat(501),
      prompt_seed: '',
      keywords: ['ok'],
      pictogram_emoji: '🎂',
      is_favorite: true,
    };
    expect(checkFields(RULES.custom_event, draft)).toEqual({
      title: 'Give the event a title',
      description: 'Use at most 500 characters',
    });
    expect(checkFields(RULES.custom_event, { ...draft, title: 'Party', description: '' })).toEqual({});
  });
});
