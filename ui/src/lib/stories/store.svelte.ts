/** The story list, a window at a time, and the story commands that change it. */
import { reportError } from '$lib/app/report';
import { stories as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { GenerateStoryInput } from '$lib/bindings/GenerateStoryInput';
import type { StoryFilter } from '$lib/bindings/StoryFilter';
import type { StoryInput } from '$lib/bindings/StoryInput';
import type { StorySummary } from '$lib/bindings/StorySummary';
import type { StoryView } from '$lib/bindings/StoryView';
import { PagedStore } from '$lib/ui/paged-store.svelte';
import { toasts } from '$lib/ui/toasts.svelte';
import { storyPlacement } from './story';

export const NO_FILTER: StoryFilter = { hero_id: null, favorites_only: false, text: null };

/** The list row for a story the core returned whole (the excerpt stays the row's own). */
export function summaryOf(story: StoryView, row?: StorySummary): StorySummary {
  const { content, audio_url, audio_duration, ...rest } = story;
  void audio_duration;
  return {
    ...rest,
    excerpt: row?.excerpt ?? content.slice(0, 160),
    has_audio: audio_url !== null,
  };
}

export class StoryStore extends PagedStore<StorySummary, StoryFilter> {
  /** Deletes waiting for their undo time to end: id → the toast that offers Undo. */
  #undoable = new Map<string, number>();

  constructor() {
    super({
      fetch: api.page,
      report: reportError,
      name: 'stories',
      filter: NO_FILTER,
      place: storyPlacement,
    });
  }

  /** Creates a story; rejects with an `ErrorPayload` for the form to show. */
  create(input: StoryInput): Promise<StoryView> {
    const asked = performance.now();
    return this.write(api.create(input), (story) => {
      // How long the answer took as the UI saw it (the Save → row benchmark reads it).
      performance.measure('story-create', { start: asked });
      this.insert(summaryOf(story));
    });
  }

  /** Saves the whole form; rejects with an `ErrorPayload` for the form to show. */
  update(id: string, input: StoryInput): Promise<StoryView> {
    return this.write(api.update(id, input), (story) => this.#showSaved(story));
  }

  /**
   * Asks the server for a new story; rejects with an `ErrorPayload` (`offline` among them).
   * Not a `write`: it takes seconds, and the list keeps following other changes meanwhile.
   */
  async generate(input: GenerateStoryInput): Promise<StoryView> {
    const story = await api.generate(input);
    this.insert(summaryOf(story));
    void this.refresh();
    return story;
  }

  /**
   * Marks or unmarks a favourite: the star changes at once, and goes back if the core
   * refuses. Resolves to the saved story, or null when it failed (the error is reported).
   */
  async favorite(id: string, favorite: boolean): Promise<StoryView | null> {
    const row = this.rows.find((r) => r.id === id);
    if (row) this.upsert({ ...row, is_favorite: favorite });
    try {
      // The refetch after it takes the row out of a favourites-only list.
      return await this.write(api.favorite(id, favorite), (story) => this.#showSaved(story));
    } catch (error) {
      const now = this.rows.find((r) => r.id === id);
      if (now) this.upsert({ ...now, is_favorite: !favorite });
      reportError(error as ErrorPayload);
      return null;
    }
  }

  /** A play was recorded: the row's count follows. */
  played(story: StoryView): void {
    this.#showSaved(story);
  }

  /**
   * Deletes with a moment to change one's mind: the row goes at once and a toast offers
   * Undo; the core is told only when the toast expires. Undo brings the row back and
   * nothing is sent.
   */
  deleteWithUndo(story: { id: string; title: string }): void {
    if (this.#undoable.has(story.id)) return;
    this.hide(story.id);
    const toast = toasts.show(
      `“${story.title}” deleted`,
      'info',
      { label: 'Undo', testid: 'undo-delete', run: () => this.#undo(story.id) },
      () => void this.#commitDelete(story.id),
    );
    this.#undoable.set(story.id, toast);
  }

  /** Whether a delete of `id` is waiting for its undo time to end. */
  isDeleting(id: string): boolean {
    return this.#undoable.has(id);
  }

  #undo(id: string): void {
    this.#undoable.delete(id);
    this.unhide(id);
  }

  async #commitDelete(id: string): Promise<void> {
    if (!this.#undoable.delete(id)) return;
    await this.remove(id, () => api.delete(id));
  }

  /** Sends every delete still waiting for its undo time (the app is leaving the list). */
  flushDeletes(): void {
    for (const toast of [...this.#undoable.values()]) toasts.dismiss(toast);
  }

  async retry(id: string): Promise<void> {
    try {
      this.#showSaved(await api.retry(id));
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

  override clear(): void {
    // Signing out: pending deletes are dropped with the list, never sent for another account.
    const waiting = [...this.#undoable.values()];
    this.#undoable.clear();
    for (const toast of waiting) toasts.dismiss(toast);
    super.clear();
  }

  #showSaved(story: StoryView): void {
    const row = this.rows.find((r) => r.id === story.id);
    if (row) this.upsert(summaryOf(story, row));
  }
}

export const storyStore = new StoryStore();
