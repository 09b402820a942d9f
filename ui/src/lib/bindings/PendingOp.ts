// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
export type PendingOp = "create" | "update" | "delete";
