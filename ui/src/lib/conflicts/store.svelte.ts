/** The conflict dialog and the conflict history: which row is open, its versions, and settling it. */
import { reportError } from '$lib/app/report';
import { conflicts as api } from '$lib/backend';
import type { ConflictChoice } from '$lib/bindings/ConflictChoice';
import type { ConflictDetail } from '$lib/bindings/ConflictDetail';
import type { ConflictRecord } from '$lib/bindings/ConflictRecord';
import type { EntityKind } from '$lib/bindings/EntityKind';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import { describeError } from '$lib/ui/errors';
import { toasts } from '$lib/ui/toasts.svelte';

export type RowRef = { entity: EntityKind; id: string };

const RESOLVED: Record<ConflictChoice['choice'], string> = {
  keep_mine: 'Conflict resolved: your version was kept',
  use_server: 'Conflict resolved: the server’s version is used',
  merged: 'Conflict resolved: the versions were merged',
};

/** The row's name as the dialog shows it. */
export function titleOf(fields: Record<string, unknown> | null | undefined): string {
  const value = fields?.name ?? fields?.title;
  return typeof value === 'string' && value.trim() ? value : 'Untitled';
}

export class ConflictStore {
  /** The row whose conflict dialog is open. */
  row = $state<RowRef | null>(null);
  detail = $state<ConflictDetail | null>(null);
  loading = $state(false);
  /** Why the detail could not be loaded (the dialog says so instead of the versions). */
  error = $state('');
  resolving = $state(false);

  /** The row whose conflict history is open. */
  historyOf = $state<(RowRef & { title: string }) | null>(null);
  records = $state<ConflictRecord[]>([]);
  historyLoading = $state(false);
  restoring = $state(false);

  #request = 0;

  /** Opens the conflict dialog of a row and loads both versions. */
  async open(entity: EntityKind, id: string): Promise<void> {
    const request = ++this.#request;
    this.row = { entity, id };
    this.detail = null;
    this.error = '';
    this.loading = true;
    try {
      const detail = await api.detail(entity, id);
      if (request === this.#request) this.detail = detail;
    } catch (error) {
      if (request !== this.#request) return;
      const e = error as ErrorPayload;
      this.error =
        e.code === 'not_found' ? 'This conflict has already been settled (perhaps on another device).' : describeError(e);
    } finally {
      if (request === this.#request) this.loading = false;
    }
  }

  close(): void {
    this.#request++;
    this.row = null;
    this.detail = null;
    this.error = '';
    this.loading = false;
  }

  /** Settles the open conflict; the core pushes the result. Resolves true when done. */
  async resolve(choice: ConflictChoice): Promise<boolean> {
    const row = this.row;
    if (!row || this.resolving) return false;
    this.resolving = true;
    try {
      await api.resolve(row.entity, row.id, choice);
      toasts.show(RESOLVED[choice.choice], 'info');
      this.close();
      return true;
    } catch (error) {
      reportError(error as ErrorPayload);
      return false;
    } finally {
      this.resolving = false;
    }
  }

  /** Opens the list of versions that lost a conflict for a row. */
  async openHistory(entity: EntityKind, id: string, title: string): Promise<void> {
    this.historyOf = { entity, id, title };
    this.records = [];
    this.historyLoading = true;
    try {
      const records = await api.history(entity, id);
      if (this.historyOf?.id === id) this.records = records;
    } catch (error) {
      reportError(error as ErrorPayload);
    } finally {
      this.historyLoading = false;
    }
  }

  closeHistory(): void {
    this.historyOf = null;
    this.records = [];
  }

  /** Brings back a version from the history (as an edit, or as a new row if it was deleted). */
  async restore(historyId: number): Promise<boolean> {
    if (this.restoring) return false;
    this.restoring = true;
    try {
      await api.restore(historyId);
      toasts.show('Version restored. It will sync to your other devices.', 'info');
      return true;
    } catch (error) {
      reportError(error as ErrorPayload);
      return false;
    } finally {
      this.restoring = false;
    }
  }
}

export const conflictStore = new ConflictStore();
