/** "Sync changed something you wrote": the notices the core keeps until the user dismisses them. */
import { reportError } from '$lib/app/report';
import { sync as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { Notice } from '$lib/bindings/Notice';

export class NoticeStore {
  /** Newest first. */
  items = $state<Notice[]>([]);

  async load(): Promise<void> {
    try {
      this.items = sortNotices(await api.notices());
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }

  /** A notice pushed by the core (the `notice` event); a repeat replaces the one shown. */
  add(notice: Notice): void {
    this.items = sortNotices([notice, ...this.items.filter((n) => n.id !== notice.id)]);
  }

  /** Hides a notice at once and tells the core; puts it back if that fails. */
  async dismiss(id: number): Promise<void> {
    const before = this.items;
    this.items = this.items.filter((n) => n.id !== id);
    try {
      await api.dismissNotice(id);
    } catch (error) {
      this.items = before;
      reportError(error as ErrorPayload);
    }
  }

  clear(): void {
    this.items = [];
  }
}

function sortNotices(notices: Notice[]): Notice[] {
  return [...notices].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
}

export const noticeStore = new NoticeStore();
