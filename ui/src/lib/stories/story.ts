/** The story form's model and the words the story screens use for languages and events. */
import type { CustomEventView } from '$lib/bindings/CustomEventView';
import type { EventType } from '$lib/bindings/EventType';
import type { Language } from '$lib/bindings/Language';
import { EVENT_TYPES, RULES } from '$lib/bindings/rules';
import type { StoryInput } from '$lib/bindings/StoryInput';
import type { StoryView } from '$lib/bindings/StoryView';
import type { StoryLength } from '$lib/bindings/StoryLength';
import type { StoryFilter } from '$lib/bindings/StoryFilter';
import type { StorySummary } from '$lib/bindings/StorySummary';
import { checkFields, type Checked } from '$lib/ui/form/rules';
import { instantKey, trimText, type Placement } from '$lib/ui/paged-store.svelte';

export const LANGUAGE_NAMES: Record<Language, string> = {
  en: 'English',
  es: 'Español',
  fr: 'Français',
  de: 'Deutsch',
  it: 'Italiano',
};

/** How long a generated story is (the server's three lengths, in its words). */
export const STORY_LENGTHS: Record<StoryLength, { label: string; hint: string }> = {
  short: { label: 'Short', hint: 'About 120 words' },
  medium: { label: 'Medium', hint: 'About 160 words' },
  long: { label: 'Long', hint: 'About 270 words' },
};

export const EVENT_LABELS: Record<EventType, string> = {
  bedtime: 'Bedtime',
  birthday: 'Birthday',
  first_day_of_school: 'First day of school',
  holiday: 'Holiday',
  adventure: 'Adventure',
  friendship: 'Friendship',
  new_sibling: 'A new sibling',
  lost_tooth: 'A lost tooth',
  doctor_visit: 'Visiting the doctor',
  moving_house: 'Moving house',
  overcoming_fears: 'Overcoming fears',
  learning_to_share: 'Learning to share',
  rainy_day: 'A rainy day',
  sleepover: 'A sleepover',
};

export const EVENT_EMOJI: Record<EventType, string> = {
  bedtime: '🌙',
  birthday: '🎂',
  first_day_of_school: '🎒',
  holiday: '🏖️',
  adventure: '🧭',
  friendship: '🤝',
  new_sibling: '👶',
  lost_tooth: '🦷',
  doctor_visit: '🩺',
  moving_house: '📦',
  overcoming_fears: '🦁',
  learning_to_share: '🧸',
  rainy_day: '🌧️',
  sleepover: '⛺',
};

/**
 * An event choice as one select value: a built-in event (`type:bedtime`) or one of the
 * user's custom events (`custom:<id>`). A story has exactly one of the two.
 */
export type EventChoice = `type:${EventType}` | `custom:${string}`;

export function eventChoice(event_type: EventType | null, custom_event_id: string | null): EventChoice {
  if (custom_event_id) return `custom:${custom_event_id}`;
  return `type:${event_type ?? 'bedtime'}`;
}

export function fromChoice(choice: EventChoice): { event_type: EventType | null; custom_event_id: string | null } {
  if (choice.startsWith('custom:')) return { event_type: null, custom_event_id: choice.slice(7) };
  const type = choice.slice(5) as EventType;
  return { event_type: EVENT_TYPES.includes(type) ? type : 'bedtime', custom_event_id: null };
}

/** The event a story is about, in words ("Birthday", a custom event's title, or null). */
export function eventLabel(
  story: { event_type: EventType | null; custom_event_id: string | null },
  custom: readonly CustomEventView[] = [],
): string | null {
  if (story.custom_event_id) return custom.find((e) => e.id === story.custom_event_id)?.title ?? null;
  return story.event_type ? EVENT_LABELS[story.event_type] : null;
}

/** What the story form edits. */
export type StoryDraft = {
  title: string;
  content: string;
  hero_id: string | null;
  language: Language;
  event: EventChoice;
  is_favorite: boolean;
};

export type StoryField = keyof StoryInput;
export const STORY_FIELDS: readonly StoryField[] = [
  'title',
  'content',
  'hero_id',
  'language',
  'event_type',
  'custom_event_id',
];

export function emptyStoryDraft(hero_id: string | null = null, language: Language = 'en'): StoryDraft {
  return { title: '', content: '', hero_id, language, event: 'type:bedtime', is_favorite: false };
}

export function storyDraftFrom(story: StoryView): StoryDraft {
  return {
    title: story.title,
    content: story.content,
    hero_id: story.hero_id,
    language: story.language,
    event: eventChoice(story.event_type, story.custom_event_id),
    is_favorite: story.is_favorite,
  };
}

/** Checks the draft by the generated rules; the input keeps the text's inner line breaks. */
export function validateStory(draft: StoryDraft): Checked<StoryInput, StoryField> {
  const errors = checkFields(RULES.story, draft);
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    input: {
      title: draft.title.trim(),
      content: draft.content.trim(),
      hero_id: draft.hero_id,
      language: draft.language,
      ...fromChoice(draft.event),
      is_favorite: draft.is_favorite,
    },
  };
}

/** "12:05" or "1:02:03" for a position in seconds. */
export function clockTime(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * The story list's filter and order as the core's `stories_page` has them (newest first:
 * `ORDER BY created_at DESC, id DESC`), so a new story shows before the list is fetched
 * again. A text search is left to the core: it also reads the story's whole text.
 */
export const storyPlacement: Placement<StorySummary, StoryFilter> = {
  matches(story, filter) {
    return (
      !trimText(filter.text) &&
      (filter.hero_id === null || story.hero_id === filter.hero_id) &&
      (!filter.favorites_only || story.is_favorite)
    );
  },
  before(a, b) {
    const [x, y] = [instantKey(a.created_at), instantKey(b.created_at)];
    return x > y || (x === y && a.id > b.id);
  },
};
