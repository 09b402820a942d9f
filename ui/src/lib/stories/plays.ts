/**
 * When a play counts (SPEC: a story's play count is "listened to", once per play). A play
 * is counted on the first `play` after the story loads or after it ended; resuming after a
 * pause, seeking, or changing speed never counts again.
 */
export class PlayCounter {
  #counted = false;
  readonly #record: () => void;

  /** `record` tells the core (`stories.played`); it runs at most once per play. */
  constructor(record: () => void) {
    this.#record = record;
  }

  /** The player started (or resumed). Returns whether this started a new, counted play. */
  play(): boolean {
    if (this.#counted) return false;
    this.#counted = true;
    this.#record();
    return true;
  }

  /** The recording reached its end: the next `play` is a new play. */
  ended(): void {
    this.#counted = false;
  }

  /** Another story (or the same one reloaded): the next `play` counts. */
  reset(): void {
    this.#counted = false;
  }
}
