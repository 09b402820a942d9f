/** The story list, a window at a time, and the story commands that change it. */
import { reportError } from '$lib/app/report';
import { stories as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { StoryFilter } from '$lib/bindings/StoryFilter';
import type { StoryInput } from '$lib/bindings/StoryInput';
import type { StorySummary } from '$lib/bindings/StorySummary';
import type { StoryView } from '$lib/bindings/StoryView';
import { PagedStore } from '$lib/ui/paged-store.svelte';

export const NO_FILTER: StoryFilter = { hero_id: null, favorites_only: false, text: null };

export class StoryStore extends PagedStore<StorySummary, StoryFilter> {
  constructor() {
    super({ fetch: api.page, report: reportError, filter: NO_FILTER });
  }

  /** Creates a story; rejects with an `ErrorPayload` for the form to show. */
  async create(input: StoryInput): Promise<StoryView> {
    const story = await api.create(input);
    await this.refresh();
    return story;
  }

  /** Saves the whole form; rejects with an `ErrorPayload` for the form to show. */
  async update(id: string, input: StoryInput): Promise<StoryView> {
    const story = await api.update(id, input);
    await this.refresh();
    return story;
  }

  async retry(id: string): Promise<void> {
    try {
      await api.retry(id);
    } catch (error) {
      reportError(error as ErrorPayload);
    }
    await this.refresh();
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

export const storyStore = new StoryStore();
