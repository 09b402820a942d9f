// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
export type SyncStatus = "synced" | "pending_create" | "pending_update" | "pending_delete" | "failed" | "conflict";
