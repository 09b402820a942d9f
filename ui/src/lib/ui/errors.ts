/** Errors as the UI sees them: normalising what a command rejected with, and wording it. */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { FieldError } from '$lib/bindings/FieldError';
import { ERROR_CODES, type ErrorCode } from '$lib/bindings/rules';

function isFieldError(value: unknown): value is FieldError {
  if (typeof value !== 'object' || value === null) return false;
  const { field, message } = value as Record<string, unknown>;
  return typeof field === 'string' && typeof message === 'string';
}

/** An error of the UI's own making (an exception, a bare string). */
function internal(message: string): ErrorPayload {
  return { code: 'internal' satisfies ErrorCode, message, fields: [] };
}

/** Turns whatever a command rejected with into an `ErrorPayload`. */
export function toErrorPayload(error: unknown): ErrorPayload {
  if (typeof error === 'object' && error !== null) {
    const { code, message, fields } = error as Record<string, unknown>;
    if (typeof code === 'string' && typeof message === 'string') {
      return {
        code,
        message,
        fields: Array.isArray(fields) ? fields.filter(isFieldError) : [],
      };
    }
    if (typeof message === 'string') return internal(message);
  }
  return internal(String(error));
}

/** The payload's code, or null for a code this build doesn't know (a newer server's). */
export function errorCode(error: ErrorPayload): ErrorCode | null {
  return (ERROR_CODES as readonly string[]).includes(error.code) ? (error.code as ErrorCode) : null;
}

/** The first message for each field, keyed by field name. */
export function fieldMessages(fields: FieldError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { field, message } of fields) out[field] ??= message;
  return out;
}

/** A sentence for a person, for errors shown outside a form. */
export function describeError(error: ErrorPayload): string {
  switch (errorCode(error)) {
    case 'offline':
      return 'You’re offline. Your changes are saved and will sync later.';
    case 'unauthorized':
      return 'Your session has ended. Sign in again to keep syncing.';
    case 'not_signed_in':
      return 'Sign in to continue.';
    case 'not_found':
      return 'That hero no longer exists.';
    default:
      return error.message || 'Something went wrong.';
  }
}
