/** The core's sync overview (network, pending counts) and manual syncing. */
import { reportError } from '$lib/app/report';
import { sync as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import { toasts } from '$lib/ui/toasts.svelte';
import { syncReportMessage } from './labels';

export class SyncStore {
  overview = $state<SyncOverview | null>(null);
  #requested = $state(false);
  /** A sync is running, whoever started it. */
  syncing = $derived(this.#requested || (this.overview?.syncing ?? false));

  async refresh(): Promise<void> {
    try {
      this.overview = await api.overview();
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }

  /** Runs a sync now (button, shortcut, pull-to-refresh); resolves when it has finished. */
  async now(): Promise<void> {
    if (this.#requested) return;
    if (this.overview?.work_offline) {
      toasts.show('Work offline is on. Switch it off to sync.', 'info');
      return;
    }
    this.#requested = true;
    try {
      const message = syncReportMessage(await api.now());
      if (message) toasts.show(message, 'info');
    } catch (error) {
      reportError(error as ErrorPayload);
    } finally {
      this.#requested = false;
    }
    await this.refresh();
  }

  async setWorkOffline(enabled: boolean): Promise<void> {
    try {
      this.overview = await api.setWorkOffline(enabled);
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }
}

export const syncStore = new SyncStore();
