/** The hero list as the core's cache has it, with optimistic removal. */
import { heroes as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroView } from '$lib/bindings/HeroView';
import { reportError } from './report';

function upsert(list: readonly HeroView[], hero: HeroView): HeroView[] {
  const index = list.findIndex((h) => h.id === hero.id);
  if (index < 0) return [hero, ...list];
  const next = [...list];
  next[index] = hero;
  return next;
}

export class HeroStore {
  /** Raw (not deeply reactive): lists can hold 10,000 heroes and are replaced whole. */
  items = $state.raw<HeroView[]>([]);
  /** False until the first list arrived, so the empty state doesn't flash. */
  loaded = $state(false);

  /** Heroes whose delete is on its way to the core: kept out of lists fetched meanwhile. */
  #deleting = new Set<string>();
  #inflight: Promise<void> | null = null;
  #stale = false;

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
        const list = await api.list();
        this.items = this.#deleting.size ? list.filter((h) => !this.#deleting.has(h.id)) : list;
        this.loaded = true;
      } catch (error) {
        reportError(error as ErrorPayload);
        return;
      }
    } while (this.#stale);
  }

  /** Forgets the list (on sign-out, so another account never sees it). */
  clear(): void {
    this.items = [];
    this.loaded = false;
  }

  /** Creates a hero; rejects with an `ErrorPayload` for the form to show. */
  async create(input: HeroInput): Promise<HeroView> {
    const hero = await api.create(input);
    this.items = upsert(this.items, hero);
    void this.refresh();
    return hero;
  }

  /** Saves the whole form; rejects with an `ErrorPayload` for the form to show. */
  async update(id: string, input: HeroInput): Promise<HeroView> {
    const hero = await api.update(id, input);
    this.items = upsert(this.items, hero);
    void this.refresh();
    return hero;
  }

  /** Removes the hero from the list at once, then tells the core. */
  async delete(id: string): Promise<void> {
    this.#deleting.add(id);
    this.items = this.items.filter((h) => h.id !== id);
    try {
      await api.delete(id);
    } catch (error) {
      reportError(error as ErrorPayload);
    } finally {
      this.#deleting.delete(id);
      void this.refresh();
    }
  }

  async retry(id: string): Promise<void> {
    try {
      this.items = upsert(this.items, await api.retry(id));
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }

  async discard(id: string): Promise<void> {
    try {
      await api.discard(id);
    } catch (error) {
      reportError(error as ErrorPayload);
    }
    await this.refresh();
  }
}

export const heroStore = new HeroStore();
