// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { FieldError } from "./FieldError";

export type ErrorPayload = { code: string, message: string, fields: Array<FieldError>, };
