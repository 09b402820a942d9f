/**
 * Checks form fields against the rules generated from the Rust side (`bindings/rules.ts`),
 * so a form refuses bad input with the same words the core and the server would use.
 * Characters are counted as code points, like Rust's `chars().count()`.
 */
import type { FieldRule } from '$lib/bindings/rules';
import { charCount } from '$lib/ui/format';

/** The value each kind of rule checks. */
type RuleValues = {
  text: string;
  /** Null while the field is empty. */
  int: number | null;
  choices: readonly unknown[];
  words: readonly string[];
  emoji: string;
};
export type RuleValue<R extends FieldRule> = RuleValues[R['kind']];

/** The checked fields of one entity, as in `RULES.hero`. */
export type FieldRules = Readonly<Record<string, FieldRule>>;
export type FieldErrors<F extends string = string> = Partial<Record<F, string>>;
/** A draft's check: the input to save, or the message for each broken field. */
export type Checked<I, F extends string> = { ok: true; input: I } | { ok: false; errors: FieldErrors<F> };

/** The message for `value` if it breaks `rule`, else null. Text is trimmed first. */
export function checkField<R extends FieldRule>(rule: R, value: RuleValue<R>): string | null {
  const r: FieldRule = rule;
  switch (r.kind) {
    case 'text': {
      const text = (value as string).trim();
      if (text.length === 0) return r.required;
      return charCount(text) > r.max ? r.too_long : null;
    }
    case 'int': {
      const n = value as number | null;
      return n === null || !Number.isInteger(n) || n < r.min || n > r.max ? r.out_of_range : null;
    }
    case 'choices': {
      const list = value as readonly unknown[];
      if (new Set(list).size !== list.length) return r.repeated;
      return list.length < r.min || list.length > r.max ? r.count : null;
    }
    case 'words': {
      const words = value as readonly string[];
      if (words.length > r.max_items) return r.too_many;
      if (words.some((w) => w.trim().length === 0)) return r.empty;
      return words.some((w) => charCount(w.trim()) > r.item_max) ? r.too_long : null;
    }
    case 'emoji': {
      const emoji = (value as string).trim();
      if (emoji.length === 0) return r.required;
      return isSingleEmoji(emoji, r.max_bytes) ? null : r.invalid;
    }
  }
}

/** Checks every field of `draft` that has a rule; the result has an entry per broken rule. */
export function checkFields<R extends FieldRules>(
  rules: R,
  draft: { readonly [F in keyof R]: RuleValue<R[F]> },
): FieldErrors<keyof R & string> {
  const errors: FieldErrors<keyof R & string> = {};
  for (const field of Object.keys(rules) as (keyof R & string)[]) {
    const message = checkField(rules[field], draft[field]);
    if (message !== null) errors[field] = message;
  }
  return errors;
}

const ZWJ = 0x200d;
const utf8 = new TextEncoder();

/** Characters that may follow a base symbol inside one emoji (the core's `is_modifier`). */
function isModifier(c: number): boolean {
  return (
    c === 0xfe0e || // variation selectors
    c === 0xfe0f ||
    c === 0x20e3 || // combining enclosing keycap
    (c >= 0x1f3fb && c <= 0x1f3ff) || // skin tones
    (c >= 0xe0020 && c <= 0xe007f) // tag characters (subdivision flags)
  );
}

function isRegionalIndicator(c: number): boolean {
  return c >= 0x1f1e6 && c <= 0x1f1ff;
}

function isSpaceOrControl(c: number): boolean {
  return /[\p{Cc}\p{White_Space}]/u.test(String.fromCodePoint(c));
}

/**
 * Whether `text` is one short pictogram, exactly as the core's `is_single_emoji` decides: at
 * most `maxBytes` UTF-8 bytes, a symbol with modifiers and zero-width-joined symbols, a
 * keycap ("1️⃣") or a flag (two regional indicators), and never plain text.
 */
function isSingleEmoji(text: string, maxBytes: number): boolean {
  if (utf8.encode(text).length > maxBytes) return false;
  const chars = [...text].map((c) => c.codePointAt(0)!);
  const [first] = chars;
  if (isSpaceOrControl(first) || isModifier(first) || first === ZWJ) return false;
  if (isRegionalIndicator(first)) return chars.length === 2 && isRegionalIndicator(chars[1]);
  if (first < 0x80) return /^[0-9#*]\uFE0F?\u20E3$/u.test(text);
  for (let i = 1; i < chars.length; i++) {
    if (isModifier(chars[i])) continue;
    const next = chars[i + 1];
    const joins =
      chars[i] === ZWJ &&
      next !== undefined &&
      next >= 0x80 &&
      !isModifier(next) &&
      next !== ZWJ &&
      !isSpaceOrControl(next);
    if (!joins) return false;
    i++;
  }
  return true;
}
