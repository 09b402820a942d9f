// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { Account } from "./Account";
import type { NetworkState } from "./NetworkState";

export type SyncOverview = { account: Account | null, network: NetworkState, work_offline: boolean, syncing: boolean, paused_reason: string | null, last_sync_at: string | null, last_error: string | null, pending: number, failed: number, conflicts: number, };
