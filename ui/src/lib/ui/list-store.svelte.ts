/**
 * A list as the core's cache has it: loaded whole, refetched when the core says it changed,
 * and updated at once when the user saves or deletes. Each entity's store builds on it.
 */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';

export type ListStoreOptions<T> = {
  /** Loads the whole list from the core. */
  fetch: () => Promise<T[]>;
  /** Shows an error that no form owns (a failed refresh or removal). */
  report: (error: ErrorPayload) => void;
};

export class ListStore<T extends { id: string }> {
  /** Raw (not deeply reactive): lists can hold 10,000 items and are replaced whole. */
  items = $state.raw<T[]>([]);
  /** False until the first list arrived, so the empty state doesn't flash. */
  loaded = $state(false);

  readonly #fetch: () => Promise<T[]>;
  readonly #report: (error: ErrorPayload) => void;
  /** Items whose removal is on its way to the core: kept out of lists fetched meanwhile. */
  #deleting = new Set<string>();
  #inflight: Promise<void> | null = null;
  #stale = false;

  constructor({ fetch, report }: ListStoreOptions<T>) {
    this.#fetch = fetch;
    this.#report = report;
  }

  /** Refetches the list; calls made while one is running coalesce into one more fetch. */
  refresh(): Promise<void> {
    if (this.#inflight) {
      this.#stale = true;
      return this.#inflight;
    }
    this.#inflight = this.#fetchUntilFresh().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #fetchUntilFresh(): Promise<void> {
    do {
      this.#stale = false;
      try {
        const list = await this.#fetch();
        this.items = this.#deleting.size ? list.filter((item) => !this.#deleting.has(item.id)) : list;
        this.loaded = true;
      } catch (error) {
        this.#report(error as ErrorPayload);
        return;
      }
    } while (this.#stale);
  }

  /** Forgets the list (on sign-out, so another account never sees it). */
  clear(): void {
    this.items = [];
    this.loaded = false;
  }

  /** Replaces the item with the same id, or puts a new one first. */
  upsert(item: T): void {
    const index = this.items.findIndex((i) => i.id === item.id);
    if (index < 0) {
      this.items = [item, ...this.items];
      return;
    }
    const next = [...this.items];
    next[index] = item;
    this.items = next;
  }

  /**
   * Shows what a create or update returned at once, then refetches for its place in the
   * list. Rejects as `write` does (with an `ErrorPayload` for the form to show).
   */
  async save(write: Promise<T>): Promise<T> {
    const item = await write;
    this.upsert(item);
    void this.refresh();
    return item;
  }

  /**
   * Takes the item out of the list at once, then runs `send` (the delete command). If that
   * fails, the error is reported and the refetch that follows brings the item back.
   */
  async remove(id: string, send: () => Promise<unknown>): Promise<void> {
    this.#deleting.add(id);
    this.items = this.items.filter((item) => item.id !== id);
    try {
      await send();
    } catch (error) {
      this.#report(error as ErrorPayload);
    } finally {
      this.#deleting.delete(id);
      void this.refresh();
    }
  }
}
