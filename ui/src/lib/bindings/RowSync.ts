// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { PendingOp } from "./PendingOp";
import type { SyncStatus } from "./SyncStatus";

export type RowSync = { status: SyncStatus, op: PendingOp | null, error: string | null, attempts: number, given_up: boolean, next_attempt_at: string | null, version: number | null, last_synced_at: string | null, };
