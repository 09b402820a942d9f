/** The fake core's conflicts, Sync panel rows and sync settings (filled in with those screens). */
import { fail, type Handlers } from './context';

export function conflictHandlers(): Handlers<
  | 'conflicts_list'
  | 'conflict_detail'
  | 'conflict_resolve'
  | 'conflict_history'
  | 'conflict_restore'
  | 'conflict_strategy_get'
  | 'conflict_strategy_set'
  | 'unsynced_rows'
  | 'row_retry'
  | 'row_discard'
  | 'sync_interval_get'
  | 'sync_interval_set'
  | 'desktop_prefs_get'
  | 'desktop_prefs_set'
> {
  let prefs = { keep_in_tray: true, notifications: true };
  let interval = 15 * 60;
  const todo = (): never => fail('internal', 'Not in the fake core yet');
  return {
    conflicts_list: () => [],
    conflict_detail: todo,
    conflict_resolve: todo,
    conflict_history: () => [],
    conflict_restore: todo,
    conflict_strategy_get: () => 'merge',
    conflict_strategy_set: () => null,
    unsynced_rows: () => [],
    row_retry: todo,
    row_discard: todo,
    sync_interval_get: () => interval,
    sync_interval_set: ({ seconds }) => (interval = seconds),
    desktop_prefs_get: () => prefs,
    desktop_prefs_set: ({ prefs: next }) => (prefs = next),
  };
}
