/** Applies the core's `core-event`s to the stores. */
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { EntityKind } from '$lib/bindings/EntityKind';
import { customEventStore } from '$lib/events/store.svelte';
import { heroStore } from '$lib/heroes/store.svelte';
import { session } from '$lib/session/store.svelte';
import { mediaEvents } from '$lib/stories/media-events.svelte';
import { storyStore } from '$lib/stories/store.svelte';
import { noticeStore } from '$lib/conflicts/notices.svelte';
import { profileStore } from '$lib/profile/store.svelte';
import { syncPanel } from '$lib/sync/panel.svelte';
import { syncStore } from '$lib/sync/store.svelte';
import { reportError } from './report';

/** The store that lists each entity the app shows; `data_changed` refetches that one only. */
const LISTS: Partial<Record<EntityKind, { refresh(): Promise<void> }>> = {
  hero: heroStore,
  story: storyStore,
  custom_event: customEventStore,
};

export function handleCoreEvent(event: CoreEvent): void {
  switch (event.type) {
    case 'data_changed':
      if (session.account) void LISTS[event.entity]?.refresh();
      if (session.account && event.entity === 'user_profile') void profileStore.refresh();
      syncPanel.changed();
      break;
    case 'overview':
      syncStore.overview = event.overview;
      syncPanel.changed();
      break;
    case 'sync_progress':
      syncPanel.onProgress(event.progress);
      break;
    case 'notice':
      noticeStore.add(event.notice);
      break;

    case 'sync_failed':
      reportError(event.error);
      break;
    case 'session_expired':
      session.expired = true;
      break;
    case 'media_progress':
    case 'media_ready':
    case 'media_failed':
      mediaEvents.emit(event);
      break;
  }
}
