/** The Sync panel's sentences: why the app is (not) online, what a sync run did, why a change failed. */
import type { ActivityEntry } from '$lib/bindings/ActivityEntry';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import type { SyncProgress } from '$lib/bindings/SyncProgress';
import { formatCount, plural } from '$lib/ui/format';

export type NetworkTone = 'ok' | 'off' | 'warn' | 'danger';
export type NetworkReason = { tone: NetworkTone; label: string; why: string };

/** The network state and why, in words (work offline and the session come first). */
export function networkReason(overview: SyncOverview, sessionExpired = false): NetworkReason {
  if (overview.work_offline) {
    return {
      tone: 'off',
      label: 'Working offline',
      why: 'You switched on Work offline. Everything stays on this device until you switch it off.',
    };
  }
  if (!overview.account) {
    return { tone: 'danger', label: 'Signed out', why: 'Sign in to sync your heroes and stories with your other devices.' };
  }
  if (sessionExpired || (overview.paused_reason && /session|sign|auth|401/i.test(overview.paused_reason))) {
    return {
      tone: 'danger',
      label: 'Session expired',
      why: 'Sign in again to sync. Your changes are kept on this device meanwhile.',
    };
  }
  switch (overview.network) {
    case 'offline':
      return {
        tone: 'off',
        label: 'Offline',
        why: 'This computer isn’t connected to the internet. Your changes are saved here and sync when it’s back.',
      };
    case 'server_unreachable':
      return {
        tone: 'warn',
        label: 'Server unreachable',
        why: 'You’re connected, but the Infinite Stories server isn’t answering. The app keeps trying on its own.',
      };
    case 'online':
      return overview.paused_reason
        ? { tone: 'warn', label: 'Sync paused', why: 'Sync is paused for now; your changes are kept on this device.' }
        : { tone: 'ok', label: 'Online', why: 'Connected. Changes sync on their own in the background.' };
  }
}

const TRIGGERS: Record<string, string> = {
  launch: 'when the app started',
  focus: 'when you came back to the app',
  local_change: 'after you changed something',
  network_restored: 'when the connection came back',
  periodic: 'on schedule',
  manual: 'because you asked',
  retry: 'to retry a change',
  resume: 'when the computer woke up',
  watchdog: 'by a health check',
};

/** What started a sync: "on schedule", "because you asked". */
export function triggerText(trigger: string): string {
  return TRIGGERS[trigger] ?? 'automatically';
}

/** An error code of a sync run as a sentence (never the server's raw wording). */
export function errorCodeText(code: string | null): string {
  switch (code) {
    case 'offline':
      return 'Couldn’t reach the server';
    case 'unauthorized':
      return 'Your session expired; sign in again to sync';
    case 'forbidden':
      return 'The server didn’t allow this';
    case 'rate_limited':
      return 'The server was busy; it will be tried again shortly';
    case 'request_timeout':
      return 'The server took too long to answer';
    case 'unavailable':
      return 'The server was temporarily unavailable';
    case 'server':
      return 'The server had a problem; it will be tried again';
    case 'payload_too_large':
      return 'A change was too large to send';
    case 'cursor_expired':
      return 'The app had to download everything again';
    case 'cancelled':
      return 'Cancelled';
    case 'internal':
      return 'Something went wrong on this computer';
    case 'not_signed_in':
      return 'Not signed in';
    default:
      return 'Sync didn’t finish';
  }
}

export type ActivityLine = { tone: 'ok' | 'warn' | 'error' | 'muted'; text: string };

/** One sync run in words: "Synced 3 changes, received 12". */
export function activityLine(entry: ActivityEntry): ActivityLine {
  switch (entry.outcome) {
    case 'ok': {
      const parts: string[] = [];
      if (entry.applied > 0) parts.push(`Synced ${plural(entry.applied, 'change', 'changes')}`);
      if (entry.pulled > 0) parts.push(`${parts.length ? 'received' : 'Received'} ${formatCount(entry.pulled)}`);
      if (entry.conflicts > 0) parts.push(plural(entry.conflicts, 'conflict', 'conflicts'));
      if (entry.rejected > 0) parts.push(`${formatCount(entry.rejected)} refused by the server`);
      if (entry.failed > 0) parts.push(`${formatCount(entry.failed)} to retry`);
      const warn = entry.conflicts + entry.rejected + entry.failed > 0;
      return { tone: warn ? 'warn' : 'ok', text: parts.length ? parts.join(', ') : 'Everything was up to date' };
    }
    case 'offline':
      return { tone: 'muted', text: 'Couldn’t reach the server' };
    case 'throttled':
      return { tone: 'warn', text: 'The server asked to wait a little; it will be tried again' };
    case 'cancelled':
      return { tone: 'muted', text: 'Cancelled' };
    case 'note':
      return { tone: 'muted', text: entry.message ?? 'Note' };
    case 'error': {
      const done = entry.applied > 0 ? ` (after syncing ${plural(entry.applied, 'change', 'changes')})` : '';
      return { tone: 'error', text: errorCodeText(entry.error_code) + done };
    }
  }
}

/** A status code as a sentence. */
export function statusText(status: number): string {
  if (status === 401) return 'Your session expired; sign in again to sync it.';
  if (status === 403) return 'The server doesn’t allow this change.';
  if (status === 404) return 'It no longer exists on the server.';
  if (status === 408) return 'The server took too long to answer.';
  if (status === 409) return 'It was changed on another device at the same time.';
  if (status === 413) return 'This change is too large to send.';
  if (status === 429) return 'The server was busy.';
  if (status === 400 || status === 422) return 'The server refused this change as invalid.';
  if (status >= 500) return 'The server had a problem.';
  return 'The server refused this change.';
}

/** Why a row failed to sync, in plain words (the server's own reason when it gave one). */
export function failureReason(error: string | null): string {
  if (!error) return 'The last try failed.';
  const status = /(?:answered|error)\s*\(?\s*(\d{3})\b/i.exec(error);
  if (status) return statusText(Number(status[1]));
  if (/could not be reached/i.test(error)) return 'The server couldn’t be reached.';
  if (/did not answer in time/i.test(error)) return 'The server took too long to answer.';
  if (/unreadable answer/i.test(error)) return 'The server sent an answer the app couldn’t read.';
  return error;
}

/** "1,240 received, about 3,000 left", and the bar's fraction when it can be known. */
export function progressText(progress: SyncProgress): { text: string; fraction: number | null } {
  const received = `${formatCount(progress.received)} received`;
  if (progress.done) return { text: `All received (${formatCount(progress.received)})`, fraction: 1 };
  if (progress.remaining === null) return { text: received, fraction: null };
  const total = progress.received + progress.remaining;
  return {
    text: `${received}, about ${formatCount(progress.remaining)} left`,
    fraction: total > 0 ? progress.received / total : null,
  };
}
