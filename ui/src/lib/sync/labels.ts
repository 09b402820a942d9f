/** What the sync indicators say: network state, pending counts, row badges, sync reports. */
import type { NetworkState } from '$lib/bindings/NetworkState';
import type { PendingOp } from '$lib/bindings/PendingOp';
import type { RowSync } from '$lib/bindings/RowSync';
import type { SyncReport } from '$lib/bindings/SyncReport';
import type { SyncStatus } from '$lib/bindings/SyncStatus';
import { plural, relativeTime } from '$lib/ui/format';

export function pendingSummary(pending: number): string {
  return `${plural(pending, 'change', 'changes')} waiting to sync`;
}

export function networkLabel(network: NetworkState, workOffline: boolean): string {
  switch (network) {
    case 'online':
      return 'Online';
    case 'offline':
      return workOffline ? 'Working offline' : 'Offline';
    case 'server_unreachable':
      return 'Server unreachable';
  }
}

export type BadgeTone = 'synced' | 'pending' | 'failed' | 'conflict';
export type Badge = { tone: BadgeTone; label: string; detail: string };

const PENDING_DETAIL = {
  pending_create: 'New hero, not on your other devices yet.',
  pending_update: 'Changes not on your other devices yet.',
  pending_delete: 'Deletion not on your other devices yet.',
} satisfies Partial<Record<SyncStatus, string>>;

const FAILED_WHAT: Record<PendingOp, string> = {
  create: 'Adding this hero',
  update: 'Saving these changes',
  delete: 'Deleting this hero',
};

/** Wording of a row's sync badge; `syncing` is true while a sync is running. */
export function syncBadge(sync: RowSync, syncing: boolean, now: Date = new Date()): Badge {
  switch (sync.status) {
    case 'synced':
      return {
        tone: 'synced',
        label: 'Synced',
        detail: sync.last_synced_at
          ? `Synced ${relativeTime(sync.last_synced_at, now)}.`
          : 'Synced.',
      };
    case 'pending_create':
    case 'pending_update':
    case 'pending_delete': {
      const retry =
        sync.error && sync.next_attempt_at
          ? ` Last try failed (${sync.error}); trying again ${relativeTime(sync.next_attempt_at, now)}.`
          : '';
      return {
        tone: 'pending',
        label: syncing ? 'Saving…' : 'Waiting to sync',
        detail: PENDING_DETAIL[sync.status] + retry,
      };
    }
    case 'failed': {
      const reason = sync.error ? `: ${sync.error}` : '.';
      const next = sync.given_up
        ? ` Gave up after ${plural(sync.attempts, 'try', 'tries')}. Retry or discard.`
        : sync.next_attempt_at
          ? ` Trying again ${relativeTime(sync.next_attempt_at, now)}.`
          : '';
      return {
        tone: 'failed',
        label: sync.given_up ? 'Gave up' : 'Couldn’t sync',
        detail: `${FAILED_WHAT[sync.op ?? 'update']} failed${reason}${next}`,
      };
    }
    case 'conflict':
      return {
        tone: 'conflict',
        label: 'Conflict',
        detail: 'Changed on another device at the same time. Resolving conflicts is coming soon.',
      };
  }
}

/** What a manual sync should tell the user, or null when everything went through. */
export function syncReportMessage(report: SyncReport): string | null {
  const parts: string[] = [];
  if (report.conflicts > 0) parts.push(`${plural(report.conflicts, 'conflict needs', 'conflicts need')} a look`);
  if (report.rejected > 0) {
    parts.push(`${plural(report.rejected, 'change was', 'changes were')} refused by the server`);
  }
  if (report.failed > 0) parts.push(`${plural(report.failed, 'change', 'changes')} will be retried`);
  return parts.length ? `Synced, but ${parts.join('; ')}.` : null;
}
