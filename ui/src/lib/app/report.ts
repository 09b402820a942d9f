/** Shows an error that no form owns: session problems change the session, the rest become toasts. */
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import { session } from '$lib/session/store.svelte';
import { describeError, errorCode } from '$lib/ui/errors';
import { toasts } from '$lib/ui/toasts.svelte';

export function reportError(error: ErrorPayload): void {
  switch (errorCode(error)) {
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
