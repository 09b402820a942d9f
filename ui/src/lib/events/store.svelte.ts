/** The user's custom events (a short list: loaded whole) and the commands that change them. */
import { reportError } from '$lib/app/report';
import { customEvents as api } from '$lib/backend';
import type { CustomEventInput } from '$lib/bindings/CustomEventInput';
import type { CustomEventView } from '$lib/bindings/CustomEventView';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import { byFavoriteThenTitle } from './event';

export class CustomEventStore {
  /** Favourites first, then by title. */
  items = $state.raw<CustomEventView[]>([]);
  loaded = $state(false);
  #inflight: Promise<void> | null = null;
  #stale = false;

  /** Reloads the list; calls made while one runs coalesce into one more. */
  refresh(): Promise<void> {
    if (this.#inflight) {
      this.#stale = true;
      return this.#inflight;
    }
    this.#inflight = (async () => {
      do {
        this.#stale = false;
        try {
          this.#set(await api.list());
          this.loaded = true;
        } catch (error) {
          reportError(error as ErrorPayload);
          return;
        }
      } while (this.#stale);
    })().finally(() => (this.#inflight = null));
    return this.#inflight;
  }

  get(id: string): CustomEventView | undefined {
    return this.items.find((e) => e.id === id);
  }

  /** Rejects with an `ErrorPayload` for the form to show. */
  async create(input: CustomEventInput): Promise<CustomEventView> {
    const event = await api.create(input);
    this.#put(event);
    return event;
  }

  /** Rejects with an `ErrorPayload` for the form to show. */
  async update(id: string, input: CustomEventInput): Promise<CustomEventView> {
    const event = await api.update(id, input);
    this.#put(event);
    return event;
  }

  /** The star changes at once and goes back if the core refuses. */
  async favorite(id: string, favorite: boolean): Promise<void> {
    const before = this.get(id);
    if (!before) return;
    this.#put({ ...before, is_favorite: favorite });
    try {
      this.#put(await api.favorite(id, favorite));
    } catch (error) {
      const now = this.get(id);
      if (now) this.#put({ ...now, is_favorite: before.is_favorite });
      reportError(error as ErrorPayload);
    }
  }

  /** Removes it from the list at once; if the core refuses, it comes back. */
  async delete(id: string): Promise<void> {
    this.items = this.items.filter((e) => e.id !== id);
    try {
      await api.delete(id);
    } catch (error) {
      reportError(error as ErrorPayload);
      await this.refresh();
    }
  }

  clear(): void {
    this.items = [];
    this.loaded = false;
  }

  #put(event: CustomEventView): void {
    this.#set([...this.items.filter((e) => e.id !== event.id), event]);
  }

  #set(items: CustomEventView[]): void {
    this.items = [...items].sort(byFavoriteThenTitle);
  }
}

export const customEventStore = new CustomEventStore();
