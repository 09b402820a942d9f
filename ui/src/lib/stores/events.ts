import type { CoreEvent } from '$lib/bindings/CoreEvent';
import { heroStore } from './heroes.svelte';
import { reportError } from './report';
import { session } from './session.svelte';
import { syncStore } from './sync.svelte';

/** Applies one `core-event` from the core to the stores. */
export function handleCoreEvent(event: CoreEvent): void {
  switch (event.type) {
    case 'data_changed':
      if (session.account) void heroStore.refresh();
      break;
    case 'overview':
      syncStore.overview = event.overview;
      break;
    case 'sync_failed':
      reportError(event.error);
      break;
    case 'session_expired':
      session.expired = true;
      break;
  }
}
