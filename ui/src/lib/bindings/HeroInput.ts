// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
import type { HeroTrait } from "./HeroTrait";

export type HeroInput = { name: string, age: number, traits: Array<HeroTrait>, appearance: string, special_ability: string, };
