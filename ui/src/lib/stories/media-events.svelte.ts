/**
 * The core's media events (download progress, ready, failed), handed from
 * `lib/app/events.ts` to whoever follows an item (the reader's narration), and a small
 * class that keeps one item's `MediaStatus` current.
 */
import { media as api } from '$lib/backend';
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { MediaRef } from '$lib/bindings/MediaRef';
import type { MediaStatus } from '$lib/bindings/MediaStatus';

export type MediaEvent = Extract<CoreEvent, { type: 'media_progress' | 'media_ready' | 'media_failed' }>;

export function isMediaEvent(event: CoreEvent): event is MediaEvent {
  return event.type === 'media_progress' || event.type === 'media_ready' || event.type === 'media_failed';
}

export class MediaEvents {
  #listeners = new Set<(event: MediaEvent) => void>();

  /** Calls `listener` for every media event; returns the function that stops it. */
  subscribe(listener: (event: MediaEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: MediaEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }
}

export const mediaEvents = new MediaEvents();

const same = (a: MediaRef, b: MediaRef) => a.kind === b.kind && a.id === b.id;

/** The status an event gives its item, or null when the event is about another. */
export function statusFrom(event: MediaEvent, ref: MediaRef, before: MediaStatus | null): MediaStatus | null {
  if (!same(event.media, ref)) return null;
  switch (event.type) {
    case 'media_progress':
      return { state: 'downloading', received: event.received, total: event.total };
    case 'media_ready': {
      const size = before?.state === 'downloading' ? (before.total ?? before.received) : 0;
      return { state: 'ready', size };
    }
    case 'media_failed':
      return { state: 'failed', error: event.error };
  }
}

/** Share downloaded, 0..1, or null when unknown. */
export function progressOf(status: MediaStatus | null): number | null {
  if (!status) return null;
  if (status.state === 'ready') return 1;
  if (status.state === 'downloading' && status.total) return Math.min(1, status.received / status.total);
  return null;
}

/** One media item's status, from `media.status` and then from the core's events. */
export class MediaWatch {
  status = $state<MediaStatus | null>(null);
  readonly ref: MediaRef;
  readonly #events: MediaEvents;
  #stop: (() => void) | null = null;

  constructor(ref: MediaRef, events: MediaEvents = mediaEvents) {
    this.ref = ref;
    this.#events = events;
  }

  /** Follows the item's events and asks the core where it is. */
  async start(): Promise<void> {
    this.#stop ??= this.#events.subscribe((event) => {
      const next = statusFrom(event, this.ref, this.status);
      if (next) this.status = next;
    });
    try {
      const status = await api.status(this.ref);
      // An event may have arrived while the answer was on its way: it is newer.
      if (!this.status || this.status.state === 'missing' || this.status.state === 'unavailable') this.status = status;
    } catch (error) {
      this.status = { state: 'failed', error: error as ErrorPayload };
    }
  }

  /** Downloads it (for offline listening); progress arrives as events. */
  async download(): Promise<void> {
    try {
      const status = await api.download(this.ref);
      if (this.status?.state !== 'ready') this.status = status;
    } catch (error) {
      this.status = { state: 'failed', error: error as ErrorPayload };
    }
  }

  stop(): void {
    this.#stop?.();
    this.#stop = null;
  }
}
