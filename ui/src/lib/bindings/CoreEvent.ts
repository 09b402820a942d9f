// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { EntityKind } from "./EntityKind";
import type { ErrorPayload } from "./ErrorPayload";
import type { SyncOverview } from "./SyncOverview";

export type CoreEvent = { "type": "data_changed", entity: EntityKind } | { "type": "overview", overview: SyncOverview } | { "type": "sync_failed", error: ErrorPayload } | { "type": "session_expired" };
