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
      // The same words whether the network is down or only the server is: the header's
      // indicator says which, and a toast must never contradict it.
      return 'Can’t reach the Infinite Stories server right now. Your changes are saved and will sync when it’s back.';
    case 'unauthorized':
      return 'Your session has ended. Sign in again to keep syncing.';
    case 'not_signed_in':
      return 'Sign in to continue.';
    case 'not_found':
      return 'That item no longer exists. It may have been deleted on another device.';
    case 'server':
    case 'unavailable':
      return 'The server had a problem. Your changes are saved; sync will try again by itself.';
    case 'rate_limited':
      return 'The server asked us to slow down. Sync will go on in a moment.';
    default:
      // A raw transport or server sentence ("the server answered 503: …") is not for people.
      if (/^(the server answered|error sending request|http )/i.test(error.message)) {
        return 'The server had a problem. Your changes are saved; sync will try again by itself.';
      }
      return error.message || 'Something went wrong.';
  }
}
