/**
 * The only module that talks to the Rust core: every command and event goes through here.
 * Commands are typed by the generated `Commands` map, so a renamed command or a wrong
 * argument is a type error; rejections are normalised to `ErrorPayload`.
 */
import { invoke, isTauri, type InvokeArgs } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Commands } from '$lib/bindings/commands';
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { CacheKind } from '$lib/bindings/CacheKind';
import type { ConflictChoice } from '$lib/bindings/ConflictChoice';
import type { ConflictStrategy } from '$lib/bindings/ConflictStrategy';
import type { CustomEventInput } from '$lib/bindings/CustomEventInput';
import type { EntityKind } from '$lib/bindings/EntityKind';
import type { GenerateStoryInput } from '$lib/bindings/GenerateStoryInput';
import type { HeroFilter } from '$lib/bindings/HeroFilter';
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { MediaRef } from '$lib/bindings/MediaRef';
import type { ProfileInput } from '$lib/bindings/ProfileInput';
import type { StoryFilter } from '$lib/bindings/StoryFilter';
import type { StoryInput } from '$lib/bindings/StoryInput';
import type { Window } from '$lib/bindings/Window';
import { toErrorPayload } from '$lib/ui/errors';

type Command = keyof Commands;
type CommandArgs<K extends Command> = Commands[K]['args'];
type CommandResult<K extends Command> = Commands[K]['returns'];

/** What follows the command name: nothing for a command without arguments, else its arguments. */
type ArgsParam<K extends Command> = CommandArgs<K> extends Record<string, never> ? [] : [args: CommandArgs<K>];

/** Runs one command of the core; rejects with an `ErrorPayload`. */
export async function call<K extends Command>(command: K, ...args: ArgsParam<K>): Promise<CommandResult<K>> {
  try {
    return await invoke<CommandResult<K>>(command, args[0] as InvokeArgs | undefined);
  } catch (error) {
    throw toErrorPayload(error);
  }
}

export const auth = {
  current: () => call('account_get'),
  signIn: (email: string, password: string) => call('sign_in', { email, password }),
  signUp: (email: string, password: string, name: string) => call('sign_up', { email, password, name }),
  /** Refused with `unsynced_changes` unless `discard` is set (after the user agreed). */
  signOut: (discard: boolean) => call('sign_out', { discard }),
};

export const heroes = {
  page: (filter: HeroFilter, window: Window) => call('heroes_page', { filter, window }),
  get: (id: string) => call('hero_get', { id }),
  create: (input: HeroInput) => call('hero_create', { input }),
  update: (id: string, input: HeroInput) => call('hero_update', { id, input }),
  delete: (id: string) => call('hero_delete', { id }),
  retry: (id: string) => call('hero_retry', { id }),
  discard: (id: string) => call('hero_discard', { id }),
  generateAvatar: (id: string) => call('hero_generate_avatar', { id }),
};

export const stories = {
  page: (filter: StoryFilter, window: Window) => call('stories_page', { filter, window }),
  get: (id: string) => call('story_get', { id }),
  create: (input: StoryInput) => call('story_create', { input }),
  update: (id: string, input: StoryInput) => call('story_update', { id, input }),
  delete: (id: string) => call('story_delete', { id }),
  favorite: (id: string, favorite: boolean) => call('story_favorite', { id, favorite }),
  /** One play: call once per play from the start, not per resume. */
  played: (id: string) => call('story_played', { id }),
  retry: (id: string) => call('story_retry', { id }),
  discard: (id: string) => call('story_discard', { id }),
  /** Needs the server; rejects with `offline` when it is out of reach. */
  generate: (input: GenerateStoryInput) => call('story_generate', { input }),
  illustrations: (id: string) => call('story_illustrations', { id }),
  generateAudio: (id: string) => call('story_generate_audio', { id }),
  generateIllustrations: (id: string, count: number | null) =>
    call('story_generate_illustrations', { id, count }),
};

export const customEvents = {
  list: () => call('custom_events_list'),
  create: (input: CustomEventInput) => call('custom_event_create', { input }),
  update: (id: string, input: CustomEventInput) => call('custom_event_update', { id, input }),
  delete: (id: string) => call('custom_event_delete', { id }),
  favorite: (id: string, favorite: boolean) => call('custom_event_favorite', { id, favorite }),
};

export const profile = {
  /** networkFirst: `source` says whether this is the server's copy or the saved one. */
  get: () => call('profile_get'),
  update: (input: ProfileInput) => call('profile_update', { input }),
  usage: () => call('usage_get'),
};

export const conflicts = {
  list: () => call('conflicts_list'),
  detail: (entity: EntityKind, id: string) => call('conflict_detail', { entity, id }),
  resolve: (entity: EntityKind, id: string, choice: ConflictChoice) =>
    call('conflict_resolve', { entity, id, choice }),
  history: (entity: EntityKind, id: string) => call('conflict_history', { entity, id }),
  restore: (historyId: number) => call('conflict_restore', { history_id: historyId }),
  strategy: (entity: EntityKind) => call('conflict_strategy_get', { entity }),
  setStrategy: (entity: EntityKind, strategy: ConflictStrategy) =>
    call('conflict_strategy_set', { entity, strategy }),
};

export const media = {
  status: (media: MediaRef) => call('media_status', { media }),
  download: (media: MediaRef) => call('media_download', { media }),
  usage: () => call('media_usage'),
  clear: (kind: CacheKind | null) => call('media_clear', { kind }),
  setCap: (bytes: number) => call('media_set_cap', { bytes }),
  streamBase: () => call('media_stream_base'),
};

export const sync = {
  now: () => call('sync_now'),
  overview: () => call('sync_overview'),
  setWorkOffline: (enabled: boolean) => call('set_work_offline', { enabled }),
  cancel: () => call('sync_cancel'),
  unsynced: () => call('unsynced_rows'),
  retry: (entity: EntityKind, id: string) => call('row_retry', { entity, id }),
  discard: (entity: EntityKind, id: string) => call('row_discard', { entity, id }),
  activity: (limit: number) => call('activity_log', { limit }),
  notices: () => call('notices_list'),
  dismissNotice: (id: number) => call('notice_dismiss', { id }),
  report: () => call('sync_report'),
  interval: () => call('sync_interval_get'),
  setInterval: (seconds: number) => call('sync_interval_set', { seconds }),
};

/** Whether the page runs inside the Tauri app (false in a plain browser). */
export const inTauri = isTauri;

/** Subscribes to the core's `core-event`; resolves to the function that unsubscribes. */
export function onCoreEvent(handler: (event: CoreEvent) => void): Promise<UnlistenFn> {
  return listen<CoreEvent>('core-event', (event) => handler(event.payload)).catch((error) => {
    throw toErrorPayload(error);
  });
}
