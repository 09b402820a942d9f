import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import { describeError } from '$lib/errors';
import { session } from './session.svelte';
import { toasts } from './toasts.svelte';

/** Shows an error that no form owns: session problems change state, the rest become toasts. */
export function reportError(error: ErrorPayload): void {
  switch (error.code) {
    case 'unauthorized':
      session.expired = true;
      break;
    case 'not_signed_in':
      session.account = null;
      break;
    case 'offline':
      toasts.show(describeError(error), 'info');
      break;
    default:
      toasts.show(describeError(error));
  }
}
