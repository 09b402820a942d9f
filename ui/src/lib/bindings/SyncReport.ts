// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
export type SyncReport = { pushed: number, applied: number, conflicts: number, rejected: number, failed: number, pulled: number, started_at: string, finished_at: string, };
