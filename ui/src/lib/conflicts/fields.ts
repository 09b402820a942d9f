/**
 * How the conflict dialog names and shows an entity's fields, and the merge model: which
 * version each differing field takes, pre-filled from the core's automatic merge.
 */
import type { ConflictDetail } from '$lib/bindings/ConflictDetail';
import type { EntityKind } from '$lib/bindings/EntityKind';

/** The user's fields of each entity, in the order the dialog lists them, with their labels. */
export const FIELD_LABELS: Record<EntityKind, Record<string, string>> = {
  hero: {
    name: 'Name',
    age: 'Age',
    traits: 'Traits',
    appearance: 'Appearance',
    special_ability: 'Special ability',
  },
  story: {
    title: 'Title',
    content: 'Story text',
    language: 'Language',
    hero_id: 'Hero',
    event_type: 'Occasion',
    custom_event_id: 'Custom event',
    is_favorite: 'Favourite',
  },
  custom_event: {
    title: 'Title',
    description: 'Description',
    prompt_seed: 'Story idea',
    keywords: 'Keywords',
    category: 'Category',
    tone: 'Tone',
    pictogram_emoji: 'Emoji',
    is_favorite: 'Favourite',
  },
  user_profile: {
    name: 'Name',
    preferred_language: 'Preferred language',
    theme: 'Theme',
  },
  illustration: {},
};

export const ENTITY_LABELS: Record<EntityKind, string> = {
  hero: 'Hero',
  story: 'Story',
  custom_event: 'Custom event',
  user_profile: 'Profile',
  illustration: 'Illustration',
};

/** "this hero", "this story": for sentences. */
export const ENTITY_NOUNS: Record<EntityKind, string> = {
  hero: 'hero',
  story: 'story',
  custom_event: 'custom event',
  user_profile: 'profile',
  illustration: 'illustration',
};

export const LANGUAGE_LABELS: Record<string, string> = {
  en: 'English',
  es: 'Spanish',
  fr: 'French',
  de: 'German',
  it: 'Italian',
};

const THEME_LABELS: Record<string, string> = { system: 'Same as the system', light: 'Light', dark: 'Dark' };

/** Text fields long enough to deserve a scrolling box. */
const LONG_FIELDS = new Set(['content', 'appearance', 'special_ability', 'description', 'prompt_seed']);

export function fieldLabel(entity: EntityKind, field: string): string {
  return FIELD_LABELS[entity]?.[field] ?? humanize(field);
}

/** The fields to list: the entity's known ones first, then any other the core sent. */
export function fieldsOf(entity: EntityKind, ...versions: (Record<string, unknown> | null)[]): string[] {
  const known = Object.keys(FIELD_LABELS[entity] ?? {});
  const present = new Set(versions.flatMap((v) => (v ? Object.keys(v) : [])));
  return [...known.filter((f) => present.has(f)), ...[...present].filter((f) => !known.includes(f)).sort()];
}

/** `special_ability` → "Special ability"; `first_day_of_school` → "First day of school". */
export function humanize(value: string): string {
  const words = value.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export type Shown =
  | { kind: 'empty'; text: string }
  | { kind: 'text'; text: string; long: boolean }
  | { kind: 'chips'; items: string[] };

/** A field's value as the dialog shows it: lists as chips, enums by their label, booleans in words. */
export function formatValue(entity: EntityKind, field: string, value: unknown): Shown {
  if (value === null || value === undefined) return { kind: 'empty', text: 'None' };
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'empty', text: 'None' };
    return { kind: 'chips', items: value.map((v) => (typeof v === 'string' ? enumLabel(field, v) : String(v))) };
  }
  if (typeof value === 'boolean') return { kind: 'text', text: value ? 'Yes' : 'No', long: false };
  if (typeof value === 'number') return { kind: 'text', text: value.toLocaleString(), long: false };
  if (typeof value === 'string') {
    if (value.trim() === '') return { kind: 'empty', text: 'Empty' };
    if (field.endsWith('_id')) return { kind: 'text', text: entity === 'story' ? 'Linked' : value, long: false };
    return { kind: 'text', text: enumLabel(field, value), long: LONG_FIELDS.has(field) || value.length > 120 };
  }
  return { kind: 'text', text: JSON.stringify(value), long: true };
}

/** A plain-text version of a value (for screen readers and the merge preview summary). */
export function valueText(entity: EntityKind, field: string, value: unknown): string {
  const shown = formatValue(entity, field, value);
  return shown.kind === 'chips' ? shown.items.join(', ') : shown.text;
}

const ENUM_FIELDS = new Set(['traits', 'language', 'preferred_language', 'theme', 'event_type', 'category', 'tone']);

function enumLabel(field: string, value: string): string {
  if (!ENUM_FIELDS.has(field)) return value;
  if (field === 'language' || field === 'preferred_language') return LANGUAGE_LABELS[value] ?? value;
  if (field === 'theme') return THEME_LABELS[value] ?? value;
  return humanize(value);
}

/** Structural equality of JSON values (key order does not matter). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** Where a merged field comes from: your version, the server's, or the automatic combination. */
export type Pick = 'mine' | 'server' | 'combined';
export type Picks = Record<string, Pick>;

/**
 * The merge pre-filled from the core's automatic merge: for each differing field, the side
 * whose value the merge took, `combined` when it took neither (a union of traits), and
 * `mine` for a field changed on both devices (the user confirms it).
 */
export function initialPicks(detail: ConflictDetail): Picks {
  const picks: Picks = {};
  for (const field of detail.differing) {
    const merged = detail.merged[field];
    if (detail.needs_choice.includes(field) || sameValue(merged, detail.local[field])) picks[field] = 'mine';
    else if (sameValue(merged, detail.server[field])) picks[field] = 'server';
    else picks[field] = 'combined';
  }
  return picks;
}

/** Whether the automatic merge offers a value of its own for this field (neither side's). */
export function hasCombined(detail: ConflictDetail, field: string): boolean {
  const merged = detail.merged[field];
  return (
    !detail.needs_choice.includes(field) &&
    field in detail.merged &&
    !sameValue(merged, detail.local[field]) &&
    !sameValue(merged, detail.server[field])
  );
}

/** The fields to send with a "merged" choice: the automatic merge, with each pick applied. */
export function buildMerged(detail: ConflictDetail, picks: Picks): Record<string, unknown> {
  const out: Record<string, unknown> = { ...detail.local, ...detail.merged };
  for (const [field, pick] of Object.entries(picks)) {
    if (pick === 'mine') out[field] = detail.local[field];
    else if (pick === 'server') out[field] = detail.server[field];
    else out[field] = detail.merged[field];
  }
  return out;
}

/** Whether the version restored from history differs from the other in this field. */
export function differingFields(a: Record<string, unknown>, b: Record<string, unknown>, fields: string[]): string[] {
  return fields.filter((f) => !sameValue(a[f], b[f]));
}
