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

export class FormState<D, I, F extends string> {
  draft: D;
  /** The user tried to submit: the rules' errors show from then on, and follow each edit. */
  attempted = $state(false);
  submitting = $state(false);
  /** A message about the whole form, or about a field it doesn't show. */
  general = $state('');
  readonly check: Checked<I, F>;
  /** The message to show under each field. */
  readonly errors: FieldErrors<F>;
  /** The draft differs from what the form started with. */
  readonly dirty: boolean;

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
    if (this.submitting) return false;
    this.attempted = true;
    this.general = '';
    this.#rejected = null;
    const check = this.check;
    if (!check.ok) return false;
    this.submitting = true;
    try {
      await save(check.input);
      return true;
    } catch (error) {
      this.#reject(error as ErrorPayload);
      return false;
    } finally {
      this.submitting = false;
    }
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
