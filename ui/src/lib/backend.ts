/**
 * The only module that talks to the Rust core: every command and event goes through here.
 * Rejections are normalised to `ErrorPayload`.
 */
import { invoke, isTauri, type InvokeArgs } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Account } from '$lib/bindings/Account';
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { HeroInput } from '$lib/bindings/HeroInput';
import type { HeroView } from '$lib/bindings/HeroView';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import type { SyncReport } from '$lib/bindings/SyncReport';
import { toErrorPayload } from '$lib/errors';

async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toErrorPayload(error);
  }
}

export const auth = {
  current: () => call<Account | null>('account_get'),
  signIn: (email: string, password: string) => call<Account>('sign_in', { email, password }),
  signUp: (email: string, password: string, name: string) =>
    call<Account>('sign_up', { email, password, name }),
  signOut: () => call<null>('sign_out'),
};

export const heroes = {
  list: () => call<HeroView[]>('heroes_list'),
  get: (id: string) => call<HeroView>('hero_get', { id }),
  create: (input: HeroInput) => call<HeroView>('hero_create', { input }),
  update: (id: string, input: HeroInput) => call<HeroView>('hero_update', { id, input }),
  delete: (id: string) => call<null>('hero_delete', { id }),
  retry: (id: string) => call<HeroView>('hero_retry', { id }),
  discard: (id: string) => call<null>('hero_discard', { id }),
};

export const sync = {
  now: () => call<SyncReport>('sync_now'),
  overview: () => call<SyncOverview>('sync_overview'),
  setWorkOffline: (enabled: boolean) => call<SyncOverview>('set_work_offline', { enabled }),
};

/** Whether the page runs inside the Tauri app (false in a plain browser). */
export const inTauri = isTauri;

/** Subscribes to the core's `core-event`; resolves to the function that unsubscribes. */
export function onCoreEvent(handler: (event: CoreEvent) => void): Promise<UnlistenFn> {
  return listen<CoreEvent>('core-event', (event) => handler(event.payload)).catch((error) => {
    throw toErrorPayload(error);
  });
}
