/** Who is signed in, and whether the server still accepts the session. */
import { auth } from '$lib/backend';
import type { Account } from '$lib/bindings/Account';

export class SessionStore {
  account = $state<Account | null>(null);
  /** False until the first `account_get` answered. */
  ready = $state(false);
  /** The server refused the session: local work goes on, syncing waits for a new sign-in. */
  expired = $state(false);

  /** Loads the account remembered by the core; rejects with an `ErrorPayload`. */
  async load(): Promise<void> {
    try {
      this.account = await auth.current();
    } finally {
      // When the session check answered (the launch benchmark reads it).
      performance.mark('session-ready');
      this.ready = true;
    }
  }

  async signIn(email: string, password: string): Promise<void> {
    this.#signedIn(await auth.signIn(email, password));
  }

  async signUp(email: string, password: string, name: string): Promise<void> {
    this.#signedIn(await auth.signUp(email, password, name));
  }

  /** Throws `unsynced_changes` (with the count in its message) unless `discard`. */
  async signOut(discard = false): Promise<void> {
    await auth.signOut(discard);
    this.account = null;
    this.expired = false;
  }

  #signedIn(account: Account): void {
    this.account = account;
    this.expired = false;
  }
}

export const session = new SessionStore();
