/** The hero list as the core's cache has it, and the hero commands that change it. */
import { reportError } from '$lib/app/report';
import { heroes as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { HeroFilter } from '$lib/bindings/HeroFilter';
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroView } from '$lib/bindings/HeroView';
import { PagedStore } from '$lib/ui/paged-store.svelte';
import { heroPlacement } from './hero';

/** The hero list, a window at a time (an account may have thousands of heroes). */
export class HeroStore extends PagedStore<HeroView, HeroFilter> {
  constructor() {
    super({
      fetch: api.page,
      report: reportError,
      name: 'heroes',
      filter: { text: null },
      place: heroPlacement,
    });
  }

  /** Creates a hero; rejects with an `ErrorPayload` for the form to show. */
  create(input: HeroInput): Promise<HeroView> {
    return this.saveNew(api.create(input));
  }

  /** Saves the whole form; rejects with an `ErrorPayload` for the form to show. */
  update(id: string, input: HeroInput): Promise<HeroView> {
    return this.save(api.update(id, input));
  }

  /** Removes the hero from the list at once, then tells the core. */
  delete(id: string): Promise<void> {
    return this.remove(id, () => api.delete(id));
  }

  /** Queues a change that failed to sync once more. */
  async retry(id: string): Promise<void> {
    try {
      this.upsert(await api.retry(id));
    } catch (error) {
      reportError(error as ErrorPayload);
    }
  }

  /** Throws away a change that failed to sync, keeping what the server has. */
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
