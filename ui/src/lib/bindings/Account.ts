// Stand-in for the file ts-rs generates from the Rust types (same shape); regenerated, never edited by hand.
export type Account = { user_id: string, email: string, name: string, server_url: string, };
