/** Conflict history and notices in plain words. */
import type { ConflictRecord } from '$lib/bindings/ConflictRecord';
import type { EntityKind } from '$lib/bindings/EntityKind';
import type { Notice } from '$lib/bindings/Notice';
import { ENTITY_NOUNS, fieldLabel } from './fields';

/** How a conflict was settled, as a sentence. */
export function resolutionText(resolution: string): string {
  switch (resolution) {
    case 'server_wins':
      return 'The other device’s version was kept automatically.';
    case 'local_wins':
      return 'This device’s version was kept automatically.';
    case 'merge':
      return 'The two versions were merged automatically.';
    case 'last_write_wins':
      return 'The most recent change was kept automatically.';
    case 'server_deleted':
      return 'It was deleted on another device.';
    case 'user_chose_server':
      return 'You chose the version from the server.';
    case 'user_chose_local':
      return 'You kept your version.';
    case 'user_merged':
      return 'You merged the two versions.';
    default:
      return 'The conflict was settled.';
  }
}

/** Whether the version that lost is the server's (this device's won), else this device's. */
export function serverLost(resolution: string): boolean {
  return resolution === 'local_wins' || resolution === 'user_chose_local';
}

/** The version Restore brings back, and the one that won. */
export function losingVersion(record: ConflictRecord): {
  lost: Record<string, unknown>;
  won: Record<string, unknown>;
  label: string;
} {
  return serverLost(record.resolution)
    ? { lost: record.server, won: record.local, label: 'The other device’s version' }
    : { lost: record.local, won: record.server, label: 'Your version' };
}

/** "Name", "Name and Age", "Name, Age and Traits". */
export function fieldList(entity: EntityKind, fields: readonly string[]): string {
  const labels = fields.map((f) => fieldLabel(entity, f).toLowerCase());
  if (labels.length <= 1) return labels.join('');
  return `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
}

export function noticeHeadline(notice: Notice): string {
  switch (notice.reason) {
    case 'replaced':
      return 'Your change was replaced';
    case 'dropped':
      return 'Your change was not kept';
    case 'deleted_elsewhere':
      return 'Deleted on another device';
  }
}

/** What happened to the user's edit, after the item's name (shown on its own as user text). */
export function noticeBody(notice: Notice): string {
  const noun = ENTITY_NOUNS[notice.entity];
  const what = notice.fields.length ? `Your changes to the ${fieldList(notice.entity, notice.fields)}` : 'Your changes';
  switch (notice.reason) {
    case 'replaced':
      return `${what} of this ${noun} were replaced by a newer version from another device.`;
    case 'dropped':
      return `${what} of this ${noun} were changed on another device too, and that version was kept.`;
    case 'deleted_elsewhere':
      return `This ${noun} was deleted on another device, with your recent changes. You can bring it back.`;
  }
}

/** The notice's action: see what changed (the history), or restore the deleted row. */
export function noticeAction(notice: Notice): 'restore' | 'history' | null {
  if (notice.reason === 'deleted_elsewhere') return notice.history_id !== null ? 'restore' : null;
  return 'history';
}
