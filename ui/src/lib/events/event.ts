/** The custom event form's model: drafts, validation by the generated rules, labels. */
import type { CustomEventInput } from '$lib/bindings/CustomEventInput';
import type { CustomEventView } from '$lib/bindings/CustomEventView';
import type { EventCategory } from '$lib/bindings/EventCategory';
import type { EventTone } from '$lib/bindings/EventTone';
import { RULES } from '$lib/bindings/rules';
import { checkFields, type Checked } from '$lib/ui/form/rules';

export type EventField = keyof CustomEventInput;
export const EVENT_FIELDS: readonly EventField[] = [
  'title',
  'description',
  'prompt_seed',
  'keywords',
  'category',
  'tone',
  'pictogram_emoji',
];

/** What the form edits: keywords as the comma-separated text the user types. */
export type EventDraft = Omit<CustomEventInput, 'keywords'> & { keywords: string };

export const CATEGORY_LABELS: Record<EventCategory, string> = {
  celebration: 'Celebration',
  milestone: 'Milestone',
  everyday: 'Everyday',
  family: 'Family',
  friendship: 'Friendship',
  learning: 'Learning',
  nature: 'Nature',
  adventure: 'Adventure',
  feelings: 'Feelings',
  seasonal: 'Seasonal',
};

export const TONE_LABELS: Record<EventTone, string> = {
  gentle: 'Gentle',
  playful: 'Playful',
  exciting: 'Exciting',
  calming: 'Calming',
  funny: 'Funny',
  heartwarming: 'Heartwarming',
  educational: 'Educational',
  magical: 'Magical',
};

/** A few pictograms to pick from; any single emoji may be typed. */
export const SUGGESTED_EMOJI = ['🎂', '🎄', '🌙', '🦷', '🎒', '🏖️', '🐶', '🌈', '🚀', '🧁', '🎃', '❄️'];

export function emptyEventDraft(): EventDraft {
  return {
    title: '',
    description: '',
    prompt_seed: '',
    keywords: '',
    category: 'everyday',
    tone: 'gentle',
    pictogram_emoji: '🌟',
    is_favorite: false,
  };
}

export function eventDraftFrom(event: CustomEventView): EventDraft {
  return {
    title: event.title,
    description: event.description,
    prompt_seed: event.prompt_seed,
    keywords: event.keywords.join(', '),
    category: event.category,
    tone: event.tone,
    pictogram_emoji: event.pictogram_emoji,
    is_favorite: event.is_favorite,
  };
}

/** "cake, candles ,, party" → ["cake", "candles", "party"]: empty pieces are dropped. */
export function splitKeywords(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((w) => w.trim())
    .filter((w) => w.length > 0);
}

export function validateEvent(draft: EventDraft): Checked<CustomEventInput, EventField> {
  const keywords = splitKeywords(draft.keywords);
  const errors = checkFields(RULES.custom_event, { ...draft, keywords });
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    input: {
      title: draft.title.trim(),
      description: draft.description.trim(),
      prompt_seed: draft.prompt_seed.trim(),
      keywords,
      category: draft.category,
      tone: draft.tone,
      pictogram_emoji: draft.pictogram_emoji.trim(),
      is_favorite: draft.is_favorite,
    },
  };
}

/** Favourites first, then by title (as a person reads it), then by id for a stable order. */
export function byFavoriteThenTitle(a: CustomEventView, b: CustomEventView): number {
  if (a.is_favorite !== b.is_favorite) return a.is_favorite ? -1 : 1;
  return a.title.localeCompare(b.title, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id);
}
