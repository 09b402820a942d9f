/** What needs the server (generating a story, a narration, illustrations), and why it can't now. */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { SyncOverview } from '$lib/bindings/SyncOverview';

/** What is being asked of the server, for the sentence that explains why it can't be. */
export type Generated = 'a story' | 'a narration' | 'illustrations' | 'a narration or illustrations';

/** The error codes that mean "the server is out of reach" rather than "it said no". */
const UNREACHABLE = new Set(['offline', 'server_unreachable', 'unavailable', 'request_timeout']);

/**
 * Why generating can't start now, or null when it may. Generation needs the server: with
 * Work offline on, no network, or the server out of reach, the dialog says so and its
 * button stays disabled. An unknown overview (not loaded yet) does not block.
 */
export function generationBlocked(overview: SyncOverview | null, what: Generated = 'a story'): string | null {
  if (!overview) return null;
  if (overview.work_offline) {
    return `${offlineMessage(what)} Work offline is on: switch it off in the header to generate.`;
  }
  switch (overview.network) {
    case 'online':
      return null;
    case 'offline':
      return offlineMessage(what);
    case 'server_unreachable':
      return `The Infinite Stories server can't be reached right now — generating ${what} needs it. Everything else works offline.`;
  }
}

export function offlineMessage(what: Generated = 'a story'): string {
  return `You're offline — generating ${what} needs the Infinite Stories server. Everything else works offline.`;
}

/** The same explanation for a call that failed because the server was out of reach, else null. */
export function unreachableMessage(error: ErrorPayload, what: Generated = 'a story'): string | null {
  return UNREACHABLE.has(error.code) ? offlineMessage(what) : null;
}
