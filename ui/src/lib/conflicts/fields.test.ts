import { describe, expect, it } from 'vitest';
import type { ConflictDetail } from '$lib/bindings/ConflictDetail';
import { buildMerged, fieldLabel, fieldsOf, formatValue, hasCombined, initialPicks, sameValue, valueText } from './fields';

const detail = (overrides: Partial<ConflictDetail> = {}): ConflictDetail => ({
  entity: 'hero',
  id: 'h1',
  op: 'update',
  local: { name: 'Luna', age: 6, traits: ['brave'], appearance: 'Red boots', special_ability: 'Flies' },
  server: { name: 'Luna', age: 7, traits: ['kind'], appearance: 'Red boots', special_ability: 'Swims' },
  base: { name: 'Luna', age: 6, traits: [], appearance: 'Red boots', special_ability: 'Walks' },
  server_deleted: false,
  differing: ['age', 'traits', 'special_ability'],
  merged: { name: 'Luna', age: 7, traits: ['brave', 'kind'], appearance: 'Red boots', special_ability: 'Flies' },
  needs_choice: ['special_ability'],
  ...overrides,
});

describe('merge picks', () => {
  it('pre-fills each differing field from the automatic merge', () => {
    expect(initialPicks(detail())).toEqual({ age: 'server', traits: 'combined', special_ability: 'mine' });
  });

  it('pre-selects mine for a field changed on both devices, even if the merge took the server', () => {
    const d = detail({ merged: { ...detail().merged, special_ability: 'Swims' } });
    expect(initialPicks(d).special_ability).toBe('mine');
  });

  it('offers the combination only when the merge took neither side', () => {
    expect(hasCombined(detail(), 'traits')).toBe(true);
    expect(hasCombined(detail(), 'age')).toBe(false);
    expect(hasCombined(detail(), 'special_ability')).toBe(false);
  });

  it('builds the merged fields from the picks', () => {
    const d = detail();
    expect(buildMerged(d, initialPicks(d))).toEqual(d.merged);
    expect(buildMerged(d, { age: 'mine', traits: 'server', special_ability: 'server' })).toEqual({
      name: 'Luna',
      age: 6,
      traits: ['kind'],
      appearance: 'Red boots',
      special_ability: 'Swims',
    });
  });

  it('keeps the fields nobody picked from the merge', () => {
    expect(buildMerged(detail(), {}).age).toBe(7);
  });
});

describe('formatting', () => {
  it('labels fields per entity, humanizing unknown ones', () => {
    expect(fieldLabel('hero', 'special_ability')).toBe('Special ability');
    expect(fieldLabel('story', 'content')).toBe('Story text');
    expect(fieldLabel('hero', 'secret_power')).toBe('Secret power');
  });

  it('lists known fields first, in the entity order', () => {
    expect(fieldsOf('hero', { traits: [], zeta: 1, name: 'x' }, { age: 3 })).toEqual(['name', 'age', 'traits', 'zeta']);
  });

  it('shows lists as chips, enums by label, booleans and empties in words', () => {
    expect(formatValue('hero', 'traits', ['brave', 'kind'])).toEqual({ kind: 'chips', items: ['Brave', 'Kind'] });
    expect(formatValue('custom_event', 'keywords', [])).toEqual({ kind: 'empty', text: 'None' });
    expect(formatValue('user_profile', 'preferred_language', 'fr')).toEqual({ kind: 'text', text: 'French', long: false });
    expect(formatValue('story', 'event_type', 'lost_tooth')).toMatchObject({ text: 'Lost tooth' });
    expect(formatValue('story', 'is_favorite', true)).toMatchObject({ text: 'Yes' });
    expect(formatValue('hero', 'appearance', '  ')).toEqual({ kind: 'empty', text: 'Empty' });
    expect(formatValue('story', 'content', 'Once')).toMatchObject({ long: true });
    expect(formatValue('hero', 'age', 1200)).toMatchObject({ text: (1200).toLocaleString() });
  });

  it('does not relabel free text that looks like an enum', () => {
    expect(valueText('hero', 'name', 'brave')).toBe('brave');
  });

  it('compares JSON values structurally', () => {
    expect(sameValue({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });
});
