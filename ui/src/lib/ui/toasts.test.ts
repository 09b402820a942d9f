import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOAST_DURATION, ToastStore } from './toasts.svelte';

describe('ToastStore', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stacks messages and dismisses each after a while', () => {
    const toasts = new ToastStore();
    toasts.show('one');
    vi.advanceTimersByTime(1000);
    toasts.show('two', 'info');
    expect(toasts.items.map((t) => [t.message, t.kind])).toEqual([
      ['one', 'error'],
      ['two', 'info'],
    ]);
    vi.advanceTimersByTime(TOAST_DURATION - 1000);
    expect(toasts.items.map((t) => t.message)).toEqual(['two']);
    vi.advanceTimersByTime(1000);
    expect(toasts.items).toEqual([]);
  });

  it('restarts a repeated message instead of stacking it', () => {
    const toasts = new ToastStore();
    toasts.show('offline');
    vi.advanceTimersByTime(TOAST_DURATION - 100);
    toasts.show('offline');
    expect(toasts.items).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(toasts.items).toHaveLength(1);
  });

  it('can be dismissed at once', () => {
    const toasts = new ToastStore();
    toasts.show('one');
    toasts.dismiss(toasts.items[0].id);
    expect(toasts.items).toEqual([]);
  });

  it('keeps at most four, dropping the oldest', () => {
    const toasts = new ToastStore();
    for (const m of ['a', 'b', 'c', 'd', 'e']) toasts.show(m);
    expect(toasts.items.map((t) => t.message)).toEqual(['b', 'c', 'd', 'e']);
  });

  it('pauses while held and resumes with the time that was left', () => {
    const toasts = new ToastStore();
    toasts.show('read me');
    vi.advanceTimersByTime(TOAST_DURATION - 1000);
    toasts.hold();
    vi.advanceTimersByTime(60_000);
    expect(toasts.items).toHaveLength(1);
    toasts.show('arrives while held');
    vi.advanceTimersByTime(60_000);
    expect(toasts.items).toHaveLength(2);
    toasts.release();
    vi.advanceTimersByTime(999);
    expect(toasts.items).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(toasts.items.map((t) => t.message)).toEqual(['arrives while held']);
  });

  it('runs an action once and never its expiry; an unused action expires', () => {
    const store = new ToastStore();
    const run = vi.fn();
    const expire = vi.fn();
    const id = store.show('Story deleted', 'info', { label: 'Undo', run }, expire);
    store.act(id);
    expect([run.mock.calls.length, expire.mock.calls.length, store.items.length]).toEqual([1, 0, 0]);
    const other = store.show('Story deleted', 'info', { label: 'Undo', run }, expire);
    store.dismiss(other);
    expect(expire).toHaveBeenCalledTimes(1);
  });
});
