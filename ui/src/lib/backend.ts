/**
 * The only module that talks to the Rust core: every command and event goes through here.
 * Commands are typed by the generated `Commands` map, so a renamed command or a wrong
 * argument is a type error; rejections are normalised to `ErrorPayload`.
 */
import { invoke, isTauri, type InvokeArgs } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Commands } from '$lib/bindings/commands';
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { HeroInput } from '$lib/bindings/HeroInput';
import { toErrorPayload } from '$lib/ui/errors';

type Command = keyof Commands;
type CommandArgs<K extends Command> = Commands[K]['args'];
type CommandResult<K extends Command> = Commands[K]['returns'];

/** What follows the command name: nothing for a command without arguments, else its arguments. */
type ArgsParam<K extends Command> = CommandArgs<K> extends Record<string, never> ? [] : [args: CommandArgs<K>];

/** Runs one command of the core; rejects with an `ErrorPayload`. */
export async function call<K extends Command>(command: K, ...args: ArgsParam<K>): Promise<CommandResult<K>> {
  try {
    return await invoke<CommandResult<K>>(command, args[0] as InvokeArgs | undefined);
  } catch (error) {
    throw toErrorPayload(error);
  }
}

export const auth = {
  current: () => call('account_get'),
  signIn: (email: string, password: string) => call('sign_in', { email, password }),
  signUp: (email: string, password: string, name: string) => call('sign_up', { email, password, name }),
  /** Refused with `unsynced_changes` unless `discard` is set (after the user agreed). */
  signOut: (discard: boolean) => call('sign_out', { discard }),
};

export const heroes = {
  list: () => call('heroes_list'),
  get: (id: string) => call('hero_get', { id }),
  create: (input: HeroInput) => call('hero_create', { input }),
  update: (id: string, input: HeroInput) => call('hero_update', { id, input }),
  delete: (id: string) => call('hero_delete', { id }),
  retry: (id: string) => call('hero_retry', { id }),
  discard: (id: string) => call('hero_discard', { id }),
};

export const sync = {
  now: () => call('sync_now'),
  overview: () => call('sync_overview'),
  setWorkOffline: (enabled: boolean) => call('set_work_offline', { enabled }),
};

/** Whether the page runs inside the Tauri app (false in a plain browser). */
export const inTauri = isTauri;

/** Subscribes to the core's `core-event`; resolves to the function that unsubscribes. */
export function onCoreEvent(handler: (event: CoreEvent) => void): Promise<UnlistenFn> {
  return listen<CoreEvent>('core-event', (event) => handler(event.payload)).catch((error) => {
    throw toErrorPayload(error);
  });
}
