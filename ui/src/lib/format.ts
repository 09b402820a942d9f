/** Pure presentation helpers: counts, times, avatars and sync badge wording. */
import type { HeroTrait } from '$lib/bindings/HeroTrait';
import type { NetworkState } from '$lib/bindings/NetworkState';
import type { PendingOp } from '$lib/bindings/PendingOp';
import type { RowSync } from '$lib/bindings/RowSync';
import type { SyncReport } from '$lib/bindings/SyncReport';
import type { SyncStatus } from '$lib/bindings/SyncStatus';

/** Length in Unicode code points, which is how the core counts characters. */
export function charCount(text: string): number {
  return [...text].length;
}

export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export function pendingSummary(pending: number): string {
  return `${plural(pending, 'change', 'changes')} waiting to sync`;
}

export function traitLabel(trait: HeroTrait): string {
  return trait.charAt(0).toUpperCase() + trait.slice(1);
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

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
];

/** "just now", "5 minutes ago", "in 2 hours", then a date after a week. */
export function relativeTime(iso: string, now: Date = new Date(), locale?: string): string {
  const then = new Date(iso);
  let value = (then.getTime() - now.getTime()) / 1000;
  if (Number.isNaN(value)) return '';
  if (Math.abs(value) < 45) return value < 0 ? 'just now' : 'in a moment';
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(value) < size) return format.format(Math.round(value), unit);
    value /= size;
  }
  return then.toLocaleDateString(locale, { dateStyle: 'medium' });
}

/** The first letter of a name as a person would see it (emoji and accents included). */
export function initial(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) return '?';
  const [first] = new Intl.Segmenter().segment(trimmed);
  return first.segment.toLocaleUpperCase();
}

/** A stable hue (0-359) for an id, so a hero keeps its colour everywhere. */
export function avatarHue(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  // Final avalanche (murmur3 fmix32): ids that differ in one character get unrelated hues.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 360;
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
