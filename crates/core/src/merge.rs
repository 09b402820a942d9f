//! Conflict resolution as pure functions (SPEC.md section 7).
//!
//! [`merge`] is the three-way merge of one row against its base snapshot, field by
//! field; [`decide`] turns an entity's strategy and the three versions into what the
//! sync engine does with a conflicting push. Rows are handled as JSON objects of their
//! user-writable fields, so one implementation serves every entity; each entity's
//! fields and how each merges are declared once in the protocol ([`Field`], [`Merge`]).

use is_protocol::entity::{Field, Merge};
use serde_json::{Map, Value};

use crate::entity::ConflictStrategy;
use crate::sync::state::PendingOp;

/// Which side a field of the merged row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Both sides agree (or neither changed it).
    Same,
    Local,
    Server,
    /// Combined from both (set union, counter sum).
    Combined,
    /// Changed on both sides; the user must choose (the merged row holds the local value).
    Ask,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MergeResult {
    /// The merged fields. For fields the user must choose, the local value.
    pub merged: Map<String, Value>,
    /// Per field (in declaration order), where its value came from.
    pub picks: Vec<(&'static str, Pick)>,
}

impl MergeResult {
    /// Fields changed on both sides that the user must choose between.
    pub fn conflicts(&self) -> Vec<&'static str> {
        self.fields_where(|p| p == Pick::Ask)
    }

    /// A local change was overridden by the server's.
    pub fn local_lost(
        &self,
        base: Option<&Map<String, Value>>,
        local: &Map<String, Value>,
    ) -> bool {
        self.picks
            .iter()
            .any(|(f, p)| *p == Pick::Server && changed(base, local, f))
    }

    /// A server change was overridden by the local one.
    pub fn server_lost(
        &self,
        base: Option<&Map<String, Value>>,
        server: &Map<String, Value>,
    ) -> bool {
        self.picks
            .iter()
            .any(|(f, p)| *p == Pick::Local && changed(base, server, f))
    }

    pub fn fields_where(&self, want: impl Fn(Pick) -> bool) -> Vec<&'static str> {
        self.picks
            .iter()
            .filter(|(_, p)| want(*p))
            .map(|(f, _)| *f)
            .collect()
    }
}

fn get<'a>(m: &'a Map<String, Value>, f: &str) -> &'a Value {
    m.get(f).unwrap_or(&Value::Null)
}

/// Whether `side` changed field `f` relative to `base` (no base: the server never had
/// the row, so every difference counts as a change on both sides).
fn changed(base: Option<&Map<String, Value>>, side: &Map<String, Value>, f: &str) -> bool {
    match base {
        Some(b) => get(b, f) != get(side, f),
        None => true,
    }
}

/// Three-way merge of `local` and `server` against `base` (SPEC.md section 7):
/// - a field changed on one side only takes that side;
/// - counters add both sides' increments;
/// - sets (trait lists) take the union of both sides' additions, minus both sides'
///   removals;
/// - any other field changed on both sides to different values asks the user if its
///   spec says so, else the newer edit (`local_newer`) wins.
pub fn merge(
    fields: &[Field],
    base: Option<&Map<String, Value>>,
    local: &Map<String, Value>,
    server: &Map<String, Value>,
    local_newer: bool,
) -> MergeResult {
    let mut merged = server.clone();
    let mut picks = Vec::with_capacity(fields.len());
    for spec in fields {
        let f = spec.name;
        let (l, s) = (get(local, f), get(server, f));
        let (value, pick) = if l == s {
            (s.clone(), Pick::Same)
        } else if !changed(base, local, f) {
            (s.clone(), Pick::Server)
        } else if !changed(base, server, f) {
            (l.clone(), Pick::Local)
        } else {
            let b = base.map(|b| get(b, f));
            match spec.merge {
                Merge::Counter => (add_counters(b, l, s), Pick::Combined),
                Merge::Set => (union_sets(b, l, s), Pick::Combined),
                Merge::Prompt => (l.clone(), Pick::Ask),
                Merge::Text | Merge::Value if local_newer => (l.clone(), Pick::Local),
                Merge::Text | Merge::Value => (s.clone(), Pick::Server),
            }
        };
        merged.insert(f.to_owned(), value);
        picks.push((f, pick));
    }
    MergeResult { merged, picks }
}

fn add_counters(base: Option<&Value>, local: &Value, server: &Value) -> Value {
    let n = |v: Option<&Value>| v.and_then(Value::as_i64).unwrap_or(0);
    Value::from(n(Some(server)) + n(Some(local)) - n(base))
}

fn union_sets(base: Option<&Value>, local: &Value, server: &Value) -> Value {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (base, local, server) = (items(base), items(Some(local)), items(Some(server)));
    // Removed by either side: was in the base and is missing on that side.
    let removed = |v: &Value| base.contains(v) && (!local.contains(v) || !server.contains(v));
    let mut out: Vec<Value> = Vec::new();
    for v in server.iter().chain(local.iter()) {
        if !removed(v) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

/// What the engine does with a conflicting push.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Take the server's row.
    TakeServer,
    /// Re-send the local change rebased on the server's version, with these fields (the
    /// local ones, or the merge). A delete keeps deleting.
    KeepLocal(Map<String, Value>),
    /// Put the row in `conflict` and ask the user.
    Prompt,
}

/// The decision, and whether a version lost something (then it goes to the history).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub decision: Decision,
    pub local_lost: bool,
    pub server_lost: bool,
}

/// Settles a conflict by strategy (SPEC.md section 7). `op` is what the local change
/// does; `valid` says whether a merged row keeps the entity's rules (a merge that breaks
/// them falls back like a text field changed on both sides).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    strategy: ConflictStrategy,
    fields: &[Field],
    prompt_fallback: bool,
    op: PendingOp,
    base: Option<&Map<String, Value>>,
    local: &Map<String, Value>,
    server: &Map<String, Value>,
    local_newer: bool,
    valid: impl Fn(&Map<String, Value>) -> bool,
) -> Resolution {
    let same = fields
        .iter()
        .all(|f| get(local, f.name) == get(server, f.name));
    let take_server = |local_lost| Resolution {
        decision: Decision::TakeServer,
        local_lost,
        server_lost: false,
    };
    let keep_local = |server_lost| Resolution {
        decision: Decision::KeepLocal(local.clone()),
        local_lost: false,
        server_lost,
    };
    let prompt = Resolution {
        decision: Decision::Prompt,
        local_lost: false,
        server_lost: false,
    };
    let lww = || {
        if local_newer {
            keep_local(true)
        } else {
            take_server(true)
        }
    };
    if op != PendingOp::Delete && same {
        // Both sides made the same change: nothing to settle, nothing lost.
        return take_server(false);
    }
    let server_untouched =
        base.is_some_and(|b| fields.iter().all(|f| get(b, f.name) == get(server, f.name)));
    if server_untouched {
        // The server's row moved only by fields the user does not write (a counter
        // increment, a generated avatar): no conflict, whatever the strategy.
        return keep_local(false);
    }
    match strategy {
        ConflictStrategy::ServerWins => take_server(true),
        ConflictStrategy::LocalWins if op == PendingOp::Delete || base.is_none() => {
            keep_local(true)
        }
        ConflictStrategy::LocalWins => {
            // Local wins what it changed, also where the server changed it too; the
            // fields only the server changed keep the server's value (a whole-row
            // "local wins" would revert another device's edit of a field this one
            // never touched).
            let m = merge(fields, base, local, server, true);
            let overridden = !m.conflicts().is_empty() || m.server_lost(base, server);
            if fields
                .iter()
                .all(|f| get(&m.merged, f.name) == get(server, f.name))
            {
                return take_server(false);
            }
            Resolution {
                decision: Decision::KeepLocal(m.merged),
                local_lost: false,
                server_lost: overridden,
            }
        }
        ConflictStrategy::LastWriteWins => lww(),
        ConflictStrategy::UserPrompt => prompt,
        ConflictStrategy::Merge if op == PendingOp::Delete => {
            // A delete against an edit has no field to merge.
            if prompt_fallback {
                prompt
            } else {
                lww()
            }
        }
        ConflictStrategy::Merge => {
            let mut m = merge(fields, base, local, server, local_newer);
            if !m.conflicts().is_empty() {
                return prompt;
            }
            if !valid(&m.merged) && !prompt_fallback {
                // A combination broke a rule (both sides removed traits and none is
                // left): the combined fields go to the side that wins a field both
                // changed, and the rest of the merge stands.
                for (f, pick) in m.picks.iter_mut() {
                    if *pick == Pick::Combined {
                        let (side, won) = if local_newer {
                            (local, Pick::Local)
                        } else {
                            (server, Pick::Server)
                        };
                        m.merged.insert((*f).to_owned(), get(side, f).clone());
                        *pick = won;
                    }
                }
            }
            if !valid(&m.merged) {
                return if prompt_fallback { prompt } else { lww() };
            }
            let local_lost = m.local_lost(base, local);
            let server_lost = m.server_lost(base, server);
            let equals_server = fields
                .iter()
                .all(|f| get(&m.merged, f.name) == get(server, f.name));
            if equals_server {
                take_server(local_lost)
            } else {
                Resolution {
                    decision: Decision::KeepLocal(m.merged),
                    local_lost,
                    server_lost,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const fn field(name: &'static str, merge: Merge) -> Field {
        Field {
            name,
            rule: is_protocol::entity::Rule::Any,
            merge,
        }
    }

    const FIELDS: &[Field] = &[
        field("title", Merge::Prompt),
        field("note", Merge::Text),
        field("lang", Merge::Value),
        field("traits", Merge::Set),
        field("plays", Merge::Counter),
    ];

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn base() -> Map<String, Value> {
        obj(json!({"title": "T", "note": "n", "lang": "en", "traits": ["a", "b"], "plays": 2}))
    }

    fn with(changes: Value) -> Map<String, Value> {
        let mut m = base();
        for (k, v) in obj(changes) {
            m.insert(k, v);
        }
        m
    }

    #[test]
    fn merge_table() {
        use Pick::*;
        // (what, local changes, server changes, local_newer, field, expected value, pick)
        let cases: Vec<(&str, Value, Value, bool, &str, Value, Pick)> = vec![
            (
                "untouched",
                json!({}),
                json!({}),
                true,
                "note",
                json!("n"),
                Same,
            ),
            (
                "local only",
                json!({"note": "L"}),
                json!({}),
                false,
                "note",
                json!("L"),
                Local,
            ),
            (
                "server only",
                json!({}),
                json!({"note": "S"}),
                true,
                "note",
                json!("S"),
                Server,
            ),
            (
                "same change",
                json!({"note": "X"}),
                json!({"note": "X"}),
                false,
                "note",
                json!("X"),
                Same,
            ),
            (
                "text both, local newer",
                json!({"note": "L"}),
                json!({"note": "S"}),
                true,
                "note",
                json!("L"),
                Local,
            ),
            (
                "text both, server newer",
                json!({"note": "L"}),
                json!({"note": "S"}),
                false,
                "note",
                json!("S"),
                Server,
            ),
            (
                "prompt text both",
                json!({"title": "L"}),
                json!({"title": "S"}),
                true,
                "title",
                json!("L"),
                Ask,
            ),
            (
                "prompt text one side",
                json!({"title": "L"}),
                json!({}),
                false,
                "title",
                json!("L"),
                Local,
            ),
            (
                "value both, lww",
                json!({"lang": "fr"}),
                json!({"lang": "de"}),
                false,
                "lang",
                json!("de"),
                Server,
            ),
            (
                "counters add",
                json!({"plays": 5}),
                json!({"plays": 4}),
                false,
                "plays",
                json!(7),
                Combined,
            ),
            (
                "counter one side",
                json!({"plays": 5}),
                json!({}),
                false,
                "plays",
                json!(5),
                Local,
            ),
            (
                "sets union",
                json!({"traits": ["a", "b", "c"]}),
                json!({"traits": ["a", "b", "d"]}),
                false,
                "traits",
                json!(["a", "b", "d", "c"]),
                Combined,
            ),
            (
                "set removal on one side stays removed",
                json!({"traits": ["b", "c"]}),
                json!({"traits": ["a", "b", "d"]}),
                true,
                "traits",
                json!(["b", "d", "c"]),
                Combined,
            ),
        ];
        for (what, l, s, newer, field, want, pick) in cases {
            let b = base();
            let m = merge(FIELDS, Some(&b), &with(l), &with(s), newer);
            assert_eq!(m.merged[field], want, "{what}");
            let got = m.picks.iter().find(|(f, _)| *f == field).unwrap().1;
            assert_eq!(got, pick, "{what}");
        }
    }

    #[test]
    fn without_a_base_every_difference_is_a_change_on_both_sides() {
        let l = with(json!({"note": "L", "title": "same"}));
        let s = with(json!({"note": "S", "title": "same"}));
        let m = merge(FIELDS, None, &l, &s, false);
        assert_eq!(m.merged["note"], "S");
        assert!(m.conflicts().is_empty());
        let m = merge(
            FIELDS,
            None,
            &with(json!({"title": "A"})),
            &with(json!({"title": "B"})),
            true,
        );
        assert_eq!(m.conflicts(), ["title"]);
    }

    #[test]
    fn decide_table() {
        use ConflictStrategy::*;
        let b = base();
        let l = with(json!({"note": "L"}));
        let s = with(json!({"lang": "de"}));
        let s_note = with(json!({"note": "S"}));
        let l_title = with(json!({"title": "L"}));
        let s_title = with(json!({"title": "S"}));
        let merged = with(json!({"note": "L", "lang": "de"}));
        let ok = |_: &Map<String, Value>| true;
        let take = |lost| Resolution {
            decision: Decision::TakeServer,
            local_lost: lost,
            server_lost: false,
        };
        let keep = |m: &Map<String, Value>, ll, sl| Resolution {
            decision: Decision::KeepLocal(m.clone()),
            local_lost: ll,
            server_lost: sl,
        };
        let prompt = Resolution {
            decision: Decision::Prompt,
            local_lost: false,
            server_lost: false,
        };
        use PendingOp::*;
        // (strategy, op, local, server, local_newer, prompt_fallback, expected)
        let cases = vec![
            (ServerWins, Update, &l, &s, true, false, take(true)),
            // LocalWins: local keeps what it changed; the server's other fields stay.
            (
                LocalWins,
                Update,
                &l,
                &s,
                false,
                false,
                keep(&merged, false, false),
            ),
            // ... and a field both changed goes to local.
            (
                LocalWins,
                Update,
                &l,
                &s_note,
                false,
                false,
                keep(&l, false, true),
            ),
            (
                LocalWins,
                Update,
                &l_title,
                &s_title,
                false,
                true,
                keep(&l_title, false, true),
            ),
            (
                LastWriteWins,
                Update,
                &l,
                &s,
                true,
                false,
                keep(&l, false, true),
            ),
            (LastWriteWins, Update, &l, &s, false, false, take(true)),
            (UserPrompt, Update, &l, &s, true, false, prompt.clone()),
            // Merge: disjoint fields combine; nothing is lost.
            (
                Merge,
                Update,
                &l,
                &s,
                false,
                false,
                keep(&merged, false, false),
            ),
            // Merge: the same text changed on both sides, newer wins (no prompt rule).
            (Merge, Update, &l, &s_note, false, false, take(true)),
            (
                Merge,
                Update,
                &l,
                &s_note,
                true,
                false,
                keep(&l, false, true),
            ),
            // Merge: a prompt field changed on both sides asks the user.
            (
                Merge,
                Update,
                &l_title,
                &s_title,
                true,
                true,
                prompt.clone(),
            ),
            // Merge of a delete: the entity's fallback.
            (Merge, Delete, &b, &s, true, true, prompt.clone()),
            (Merge, Delete, &b, &s, true, false, keep(&b, false, true)),
            // The server changed no user field (only a counter): no conflict at all.
            (
                ServerWins,
                Update,
                &l,
                &b,
                false,
                false,
                keep(&l, false, false),
            ),
            (
                UserPrompt,
                Delete,
                &b,
                &b,
                false,
                true,
                keep(&b, false, false),
            ),
            // The same change on both sides is no conflict at all.
            (UserPrompt, Update, &s, &s, true, true, take(false)),
            (LocalWins, Create, &s, &s, true, true, take(false)),
        ];
        for (i, (strategy, op, local, server, newer, fallback, want)) in
            cases.into_iter().enumerate()
        {
            let got = decide(
                strategy,
                FIELDS,
                fallback,
                op,
                Some(&b),
                local,
                server,
                newer,
                ok,
            );
            assert_eq!(got, want, "case {i}: {strategy:?} {op:?}");
        }
    }

    #[test]
    fn an_invalid_merge_falls_back() {
        let b = base();
        let l = with(json!({"traits": ["a", "b", "c"]}));
        let s = with(json!({"traits": ["a", "b", "d"]}));
        let small = |m: &Map<String, Value>| m["traits"].as_array().unwrap().len() <= 3;
        let got = decide(
            ConflictStrategy::Merge,
            FIELDS,
            true,
            PendingOp::Update,
            Some(&b),
            &l,
            &s,
            true,
            small,
        );
        assert_eq!(got.decision, Decision::Prompt);
        let got = decide(
            ConflictStrategy::Merge,
            FIELDS,
            false,
            PendingOp::Update,
            Some(&b),
            &l,
            &s,
            false,
            small,
        );
        assert_eq!(got.decision, Decision::TakeServer);
    }

    #[test]
    fn a_combination_that_breaks_a_rule_goes_to_the_winner_and_the_rest_stays_merged() {
        // Both sides removed a trait, so the union keeps none; the local side also
        // changed the note, which nobody contested.
        let b = base();
        let l = with(json!({"traits": ["b"], "note": "mine"}));
        let s = with(json!({"traits": ["a"], "lang": "de"}));
        let non_empty = |m: &Map<String, Value>| !m["traits"].as_array().unwrap().is_empty();
        let got = decide(
            ConflictStrategy::Merge,
            FIELDS,
            false,
            PendingOp::Update,
            Some(&b),
            &l,
            &s,
            false,
            non_empty,
        );
        assert_eq!(
            got.decision,
            Decision::KeepLocal(with(json!({"traits": ["a"], "note": "mine", "lang": "de"})))
        );
        assert!(got.local_lost, "the local trait removal gave way");
    }
}
