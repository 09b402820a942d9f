/**
 * The state of one form: the draft it edits, its errors (from the rules on this side and
 * from the core's `ErrorPayload`), whether it changed, and saving. Components keep only
 * the markup and focus handling.
 */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import { describeError, errorCode, fieldMessages } from '$lib/ui/errors';
import type { Checked, FieldErrors } from './rules';

export type FormOptions<D, I, F extends string> = {
  /** The values the form starts from; it edits its own copy. */
  draft: D;
  validate: (draft: D) => Checked<I, F>;
  /** The fields the form shows: the core's messages about any other go to `general`. */
  fields: readonly F[];
};

/** How long a save runs before the form says it is busy. */
export const BUSY_AFTER_MS = 150;

export class FormState<D, I, F extends string> {
  draft: D;
  /** The user tried to submit: the rules' errors show from then on, and follow each edit. */
  attempted = $state(false);
  /**
   * A save has been running for a while (`BUSY_AFTER_MS`): the form shows it is busy. A
   * local save answers in milliseconds and never shows it, so Save does not flicker and the
   * web view has nothing to redraw while the answer is on its way.
   */
  busy = $state(false);
  /** A message about the whole form, or about a field it doesn't show. */
  general = $state('');
  readonly check: Checked<I, F>;
  /** The message to show under each field. */
  readonly errors: FieldErrors<F>;
  /** The draft differs from what the form started with. */
  readonly dirty: boolean;

  #saving = false;
  readonly #fields: readonly string[];
  readonly #snapshot: string;
  /** Field errors the core returned, shown until the draft they were about changes. */
  #rejected = $state<{ snapshot: string; errors: FieldErrors<F> } | null>(null);

  constructor({ draft, validate, fields }: FormOptions<D, I, F>) {
    const initial = JSON.stringify(draft);
    this.#fields = fields;
    this.draft = $state($state.snapshot(draft) as D);
    this.#snapshot = $derived(JSON.stringify(this.draft));
    this.check = $derived(validate(this.draft));
    this.errors = $derived({
      ...(this.attempted && !this.check.ok ? this.check.errors : {}),
      ...(this.#rejected?.snapshot === this.#snapshot ? this.#rejected.errors : {}),
    });
    this.dirty = $derived(this.#snapshot !== initial);
  }

  /**
   * Checks the draft and, if it passes, saves its input. Resolves true once saved; false when
   * the draft is invalid, `save` rejected (its errors are then on the form), or a save is
   * already running.
   */
  async submit(save: (input: I) => Promise<unknown>): Promise<boolean> {
    if (this.#saving) return false;
    this.attempted = true;
    this.general = '';
    this.#rejected = null;
    const check = this.check;
    if (!check.ok) return false;
    this.#saving = true;
    const slow = setTimeout(() => (this.busy = true), BUSY_AFTER_MS);
    try {
      await save(check.input);
      return true;
    } catch (error) {
      this.#reject(error as ErrorPayload);
      return false;
    } finally {
      clearTimeout(slow);
      this.#saving = false;
      this.busy = false;
    }
  }

  /** A save is running: another submit is ignored meanwhile. */
  get submitting(): boolean {
    return this.#saving;
  }

  /** Puts the core's field messages under their fields; the rest becomes `general`. */
  #reject(error: ErrorPayload): void {
    const shown = error.fields.filter((f) => this.#fields.includes(f.field));
    const elsewhere = error.fields.filter((f) => !this.#fields.includes(f.field));
    this.#rejected = { snapshot: this.#snapshot, errors: fieldMessages(shown) as FieldErrors<F> };
    const onFields = errorCode(error) === 'validation' && error.fields.length > 0 && elsewhere.length === 0;
    this.general = onFields ? '' : elsewhere.map((f) => f.message).join(' ') || describeError(error);
  }
}
