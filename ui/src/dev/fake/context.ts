/** What every part of the fake core shares: its failure helper, its event channel and time. */
import { emit } from '@tauri-apps/api/event';
import type { Commands } from '$lib/bindings/commands';
import type { CoreEvent } from '$lib/bindings/CoreEvent';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { RowSync } from '$lib/bindings/RowSync';
import type { ErrorCode } from '$lib/bindings/rules';

/** An answer for each of some commands. */
export type Handlers<K extends keyof Commands = keyof Commands> = {
  [C in K]: (args: Commands[C]['args']) => Commands[C]['returns'] | Promise<Commands[C]['returns']>;
};

export const fail = (code: ErrorCode, message: string): never => {
  throw { code, message, fields: [] } satisfies ErrorPayload;
};

export const send = (event: CoreEvent) => void emit('core-event', event);

export const now = () => new Date().toISOString();

export const synced = (at: string): RowSync => ({
  status: 'synced',
  op: null,
  error: null,
  attempts: 0,
  given_up: false,
  next_attempt_at: null,
  version: 1,
  last_synced_at: at,
});

/** A page of `rows` the way the core cuts one. */
export function pageOf<T>(rows: readonly T[], window: { offset: number; limit: number }) {
  return { total: rows.length, offset: window.offset, rows: rows.slice(window.offset, window.offset + window.limit) };
}
