/** Non-blocking notifications: stacked, auto-dismissed, paused while the user looks at them. */
export type ToastKind = 'error' | 'info';
/** A button on a toast ("Undo", "Open"); the toast closes when it runs. */
export type ToastAction = { label: string; run: () => void; testid?: string };
export type Toast = { id: number; kind: ToastKind; message: string; action?: ToastAction };

export const TOAST_DURATION = 6000;
const MAX_TOASTS = 4;

type Timer = { handle: ReturnType<typeof setTimeout> | null; remaining: number; startedAt: number };

export class ToastStore {
  items = $state<Toast[]>([]);
  #timers = new Map<number, Timer>();
  #onexpire = new Map<number, () => void>();
  #nextId = 1;
  #held = false;

  /**
   * Shows a message (with an optional action button); the same message already on screen
   * is restarted, not stacked. Returns the toast's id. `onexpire` runs when the toast goes
   * away without its action being used (an undo window ends).
   */
  show(message: string, kind: ToastKind = 'error', action?: ToastAction, onexpire?: () => void): number {
    const existing = action ? undefined : this.items.find((t) => t.kind === kind && t.message === message && !t.action);
    const id = existing?.id ?? this.#nextId++;
    if (!existing) {
      this.items.push({ id, kind, message, action });
      if (onexpire) this.#onexpire.set(id, onexpire);
      if (this.items.length > MAX_TOASTS) this.dismiss(this.items[0].id);
    }
    this.#start(id, TOAST_DURATION);
    return id;
  }

  /** Runs a toast's action and closes it (its `onexpire` does not run). */
  act(id: number): void {
    const toast = this.items.find((t) => t.id === id);
    this.#onexpire.delete(id);
    this.dismiss(id);
    toast?.action?.run();
  }

  dismiss(id: number): void {
    const expire = this.#onexpire.get(id);
    this.#onexpire.delete(id);
    const timer = this.#timers.get(id);
    if (timer?.handle) clearTimeout(timer.handle);
    this.#timers.delete(id);
    this.items = this.items.filter((t) => t.id !== id);
    expire?.();
  }

  /** Stops every countdown (pointer over or focus in the toasts). */
  hold(): void {
    if (this.#held) return;
    this.#held = true;
    const now = Date.now();
    for (const timer of this.#timers.values()) {
      if (timer.handle) clearTimeout(timer.handle);
      timer.handle = null;
      timer.remaining -= now - timer.startedAt;
    }
  }

  /** Resumes the countdowns where `hold` stopped them. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    for (const [id, timer] of this.#timers) this.#start(id, timer.remaining);
  }

  #start(id: number, duration: number): void {
    const previous = this.#timers.get(id);
    if (previous?.handle) clearTimeout(previous.handle);
    const timer: Timer = { handle: null, remaining: duration, startedAt: Date.now() };
    if (!this.#held) timer.handle = setTimeout(() => this.dismiss(id), Math.max(0, duration));
    this.#timers.set(id, timer);
  }
}

export const toasts = new ToastStore();
