// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { HeroTrait } from "./HeroTrait";
import type { RowSync } from "./RowSync";

export type HeroView = { id: string, name: string, age: number, traits: Array<HeroTrait>, appearance: string, special_ability: string, avatar_url: string | null, created_at: string, updated_at: string, sync: RowSync, };
