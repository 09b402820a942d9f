// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
export type HeroTrait = "brave" | "kind" | "curious" | "funny" | "clever" | "creative" | "adventurous" | "gentle" | "loyal" | "honest" | "patient" | "cheerful";
