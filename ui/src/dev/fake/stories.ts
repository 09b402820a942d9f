/**
 * The fake core's stories, custom events and profile, in memory. `?stories=N` seeds N
 * stories over the fake heroes (30 by default); some are favourites, some have a narration
 * (whose download the fake plays out with progress events) and illustrations.
 */
import type { CustomEventView } from '$lib/bindings/CustomEventView';
import type { HeroView } from '$lib/bindings/HeroView';
import type { IllustrationView } from '$lib/bindings/IllustrationView';
import type { Language } from '$lib/bindings/Language';
import type { MediaRef } from '$lib/bindings/MediaRef';
import type { MediaStatus } from '$lib/bindings/MediaStatus';
import type { ProfileView } from '$lib/bindings/ProfileView';
import type { RowSync } from '$lib/bindings/RowSync';
import { EVENT_TYPES } from '$lib/bindings/rules';
import type { StoryInput } from '$lib/bindings/StoryInput';
import type { StorySummary } from '$lib/bindings/StorySummary';
import type { StoryView } from '$lib/bindings/StoryView';
import { fail, now, pageOf, send, synced, type Handlers } from './context';

export type StoryContext = {
  params: URLSearchParams;
  /** The fake core's heroes, as they are now. */
  heroes: () => readonly HeroView[];
  /** Whether the fake is offline (Work offline on): generating fails as the core would. */
  offline: () => boolean;
};

const TITLES = [
  'The Moon Who Forgot to Rise',
  'A Lighthouse for Sleepy Boats',
  'The Dragon Who Loved Pancakes',
  'Whispers in the Willow Wood',
  'The Cloud That Wanted to Rain Lemonade',
  'Captain Sock and the Laundry Sea',
  'The Tooth Fairy’s Busy Night',
  'A Picnic on Saturn’s Rings',
  'The Owl Library',
  'Grandma’s Garden of Giggles',
  'The Snail Who Won the Race',
  'Stars in a Jam Jar',
];
const OPENINGS = [
  'Once upon a time, at the edge of a village where the chimneys puffed little clouds shaped like sheep,',
  'Long ago, when the stars still came down to drink from the lake each night,',
  'On the very first evening of autumn, while the leaves practised their slow twirling dance,',
];
const MIDDLES = [
  'The wind hummed a tune that only brave hearts could hear, and the path glowed softly under every step.',
  'A small fox with a lantern joined them, because, as everybody knows, adventures are better with friends.',
  'They counted the fireflies — one, two, three, a hundred — until the meadow shone like a birthday cake.',
  'Sometimes being brave just means taking one small step, and then another, and then a deep breath.',
  'The old oak tree creaked a welcome and offered a branch to sit on, just the right size for dreaming.',
];
const ENDINGS = [
  'And when the moon finally smiled over the hills, everyone curled up, warm and safe, and fell fast asleep. The end.',
  'Back home, the blanket was soft, the pillow was cool, and the night sang its quiet lullaby. Goodnight.',
];
const LANGS: Language[] = ['en', 'en', 'en', 'fr', 'es', 'de', 'it'];
const PROMPTS = [
  'A moonlit meadow with fireflies, soft watercolour',
  'A tiny boat sailing under a lighthouse beam',
  'A friendly fox holding a lantern in a forest',
  'A child asleep under a quilt of stars',
];

function storyText(i: number, hero: string): string {
  const paragraphs = [`${OPENINGS[i % OPENINGS.length]} there lived ${hero}, who was curious about everything.`];
  for (let p = 0; p < 4 + (i % 4); p++) {
    paragraphs.push(`${MIDDLES[(i + p) % MIDDLES.length]} ${MIDDLES[(i + p * 3 + 1) % MIDDLES.length]}`);
  }
  paragraphs.push(ENDINGS[i % ENDINGS.length]);
  return paragraphs.join('\n\n');
}

/** The fake's own row: the whole story and what the list shows. */
type Row = StoryView & { illustrations: number };

const pendingSync = (status: RowSync['status'], op: RowSync['op']): RowSync => ({
  ...synced(now()),
  status,
  op,
  version: status === 'pending_create' ? null : 1,
});

function seedStory(i: number, heroes: readonly HeroView[], at: string): Row {
  const hero = heroes.length && i % 9 !== 4 ? heroes[i % heroes.length] : null;
  let title = TITLES[i % TITLES.length] + (i >= TITLES.length ? ` ${Math.floor(i / TITLES.length) + 1}` : '');
  if (i === 7) title = 'حكاية القمر الصغير';
  if (i === 11) title = '<script>alert("hi")</script> A title that is text';
  const sync = synced(at);
  if (i % 11 === 3) Object.assign(sync, { status: 'pending_update', op: 'update' });
  if (i % 13 === 6) Object.assign(sync, { status: 'failed', op: 'update', error: 'Server error (503)', attempts: 8, given_up: true });
  const audio = i % 3 === 0;
  const created = new Date(Date.parse(at) - i * 3_600_000 * 7).toISOString();
  return {
    id: `00000000-0000-7000-9000-${i.toString(16).padStart(12, '0')}`,
    hero_id: hero?.id ?? null,
    hero_name: hero?.name ?? null,
    title,
    content: storyText(i, hero?.name ?? 'a little dreamer'),
    language: LANGS[i % LANGS.length],
    event_type: EVENT_TYPES[i % EVENT_TYPES.length],
    custom_event_id: null,
    is_favorite: i % 4 === 1,
    play_count: (i * 7) % 12,
    last_played_at: null,
    audio_url: audio ? `https://example.invalid/audio/${i}.mp3` : null,
    audio_duration: audio ? 240 + (i % 5) * 37 : null,
    created_at: created,
    updated_at: created,
    sync,
    illustrations: i % 3 === 0 || i % 5 === 2 ? 3 + (i % 2) : 0,
  };
}

function seedEvents(at: string): CustomEventView[] {
  const base = { created_at: at, updated_at: at, sync: synced(at), prompt_seed: '', usage_count: 0 };
  return [
    { ...base, id: 'ce-1', title: 'Grandpa’s visit', description: 'Grandpa comes by train with his old brown suitcase.', keywords: ['train', 'suitcase', 'stories'], category: 'family', tone: 'heartwarming', pictogram_emoji: '🚂', is_favorite: true, usage_count: 4 },
    { ...base, id: 'ce-2', title: 'First swimming lesson', description: 'Getting brave in the big pool.', keywords: ['water', 'courage'], category: 'milestone', tone: 'exciting', pictogram_emoji: '🏊', is_favorite: false },
    { ...base, id: 'ce-3', title: 'Planting the vegetable garden', description: '', keywords: ['seeds', 'spring'], category: 'nature', tone: 'calming', pictogram_emoji: '🌱', is_favorite: false, usage_count: 1 },
  ];
}

export function storyHandlers({ params, heroes, offline }: StoryContext): Handlers<
  | 'stories_page'
  | 'story_get'
  | 'story_create'
  | 'story_update'
  | 'story_delete'
  | 'story_favorite'
  | 'story_played'
  | 'story_retry'
  | 'story_discard'
  | 'story_generate'
  | 'story_illustrations'
  | 'story_generate_audio'
  | 'story_generate_illustrations'
  | 'media_status'
  | 'media_download'
  | 'custom_events_list'
  | 'custom_event_create'
  | 'custom_event_update'
  | 'custom_event_delete'
  | 'custom_event_favorite'
  | 'profile_get'
  | 'profile_update'
  | 'usage_get'
> {
  const start = now();
  let stories: Row[] = Array.from({ length: Number(params.get('stories') ?? 30) }, (_, i) => seedStory(i, heroes(), start));
  let events = seedEvents(start);
  /** Narrations downloaded (or downloading) in this session. */
  const downloads = new Map<string, MediaStatus>();
  let profile: ProfileView = {
    id: 'user-1',
    email: 'parent@example.com',
    name: 'Sam',
    preferred_language: 'en',
    theme: 'system',
    subscription_tier: 'free',
    updated_at: start,
    sync: synced(start),
  };

  const changed = (entity: 'story' | 'custom_event') => send({ type: 'data_changed', entity });
  const find = (id: string) => stories.find((s) => s.id === id) ?? fail('not_found', 'No such story');
  const findEvent = (id: string) => events.find((e) => e.id === id) ?? fail('not_found', 'No such event');
  const view = (row: Row): StoryView => {
    const { illustrations, ...story } = row;
    void illustrations;
    return { ...story, sync: { ...story.sync } };
  };
  const summary = (row: Row): StorySummary => {
    const { content, audio_url, audio_duration, illustrations, ...rest } = row;
    void audio_duration;
    void illustrations;
    return { ...rest, excerpt: content.slice(0, 160), has_audio: audio_url !== null, sync: { ...rest.sync } };
  };
  const touched = (row: Row) => {
    row.updated_at = now();
    if (row.sync.status === 'synced') row.sync = pendingSync('pending_update', 'update');
  };
  const heroName = (id: string | null) => heroes().find((h) => h.id === id)?.name ?? null;
  const fromInput = (input: StoryInput) => ({ ...input, hero_name: heroName(input.hero_id) });
  const needServer = () => {
    if (offline()) fail('offline', 'You are offline');
  };

  /** Plays out a narration download: progress events, then ready. */
  function download(ref: MediaRef): MediaStatus {
    const total = 3_400_000;
    const status: MediaStatus = { state: 'downloading', received: 0, total };
    downloads.set(ref.id, status);
    let received = 0;
    const tick = setInterval(() => {
      received = Math.min(total, received + 260_000);
      if (received < total) {
        downloads.set(ref.id, { state: 'downloading', received, total });
        send({ type: 'media_progress', media: ref, received, total });
      } else {
        clearInterval(tick);
        downloads.set(ref.id, { state: 'ready', size: total });
        send({ type: 'media_ready', media: ref });
      }
    }, 250);
    return status;
  }

  return {
    stories_page: ({ filter, window }) => {
      const text = filter.text?.toLowerCase();
      const rows = stories
        .filter(
          (s) =>
            s.sync.status !== 'pending_delete' &&
            (!filter.hero_id || s.hero_id === filter.hero_id) &&
            (!filter.favorites_only || s.is_favorite) &&
            (!text || s.title.toLowerCase().includes(text) || s.content.toLowerCase().includes(text)),
        )
        .sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
      return pageOf(rows.map(summary), window);
    },
    story_get: ({ id }) => view(find(id)),
    story_create: ({ input }) => {
      const at = now();
      const row: Row = {
        ...seedStory(0, [], at),
        ...fromInput(input),
        id: crypto.randomUUID(),
        play_count: 0,
        audio_url: null,
        audio_duration: null,
        illustrations: 0,
        created_at: at,
        updated_at: at,
        sync: pendingSync('pending_create', 'create'),
      };
      stories = [row, ...stories];
      changed('story');
      return view(row);
    },
    story_update: ({ id, input }) => {
      const row = find(id);
      Object.assign(row, fromInput(input));
      touched(row);
      changed('story');
      return view(row);
    },
    story_delete: ({ id }) => {
      const row = find(id);
      if (row.sync.status === 'pending_create') stories = stories.filter((s) => s !== row);
      else row.sync = pendingSync('pending_delete', 'delete');
      changed('story');
      return null;
    },
    story_favorite: ({ id, favorite }) => {
      const row = find(id);
      row.is_favorite = favorite;
      touched(row);
      changed('story');
      return view(row);
    },
    story_played: ({ id }) => {
      const row = find(id);
      row.play_count += 1;
      row.last_played_at = now();
      changed('story');
      return view(row);
    },
    story_retry: ({ id }) => {
      const row = find(id);
      row.sync = pendingSync(`pending_${row.sync.op ?? 'update'}`, row.sync.op);
      changed('story');
      return view(row);
    },
    story_discard: ({ id }) => {
      const row = find(id);
      if (row.sync.op === 'create') stories = stories.filter((s) => s !== row);
      else row.sync = synced(now());
      changed('story');
      return null;
    },
    story_generate: async ({ input }) => {
      needServer();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      needServer();
      const at = now();
      const i = stories.length;
      const hero = heroName(input.hero_id) ?? 'a little dreamer';
      const custom = input.custom_event_id ? events.find((e) => e.id === input.custom_event_id) : undefined;
      if (custom) custom.usage_count += 1;
      const row: Row = {
        ...seedStory(i, heroes(), at),
        ...input,
        hero_name: heroName(input.hero_id),
        title: `${hero} and the ${custom?.title ?? 'Starlit Night'}`,
        content: storyText(i, hero),
        is_favorite: false,
        play_count: 0,
        audio_url: null,
        audio_duration: null,
        illustrations: 0,
        created_at: at,
        updated_at: at,
        sync: synced(at),
      };
      stories = [row, ...stories];
      changed('story');
      return view(row);
    },
    story_illustrations: ({ id }) => {
      const row = find(id);
      const value: IllustrationView[] = Array.from({ length: row.illustrations }, (_, n) => ({
        id: `${row.id.slice(0, -4)}${(0xa000 + n).toString(16)}`,
        story_id: row.id,
        image_url: `https://example.invalid/illustrations/${row.id}/${n}.png`,
        prompt: PROMPTS[n % PROMPTS.length],
        timestamp: 0,
        display_order: n,
        generation_status: 'ready',
        updated_at: row.updated_at,
      }));
      return { value, source: 'cache', saved_copy: null, refreshing: false };
    },
    story_generate_audio: async ({ id }) => {
      needServer();
      const row = find(id);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      row.audio_url = `https://example.invalid/audio/${id}.mp3`;
      row.audio_duration = 263;
      changed('story');
      return { generation_id: crypto.randomUUID(), kind: 'audio', target_id: id, status: 'ready', illustration_ids: [] };
    },
    story_generate_illustrations: async ({ id, count }) => {
      needServer();
      const row = find(id);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      row.illustrations = count ?? 3;
      changed('story');
      return { generation_id: crypto.randomUUID(), kind: 'illustrations', target_id: id, status: 'ready', illustration_ids: [] };
    },
    media_status: ({ media }) => {
      if (media.kind === 'avatar') return { state: 'unavailable' };
      if (media.kind === 'illustration') return { state: 'ready', size: 180_000 };
      const row = stories.find((s) => s.id === media.id);
      if (!row?.audio_url) return { state: 'unavailable' };
      return downloads.get(media.id) ?? { state: 'missing', partial: 0 };
    },
    media_download: ({ media }) => {
      if (media.kind !== 'audio') return { state: 'unavailable' };
      if (offline()) return { state: 'failed', error: { code: 'offline', message: 'You are offline', fields: [] } };
      return downloads.get(media.id) ?? download(media);
    },
    custom_events_list: () => events.map((e) => ({ ...e })),
    custom_event_create: ({ input }) => {
      const at = now();
      const event: CustomEventView = {
        ...input,
        id: crypto.randomUUID(),
        usage_count: 0,
        created_at: at,
        updated_at: at,
        sync: pendingSync('pending_create', 'create'),
      };
      events = [...events, event];
      changed('custom_event');
      return { ...event };
    },
    custom_event_update: ({ id, input }) => {
      const event = findEvent(id);
      Object.assign(event, input, { updated_at: now() });
      if (event.sync.status === 'synced') event.sync = pendingSync('pending_update', 'update');
      changed('custom_event');
      return { ...event };
    },
    custom_event_delete: ({ id }) => {
      findEvent(id);
      events = events.filter((e) => e.id !== id);
      changed('custom_event');
      return null;
    },
    custom_event_favorite: ({ id, favorite }) => {
      const event = findEvent(id);
      event.is_favorite = favorite;
      changed('custom_event');
      return { ...event };
    },
    profile_get: () => ({ value: { ...profile }, source: offline() ? 'cache' : 'network', saved_copy: offline() ? 'You are offline' : null, refreshing: false }),
    profile_update: ({ input }) => {
      profile = { ...profile, ...input, updated_at: now() };
      return { ...profile };
    },
    usage_get: () => {
      const at = new Date();
      const periodStart = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)).toISOString();
      const periodEnd = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)).toISOString();
      const limits = { stories_per_month: 10, audio_minutes_per_month: 30, illustrations_per_month: 20 };
      return {
        value: {
          stats: {
            period_start: periodStart,
            period_end: periodEnd,
            subscription_tier: profile.subscription_tier,
            stories_this_month: Math.min(10, stories.length),
            audio_minutes_this_month: 12,
            illustrations_this_month: 7,
            limits,
            tiers: [
              { tier: 'free', limits },
              { tier: 'plus', limits: { stories_per_month: 100, audio_minutes_per_month: 300, illustrations_per_month: 200 } },
              { tier: 'premium', limits: { stories_per_month: null, audio_minutes_per_month: null, illustrations_per_month: null } },
            ],
          },
          fetched_at: now(),
        },
        source: offline() ? 'cache' : 'network',
        saved_copy: offline() ? 'You are offline' : null,
        refreshing: false,
      };
    },
  };
}
