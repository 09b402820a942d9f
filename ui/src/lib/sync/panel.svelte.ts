/** The Sync panel's data: the rows the server lacks, the activity log, a first sync's progress. */
import { reportError } from '$lib/app/report';
import { conflicts as conflictApi, sync as api } from '$lib/backend';
import type { ConflictSummary } from '$lib/bindings/ConflictSummary';
import type { ActivityEntry } from '$lib/bindings/ActivityEntry';
import type { EntityKind } from '$lib/bindings/EntityKind';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { SyncProgress } from '$lib/bindings/SyncProgress';
import type { UnsyncedRow } from '$lib/bindings/UnsyncedRow';
import { toasts } from '$lib/ui/toasts.svelte';

export const ACTIVITY_LIMIT = 30;

export class SyncPanelStore {
  /** The panel is on screen: core events refresh it. */
  visible = $state(false);
  rows = $state<UnsyncedRow[]>([]);
  activity = $state<ActivityEntry[]>([]);
  /** The fields each conflicting row differs in, by id. */
  conflictFields = $state<Record<string, string[]>>({});
  loaded = $state(false);
  /** The current pull's progress (from `sync_progress`), until it is done. */
  progress = $state<SyncProgress | null>(null);
  /** Rows with a Retry or Discard running. */
  busy = $state<string[]>([]);

  readonly conflicts = $derived(this.rows.filter((r) => r.sync.status === 'conflict'));
  readonly failed = $derived(this.rows.filter((r) => r.sync.status === 'failed'));
  readonly pending = $derived(this.rows.filter((r) => r.sync.status.startsWith('pending')));

  #refreshing: Promise<void> | null = null;
  #again = false;

  show(): void {
    this.visible = true;
    void this.refresh();
  }

  hide(): void {
    this.visible = false;
  }

  /** Reloads rows and activity; calls during a refresh coalesce into one more. */
  async refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        try {
          const [rows, activity, conflicts] = await Promise.all([
            api.unsynced(),
            api.activity(ACTIVITY_LIMIT),
            conflictApi.list().catch((): ConflictSummary[] => []),
          ]);
          this.rows = rows;
          this.activity = activity;
          this.conflictFields = Object.fromEntries(conflicts.map((c) => [`${c.entity}:${c.id}`, c.fields]));
          this.loaded = true;
        } catch (error) {
          reportError(error as ErrorPayload);
        }
      } while (this.#again);
    })();
    try {
      await this.#refreshing;
    } finally {
      this.#refreshing = null;
    }
  }

  /** A core event that may change what the panel shows. */
  changed(): void {
    if (this.visible) void this.refresh();
  }

  onProgress(progress: SyncProgress): void {
    this.progress = progress.done ? null : progress;
  }

  async retry(entity: EntityKind, id: string): Promise<void> {
    await this.#run(id, () => api.retry(entity, id));
  }

  async discard(entity: EntityKind, id: string): Promise<void> {
    if (await this.#run(id, () => api.discard(entity, id))) toasts.show('Change discarded', 'info');
  }

  async cancel(): Promise<void> {
    try {
      await api.cancel();
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }

  async #run(id: string, action: () => Promise<unknown>): Promise<boolean> {
    if (this.busy.includes(id)) return false;
    this.busy = [...this.busy, id];
    try {
      await action();
      return true;
    } catch (error) {
      reportError(error as ErrorPayload);
      return false;
    } finally {
      this.busy = this.busy.filter((b) => b !== id);
      await this.refresh();
    }
  }
}

export const syncPanel = new SyncPanelStore();

/** The sync report as a file name the user can find again. */
export function reportFileName(at: Date = new Date()): string {
  return `infinite-stories-sync-report-${at.toISOString().slice(0, 19).replace(/:/g, '-')}.json`;
}

/** Saves the core's sync report: a download of the JSON. */
export async function saveReport(): Promise<void> {
  try {
    const json = await api.report();
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = reportFileName();
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    toasts.show('Sync report saved to your downloads', 'info');
  } catch (error) {
    reportError(error as ErrorPayload);
  }
}

/** Copies the sync report to the clipboard (to paste into a support email). */
export async function copyReport(): Promise<void> {
  try {
    const json = await api.report();
    await navigator.clipboard.writeText(json);
    toasts.show('Sync report copied', 'info');
  } catch (error) {
    reportError(error as ErrorPayload);
  }
}
