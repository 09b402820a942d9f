import { beforeEach, describe, expect, it, vi } from 'vitest';

const media = vi.hoisted(() => ({ status: vi.fn(), download: vi.fn() }));
vi.mock('$lib/backend', () => ({ media, stories: {}, heroes: {}, auth: {}, sync: {}, customEvents: {} }));

const { MediaEvents, MediaWatch, progressOf, isMediaEvent } = await import('./media-events.svelte');
const { handleCoreEvent } = await import('$lib/app/events');
const { mediaEvents } = await import('./media-events.svelte');

const ref = { kind: 'audio', id: 's1' } as const;

describe('MediaWatch', () => {
  beforeEach(() => vi.resetAllMocks());

  it('follows progress, then ready, for its own item only', async () => {
    const events = new MediaEvents();
    media.status.mockResolvedValue({ state: 'missing', partial: 0 });
    const watch = new MediaWatch(ref, events);
    await watch.start();
    expect(watch.status).toEqual({ state: 'missing', partial: 0 });
    events.emit({ type: 'media_progress', media: { kind: 'audio', id: 'other' }, received: 5, total: 10 });
    expect(watch.status?.state).toBe('missing');
    events.emit({ type: 'media_progress', media: ref, received: 25, total: 100 });
    expect(progressOf(watch.status)).toBe(0.25);
    events.emit({ type: 'media_ready', media: ref });
    expect(watch.status).toEqual({ state: 'ready', size: 100 });
    watch.stop();
    events.emit({ type: 'media_failed', media: ref, error: { code: 'offline', message: 'x', fields: [] } });
    expect(watch.status?.state).toBe('ready');
  });

  it('keeps an event that arrived before the status answer', async () => {
    const events = new MediaEvents();
    let answer!: (v: unknown) => void;
    media.status.mockReturnValue(new Promise((r) => (answer = r)));
    const watch = new MediaWatch(ref, events);
    const started = watch.start();
    events.emit({ type: 'media_progress', media: ref, received: 50, total: 100 });
    answer({ state: 'missing', partial: 0 });
    await started;
    expect(watch.status).toEqual({ state: 'downloading', received: 50, total: 100 });
  });

  it('the app hands media core events to the emitter', () => {
    const seen = vi.fn();
    const stop = mediaEvents.subscribe(seen);
    const event = { type: 'media_ready', media: ref } as const;
    expect(isMediaEvent(event)).toBe(true);
    handleCoreEvent(event);
    stop();
    handleCoreEvent(event);
    expect(seen).toHaveBeenCalledTimes(1);
    expect(seen).toHaveBeenCalledWith(event);
  });
});
