//! The oracle: what the users did (kept while the history runs), what the server wrote
//! (every version of every row, seen by the network), and the invariants of SPEC.md
//! sections 3-7 checked against the final state once everything settled.
//!
//! The invariants, and how each is decided:
//!
//! 1. **Convergence**: every client holds exactly the server's live rows, every user
//!    field and counter equal, each row synced.
//! 2. **No acknowledged write lost** except through a recorded conflict resolution.
//!    Walking each row's server versions in order, a field going from `x` (written at
//!    version `vx`) to `y` by client `d` is legitimate when `d`'s user wrote `y` while
//!    `d`'s copy already built on `vx` (it saw `x`), or `d` wrote both in that order,
//!    or `d`'s conflict history holds a resolution against a server copy at `vx` or
//!    later. Also: no invented values (every value some user wrote; sets: every item),
//!    the server's final rows are the last versions it was seen writing, and nothing
//!    was deleted that nobody deleted.
//!    And the other side: each user's last write of each field was acknowledged (some
//!    server version after its base has it), or is in that client's conflict history,
//!    or the row was deleted or discarded by that user afterwards.
//!    Under the default strategies (SPEC.md section 7) edits of *different* fields never
//!    lose either side: an automatic resolution may only drop or overwrite a field
//!    that both sides changed (`DefaultStrategyLoss` otherwise).
//! 3. **No mutation takes effect twice**: a mutation id makes at most one server write,
//!    updates and deletes land exactly on their base version + 1, creates at 1, versions
//!    only grow, and every server row is one some client created.
//! 4. **Counters** equal the number of increments users made, wherever they were made.
//! 5. **Nothing left over**: empty outboxes, no row pending or in conflict, no row
//!    failed unless the server definitively refused it.
//!
//! Where SPEC.md allows it the oracle accepts: a story's `hero_id` going to null once its
//! hero is deleted (the server's unlink, or the client's before its create went out); a
//! set (traits, keywords) merged so that each side's additions and removals stay; a row
//! a user discarded after the server refused it. Values that repeat (an age, a language)
//! make attribution lenient (any write of that value counts); generated text is unique.

use std::collections::BTreeMap;
use std::fmt;

use is_core::sync::state::SyncState;
use is_core::ConflictRecord;
use is_protocol::entity::{Field, Merge};
use is_protocol::{Entity, Input};
use serde_json::Value;
use uuid::Uuid;

use crate::history::Kind;
use crate::net::{Observed, Origin, ServerWrite};

/// How a user wrote a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Create,
    Edit,
    /// The conflict dialog's merge.
    Merge,
}

#[derive(Debug, Clone)]
pub struct UserWrite {
    pub client: usize,
    pub row: Uuid,
    pub field: String,
    pub value: Value,
    pub step: usize,
    /// The server version the client's copy built on when the user wrote it.
    pub base: Option<i64>,
    pub how: How,
}

/// What the users did.
#[derive(Debug, Default)]
pub struct Oracle {
    pub kinds: BTreeMap<Uuid, Kind>,
    /// Row → (client, step) of its creation.
    pub creators: BTreeMap<Uuid, (usize, usize)>,
    /// Every field value a user wrote, in order.
    pub writes: Vec<UserWrite>,
    /// (client, row, step) of every accepted local delete.
    pub deletes: Vec<(usize, Uuid, usize)>,
    /// (client, row, step) of every Discard of a refused row.
    pub discards: Vec<(usize, Uuid, usize)>,
    /// Increments made per row (each accepted `Core::increment`).
    pub increments: BTreeMap<Uuid, i64>,
    /// (client, kind) whose conflict strategy the user changed from the default: SPEC.md's
    /// promise about different fields holds for the default strategies only.
    pub custom_strategy: std::collections::BTreeSet<(usize, Kind)>,
}

/// A client's row at the end.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub kind: Kind,
    pub fields: Value,
    /// The counter as shown: the server's count plus unconfirmed increments.
    pub counter: i64,
    pub state: SyncState,
    pub sync_error: Option<String>,
}

#[derive(Debug, Default)]
pub struct ClientFinal {
    /// Every row in its cache (pending deletes included).
    pub rows: BTreeMap<Uuid, ClientRow>,
    pub outbox: usize,
    /// Rows whose oldest outbox entry is a counter increment.
    pub increment_heads: std::collections::BTreeSet<Uuid>,
    /// Conflict history per row (losing versions, newest first).
    pub history: BTreeMap<Uuid, Vec<ConflictRecord>>,
}

/// The state after settling.
#[derive(Debug, Default)]
pub struct Final {
    /// Every row of the account on the server, tombstones included.
    pub server: BTreeMap<Uuid, Value>,
    pub clients: Vec<ClientFinal>,
}

/// Which invariant broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Inv {
    /// 1: a client differs from the server.
    Converge,
    /// 2: an acknowledged write was overwritten without a recorded resolution.
    LostWrite,
    /// 2: a user's write was neither acknowledged nor recorded.
    LostLocalEdit,
    /// 2: a value nobody wrote.
    Invented,
    /// 1: a client keeps, as synced, a row the server deleted, after the server refused
    /// its change of that row.
    GhostAfterRefusal,
    /// 1: a client keeps, as synced, a row the server deleted (and pruned) before the
    /// client's first pull: it knew the row from its own push.
    GhostAfterLateFirstPull,
    /// 5: a row never created on the server, whose create waits behind its own counter
    /// increment (which waits for the create).
    CreateBehindIncrement,
    /// 1: a row discarded after a refusal is synced but older than the server's.
    StaleAfterDiscard,
    /// 5: a row deleted locally whose create the server refused stays failed, with an
    /// outbox entry that can never drain (and Discard fails).
    StuckAfterRefusedCreate,
    /// 2 (SPEC.md section 7): a conflict resolution dropped a user's edit and recorded
    /// nothing in the conflict history.
    UnrecordedResolution,
    /// 2 (SPEC.md section 7): an automatic resolution lost an edit of a field the other
    /// side did not change.
    DefaultStrategyLoss,
    /// 3: a mutation took effect twice, a version broke its precondition, a row nobody
    /// created.
    Duplicate,
    /// 4: a counter differs from the increments made.
    Counter,
    /// 5: an outbox not empty, a row pending or in conflict.
    Leftover,
    /// 5: a row given up after failures that had no answer (the server never refused it).
    FailedOffline,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub inv: Inv,
    pub kind: Option<Kind>,
    /// The row and the client it is about, when it is about one.
    pub row: Option<Uuid>,
    pub client: Option<usize>,
    pub msg: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {}", self.inv, self.msg)
    }
}

fn fields_of(kind: Kind) -> &'static [Field] {
    match kind {
        Kind::Hero => <<is_protocol::Hero as Entity>::Input as Input>::FIELDS,
        Kind::Story => <<is_protocol::Story as Entity>::Input as Input>::FIELDS,
        Kind::Event => <<is_protocol::CustomEvent as Entity>::Input as Input>::FIELDS,
    }
}

fn counter_of(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Hero => None,
        Kind::Story => Some("play_count"),
        Kind::Event => Some("usage_count"),
    }
}

/// Resolutions a strategy made on its own (the user did not choose).
fn automatic(resolution: &str) -> bool {
    !resolution.starts_with("user_")
}

fn version(rec: &Value) -> i64 {
    rec["version"].as_i64().unwrap_or(0)
}

fn deleted(rec: &Value) -> bool {
    rec["deleted"].as_bool().unwrap_or(false)
}

fn items(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

impl Oracle {
    pub fn created(&mut self, client: usize, kind: Kind, id: Uuid, step: usize) {
        self.kinds.insert(id, kind);
        self.creators.insert(id, (client, step));
    }

    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        client: usize,
        row: Uuid,
        field: &str,
        value: Value,
        step: usize,
        base: Option<i64>,
        how: How,
    ) {
        self.writes.push(UserWrite {
            client,
            row,
            field: field.to_owned(),
            value,
            step,
            base,
            how,
        });
    }

    pub fn deleted(&mut self, client: usize, row: Uuid, step: usize) {
        self.deletes.push((client, row, step));
    }

    pub fn discarded(&mut self, client: usize, row: Uuid, step: usize) {
        self.discards.push((client, row, step));
    }

    pub fn incremented(&mut self, row: Uuid) {
        *self.increments.entry(row).or_default() += 1;
    }

    fn writes_of<'a>(
        &'a self,
        client: usize,
        row: Uuid,
        field: &'a str,
    ) -> impl Iterator<Item = (usize, &'a UserWrite)> + 'a {
        self.writes
            .iter()
            .enumerate()
            .filter(move |(_, w)| w.client == client && w.row == row && w.field == field)
    }

    /// Every invariant, against what the network saw and the final state.
    pub fn check(&self, obs: &Observed, fin: &Final) -> Vec<Violation> {
        let mut out = Vec::new();
        for a in &obs.anomalies {
            out.push(Violation {
                inv: Inv::Duplicate,
                kind: None,
                row: None,
                client: None,
                msg: a.clone(),
            });
        }
        for (m, n) in &obs.effects {
            if *n > 1 {
                out.push(Violation {
                    inv: Inv::Duplicate,
                    kind: None,
                    row: None,
                    client: None,
                    msg: format!("mutation {m} took effect {n} times"),
                });
            }
        }
        self.check_server(obs, fin, &mut out);
        for (id, versions) in &obs.history {
            if let Some(kind) = self.kinds.get(id) {
                self.check_row(*kind, *id, versions, fin, &mut out);
            }
        }
        self.check_local_writes(obs, fin, &mut out);
        self.check_clients(obs, fin, &mut out);
        out
    }

    /// The server's rows: each created by a client, each its last observed version,
    /// counters equal to the increments made; no observed row vanished but a pruned
    /// tombstone.
    fn check_server(&self, obs: &Observed, fin: &Final, out: &mut Vec<Violation>) {
        for (id, rec) in &fin.server {
            let kind = self.kinds.get(id).copied();
            let v = |inv, msg| Violation {
                inv,
                kind,
                row: Some(*id),
                client: None,
                msg,
            };
            let Some(kind) = kind else {
                out.push(v(
                    Inv::Duplicate,
                    format!("the server has a row {id} that no client created"),
                ));
                continue;
            };
            let last = obs.history.get(id).and_then(|h| h.last_key_value());
            match last {
                None => out.push(v(
                    Inv::LostWrite,
                    format!("{} {id}: on the server but never seen written", kind.name()),
                )),
                Some((lv, w)) if *lv != version(rec) || !same_fields(kind, &w.record, rec) => out
                    .push(v(
                        Inv::LostWrite,
                        format!(
                            "{} {id}: the server holds {} but last wrote {} (version {lv})",
                            kind.name(),
                            brief(kind, rec),
                            brief(kind, &w.record)
                        ),
                    )),
                _ => {}
            }
            if let (Some(counter), false) = (counter_of(kind), deleted(rec)) {
                let want = self.increments.get(id).copied().unwrap_or(0);
                let got = rec[counter].as_i64().unwrap_or(0);
                if got != want {
                    out.push(v(
                        Inv::Counter,
                        format!(
                            "{} {id}: {counter} is {got} on the server, users made {want} increments",
                            kind.name()
                        ),
                    ));
                }
            }
        }
        for (id, versions) in &obs.history {
            let gone = !fin.server.contains_key(id);
            if let (true, Some((_, w))) = (gone, versions.last_key_value()) {
                if !deleted(&w.record) {
                    out.push(Violation {
                        inv: Inv::LostWrite,
                        kind: self.kinds.get(id).copied(),
                        row: Some(*id),
                        client: None,
                        msg: format!(
                            "{id}: live at version {} and then gone from the server",
                            version(&w.record)
                        ),
                    });
                }
            }
        }
    }

    /// Invariant 2 on one row's server versions.
    fn check_row(
        &self,
        kind: Kind,
        id: Uuid,
        versions: &BTreeMap<i64, ServerWrite>,
        fin: &Final,
        out: &mut Vec<Violation>,
    ) {
        let fields = fields_of(kind);
        let label = format!("{} {id}", kind.name());
        let mut push = |inv, msg: String| {
            out.push(Violation {
                inv,
                kind: Some(kind),
                row: Some(id),
                client: None,
                msg,
            })
        };
        let mut iter = versions.iter();
        let Some((&v1, first)) = iter.next() else {
            return;
        };
        let creator = self.creators.get(&id).map(|c| c.0);
        match &first.origin {
            Origin::Client {
                client,
                op: "create",
                ..
            } if v1 == 1 && Some(*client) == creator => {}
            o => push(
                Inv::Duplicate,
                format!("{label}: first written at version {v1} by {o:?}, created by c{creator:?}"),
            ),
        }
        // Each field's current value: who wrote it, at which version, over which value.
        let mut setter: BTreeMap<&str, (i64, Origin, Value)> = BTreeMap::new();
        for f in fields {
            let val = &first.record[f.name];
            // A story whose hero vanished before its create was sent goes unlinked.
            let unlinked = f.name == "hero_id" && val.is_null();
            if let (Some(c), false) = (creator, unlinked) {
                if !self.wrote(c, id, f, val) {
                    push(
                        Inv::Invented,
                        format!(
                            "{label}: created with {}={val}, which c{c} never wrote",
                            f.name
                        ),
                    );
                }
            }
            setter.insert(f.name, (v1, first.origin.clone(), Value::Null));
        }
        let mut prev = first;
        let mut prev_v = v1;
        for (&v, w) in iter {
            // Versions the network did not see: the server wrote them on its own (a hero
            // delete unlinking this story) in the request that also wrote `v`.
            let gap = v > prev_v + 1;
            prev_v = v;
            if deleted(&w.record) {
                if !deleted(&prev.record) {
                    match &w.origin {
                        Origin::Client { client, op: "delete", .. }
                            if self.deletes.iter().any(|d| d.0 == *client && d.1 == id) => {}
                        o => push(
                            Inv::Invented,
                            format!("{label}: deleted at version {v} by {o:?}, whose user never deleted it"),
                        ),
                    }
                }
                prev = w;
                continue;
            }
            for f in fields {
                let (x, y) = (&prev.record[f.name], &w.record[f.name]);
                if x == y {
                    continue;
                }
                let (vx, ox, before_x) = setter[f.name].clone();
                let unlinked = f.name == "hero_id" && y.is_null();
                let increment = matches!(
                    &w.origin,
                    Origin::Client {
                        op: "increment",
                        ..
                    }
                );
                match &w.origin {
                    _ if gap && unlinked => {}
                    _ if increment => push(
                        Inv::Invented,
                        format!(
                            "{label}: an increment changed {} from {x} to {y} at version {v}",
                            f.name
                        ),
                    ),
                    Origin::Server => {
                        if !(f.name == "hero_id" && y.is_null()) {
                            push(
                                Inv::Invented,
                                format!("{label}: the server itself changed {} from {x} to {y} at version {v}", f.name),
                            );
                        }
                    }
                    Origin::Client { client: d, .. } => {
                        let d = *d;
                        if !(self.anyone_wrote(id, f, y) || f.name == "hero_id" && y.is_null()) {
                            push(
                                Inv::Invented,
                                format!(
                                    "{label}: c{d} set {}={y} at version {v}, which no user wrote",
                                    f.name
                                ),
                            );
                        }
                        // A set merged so that x's own additions and removals stay
                        // (SPEC.md section 7: trait lists take the union) lost nothing.
                        let kept = f.merge == Merge::Set && {
                            let (b, xs, ys) = (items(&before_x), items(x), items(y));
                            xs.iter().all(|i| b.contains(i) || ys.contains(i))
                                && b.iter().all(|i| xs.contains(i) || !ys.contains(i))
                        };
                        let lost = if kept {
                            None
                        } else {
                            self.overwrite_is_lost(d, id, f, (vx, &ox), x, y, fin)
                        };
                        if let Some(why) = lost {
                            let how = if why == Inv::LostWrite {
                                "with no conflict recorded on that client".to_owned()
                            } else {
                                format!("by an automatic resolution although c{d}'s user did not change {} concurrently", f.name)
                            };
                            push(
                                why,
                                format!(
                                    "{label}: {}={x} (version {vx}, by {}) overwritten with {y} at version {v} by c{d}, {how}",
                                    f.name,
                                    origin_name(&ox),
                                ),
                            );
                        }
                    }
                }
                setter.insert(f.name, (v, w.origin.clone(), x.clone()));
            }
            prev = w;
        }
    }

    /// Whether `d` writing `y` over `x` lost the write of `x`: `None` if legitimate.
    #[allow(clippy::too_many_arguments)]
    fn overwrite_is_lost(
        &self,
        d: usize,
        id: Uuid,
        f: &Field,
        (vx, ox): (i64, &Origin),
        x: &Value,
        y: &Value,
        fin: &Final,
    ) -> Option<Inv> {
        let set = f.merge == Merge::Set;
        let writes: Vec<(usize, &UserWrite)> = self.writes_of(d, id, f.name).collect();
        let wrote_y = |w: &UserWrite| set || &w.value == y;
        // d's user wrote y when its copy already had version vx.
        if writes.iter().any(|(_, w)| wrote_y(w) && w.base >= Some(vx)) {
            return None;
        }
        match ox {
            // Overwriting the server's own unlink is a later edit of that field.
            Origin::Server => return None,
            // d's own writes, in the order its user made them.
            Origin::Client { client, .. } if *client == d => {
                let first_x = writes.iter().find(|(_, w)| &w.value == x).map(|(i, _)| *i);
                if first_x.is_some_and(|ix| writes.iter().any(|(i, w)| *i > ix && wrote_y(w))) {
                    return None;
                }
            }
            Origin::Client { .. } => {}
        }
        let records: Vec<&ConflictRecord> = fin.clients[d]
            .history
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|r| version(&r.server) >= vx)
            .collect();
        if records.is_empty() {
            return Some(Inv::LostWrite);
        }
        // Recorded. Under an automatic resolution, a field d's user did not change since
        // before x must not be the one that overwrote x.
        let concurrent = writes.iter().any(|(_, w)| w.base < Some(vx) && wrote_y(w));
        let default = !self.custom_strategy.contains(&(d, self.kinds[&id]));
        if default && records.iter().all(|r| automatic(&r.resolution)) && !concurrent {
            return Some(Inv::DefaultStrategyLoss);
        }
        None
    }

    /// Whether client `c`'s user ever wrote `val` to field `f` of the row (or, for a set,
    /// every item of it).
    fn wrote(&self, c: usize, id: Uuid, f: &Field, val: &Value) -> bool {
        let mut writes = self.writes_of(c, id, f.name);
        if f.merge == Merge::Set {
            let mine: Vec<Value> = self
                .writes_of(c, id, f.name)
                .flat_map(|(_, w)| items(&w.value))
                .collect();
            return items(val).iter().all(|i| mine.contains(i));
        }
        writes.any(|(_, w)| &w.value == val)
    }

    /// Whether some user wrote `val` to field `f` of the row (for a set: each item).
    fn anyone_wrote(&self, id: Uuid, f: &Field, val: &Value) -> bool {
        let mut writes = self
            .writes
            .iter()
            .filter(|w| w.row == id && w.field == f.name);
        if f.merge == Merge::Set {
            let all: Vec<Value> = writes.flat_map(|w| items(&w.value)).collect();
            return items(val).iter().all(|i| all.contains(i));
        }
        writes.any(|w| &w.value == val)
    }

    /// The other side of invariant 2: each user's last write of each field reached the
    /// server, or was recorded as lost, or the row went away by that user's hand.
    fn check_local_writes(&self, obs: &Observed, fin: &Final, out: &mut Vec<Violation>) {
        let mut last: BTreeMap<(usize, Uuid, &str), &UserWrite> = BTreeMap::new();
        for w in &self.writes {
            last.insert((w.client, w.row, w.field.as_str()), w);
        }
        for ((d, id, field), w) in last {
            let kind = self.kinds[&id];
            let f = fields_of(kind)
                .iter()
                .find(|f| f.name == field)
                .expect("a declared field");
            let set = f.merge == Merge::Set;
            let empty = BTreeMap::new();
            let versions = obs.history.get(&id).unwrap_or(&empty);
            let base = w.base.unwrap_or(0);
            let acked = versions.iter().any(|(v, s)| {
                *v > base
                    && !deleted(&s.record)
                    && (s.record[field] == w.value
                        || (set
                            && matches!(&s.origin, Origin::Client { client, .. } if *client == d)))
            }) || (w.base.is_some()
                && versions
                    .get(&base)
                    .is_some_and(|s| s.record[field] == w.value));
            // A story's hero that was deleted leaves its stories unlinked (SPEC.md
            // section 2): the link is moot, not lost.
            let hero_gone = field == "hero_id"
                && w.value
                    .as_str()
                    .and_then(|h| h.parse::<Uuid>().ok())
                    .is_some_and(|h| {
                        self.deletes.iter().any(|d| d.1 == h)
                            || obs
                                .history
                                .get(&h)
                                .is_some_and(|hv| hv.values().any(|s| deleted(&s.record)))
                    });
            if acked || hero_gone {
                continue;
            }
            let by_own_hand = self
                .deletes
                .iter()
                .chain(&self.discards)
                .any(|(c, r, step)| *c == d && *r == id && *step >= w.step);
            if by_own_hand {
                continue;
            }
            let records: Vec<&ConflictRecord> = fin.clients[d]
                .history
                .get(&id)
                .into_iter()
                .flatten()
                .filter(|r| set || r.local[field] == w.value)
                .collect();
            let label = format!("{} {id}", kind.name());
            if records.is_empty() {
                // The server answered this client's mutation of the row `conflict` after the
                // edit: a resolution dropped it without a record.
                let resolved = obs
                    .conflicts
                    .get(&(d, id))
                    .is_some_and(|steps| steps.iter().any(|s| *s >= w.step));
                out.push(Violation {
                    row: Some(id),
                    client: Some(d),
                    inv: if resolved {
                        Inv::UnrecordedResolution
                    } else {
                        Inv::LostLocalEdit
                    },
                    kind: Some(kind),
                    msg: format!(
                        "{label}: c{d}'s {} {field}={} (step {}, on version {:?}) never reached the server and is in no conflict record",
                        match w.how {
                            How::Create => "new row with",
                            How::Edit => "edit",
                            How::Merge => "merged",
                        },
                        w.value,
                        w.step,
                        w.base
                    ),
                });
                continue;
            }
            // Dropped by a strategy: fine if someone else changed this very field in
            // between (or deleted the row), not if only other fields moved (under the
            // default strategies).
            let contested = self.custom_strategy.contains(&(d, kind))
                || records.iter().any(|r| {
                    !automatic(&r.resolution)
                    || deleted(&r.server)
                    || versions.iter().any(|(v, s)| {
                        *v > base
                            && *v <= version(&r.server)
                            && !matches!(&s.origin, Origin::Client { client, .. } if *client == d)
                            && versions
                                .range(..*v)
                                .next_back()
                                .is_some_and(|(_, p)| p.record[field] != s.record[field])
                    })
                });
            if !contested {
                out.push(Violation {
                    inv: Inv::DefaultStrategyLoss,
                    kind: Some(kind),
                    row: Some(id),
                    client: Some(d),
                    msg: format!(
                        "{label}: c{d}'s edit {field}={} (step {}) was dropped by `{}` although no other client changed {field}",
                        w.value, w.step, records[0].resolution
                    ),
                });
            }
        }
        // A row a user created reached the server, or went away by that user's hand.
        for (id, (c, step)) in &self.creators {
            let seen = obs.history.contains_key(id);
            let gone_by_hand = self
                .deletes
                .iter()
                .chain(&self.discards)
                .any(|(d, r, s)| d == c && r == id && s >= step);
            if !seen && !gone_by_hand && !fin.clients[*c].history.contains_key(id) {
                let kind = self.kinds[id];
                out.push(Violation {
                    inv: Inv::LostLocalEdit,
                    kind: Some(kind),
                    row: Some(*id),
                    client: Some(*c),
                    msg: format!(
                        "{} {id}: created by c{c} at step {step}, never reached the server",
                        kind.name()
                    ),
                });
            }
        }
    }

    /// Invariants 1 and 5 for each client.
    fn check_clients(&self, obs: &Observed, fin: &Final, out: &mut Vec<Violation>) {
        let live: BTreeMap<&Uuid, &Value> =
            fin.server.iter().filter(|(_, r)| !deleted(r)).collect();
        for (c, cl) in fin.clients.iter().enumerate() {
            if cl.outbox > 0 {
                out.push(Violation {
                    inv: Inv::Leftover,
                    kind: None,
                    row: None,
                    client: Some(c),
                    msg: format!("c{c}: {} outbox entries left", cl.outbox),
                });
            }
            for (id, row) in &cl.rows {
                let v = |inv, msg| Violation {
                    inv,
                    kind: Some(row.kind),
                    row: Some(*id),
                    client: Some(c),
                    msg,
                };
                match row.state {
                    SyncState::Synced => {}
                    SyncState::Failed(is_core::sync::state::PendingOp::Delete)
                        if obs.refused.contains(&(c, *id)) && !obs.history.contains_key(id) =>
                    {
                        out.push(v(
                            Inv::StuckAfterRefusedCreate,
                            format!(
                                "c{c}: {} {id} left failed (delete) after the server refused its create; it never existed there: {:?}",
                                row.kind.name(),
                                row.sync_error
                            ),
                        ))
                    }
                    SyncState::Failed(op) => {
                        let refused = obs.refused.contains(&(c, *id));
                        let offline = row.sync_error.as_deref().is_some_and(|e| {
                            e.starts_with("the server could not be reached")
                                || e.starts_with("the server did not answer")
                        });
                        let inv = if offline && !refused {
                            Inv::FailedOffline
                        } else {
                            Inv::Leftover
                        };
                        out.push(v(
                            inv,
                            format!(
                                "c{c}: {} {id} left failed ({} {}, refused by the server: {refused}): {:?}",
                                row.kind.name(),
                                op.as_str(),
                                if offline { "after offline errors" } else { "" },
                                row.sync_error
                            ),
                        ));
                    }
                    SyncState::Pending(is_core::sync::state::PendingOp::Create)
                        if cl.increment_heads.contains(id) =>
                    {
                        out.push(v(
                            Inv::CreateBehindIncrement,
                            format!(
                                "c{c}: {} {id} left pending create: its oldest outbox entry is an increment, which waits for the create",
                                row.kind.name()
                            ),
                        ))
                    }
                    s => out.push(v(
                        Inv::Leftover,
                        format!("c{c}: {} {id} left {s}", row.kind.name()),
                    )),
                }
                match live.get(id) {
                    None => {
                        // A row the server deleted, kept as synced here.
                        let ghost = row.state == SyncState::Synced
                            && obs
                                .history
                                .get(id)
                                .and_then(|h| h.last_key_value())
                                .is_some_and(|(_, w)| deleted(&w.record));
                        let (inv, why) = if ghost && obs.refused.contains(&(c, *id)) {
                            (
                                Inv::GhostAfterRefusal,
                                " (deleted there; this client's change was refused)",
                            )
                        } else if ghost && first_pull_after_delete(obs, c, *id) {
                            (
                                Inv::GhostAfterLateFirstPull,
                                " (deleted there before this client's first pull)",
                            )
                        } else {
                            (Inv::Converge, "")
                        };
                        out.push(v(
                            inv,
                            format!(
                                "c{c} has {} {id} ({}), the server has no live row{why}",
                                row.kind.name(),
                                row.state
                            ),
                        ))
                    }
                    Some(rec) => {
                        let mut diff = Vec::new();
                        for f in fields_of(row.kind) {
                            if row.fields[f.name] != rec[f.name] {
                                diff.push(format!(
                                    "{}: {} here, {} on the server",
                                    f.name, row.fields[f.name], rec[f.name]
                                ));
                            }
                        }
                        if let Some(counter) = counter_of(row.kind) {
                            let server = rec[counter].as_i64().unwrap_or(0);
                            if row.counter != server {
                                diff.push(format!(
                                    "{counter}: {} here, {server} on the server",
                                    row.counter
                                ));
                            }
                        }
                        // Discarded here (after the server refused it), synced, and still
                        // not what the server has.
                        let stale = row.state == SyncState::Synced
                            && self.discards.iter().any(|d| d.0 == c && d.1 == *id);
                        if !diff.is_empty() {
                            out.push(v(
                                if stale {
                                    Inv::StaleAfterDiscard
                                } else {
                                    Inv::Converge
                                },
                                format!(
                                    "c{c}: {} {id} differs: {}",
                                    row.kind.name(),
                                    diff.join("; ")
                                ),
                            ));
                        }
                    }
                }
            }
            for (id, rec) in &live {
                if !cl.rows.contains_key(*id) {
                    let kind = self.kinds.get(*id).copied();
                    out.push(Violation {
                        inv: Inv::Converge,
                        kind,
                        row: Some(**id),
                        client: Some(c),
                        msg: format!(
                            "c{c} lacks {} {id} that the server has ({})",
                            kind.map_or("row", Kind::name),
                            kind.map_or_else(String::new, |k| brief(k, rec))
                        ),
                    });
                }
            }
        }
    }
}

/// Whether client `c` first pulled the change feed after the row was deleted.
fn first_pull_after_delete(obs: &Observed, c: usize, id: Uuid) -> bool {
    let deleted_at = obs
        .history
        .get(&id)
        .and_then(|h| h.values().find(|w| deleted(&w.record)))
        .map(|w| w.step);
    match (deleted_at, obs.first_pull.get(&c)) {
        (Some(d), Some(p)) => *p > d,
        (Some(_), None) => true,
        _ => false,
    }
}

fn same_fields(kind: Kind, a: &Value, b: &Value) -> bool {
    deleted(a) == deleted(b)
        && fields_of(kind).iter().all(|f| a[f.name] == b[f.name])
        && counter_of(kind).is_none_or(|c| a[c] == b[c])
}

fn brief(kind: Kind, rec: &Value) -> String {
    let mut parts: Vec<String> = fields_of(kind)
        .iter()
        .map(|f| format!("{}={}", f.name, rec[f.name]))
        .collect();
    if deleted(rec) {
        parts.push("deleted".into());
    }
    format!("{{{}}}", parts.join(" "))
}

fn origin_name(o: &Origin) -> String {
    match o {
        Origin::Client { client, op, .. } => format!("c{client}'s {op}"),
        Origin::Server => "the server".into(),
    }
}
