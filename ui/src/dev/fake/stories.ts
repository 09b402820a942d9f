/** The fake core's stories, custom events and profile (filled in with the story screens). */
import type { StorySummary } from '$lib/bindings/StorySummary';
import { fail, pageOf, type Handlers } from './context';

export function storyHandlers(): Handlers<
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
  | 'custom_events_list'
  | 'custom_event_create'
  | 'custom_event_update'
  | 'custom_event_delete'
  | 'custom_event_favorite'
  | 'profile_get'
  | 'profile_update'
  | 'usage_get'
> {
  const stories: StorySummary[] = [];
  const todo = (): never => fail('internal', 'Not in the fake core yet');
  return {
    stories_page: ({ window }) => pageOf(stories, window),
    story_get: todo,
    story_create: todo,
    story_update: todo,
    story_delete: todo,
    story_favorite: todo,
    story_played: todo,
    story_retry: todo,
    story_discard: todo,
    story_generate: todo,
    story_illustrations: todo,
    custom_events_list: () => [],
    custom_event_create: todo,
    custom_event_update: todo,
    custom_event_delete: todo,
    custom_event_favorite: todo,
    profile_get: todo,
    profile_update: todo,
    usage_get: todo,
  };
}
