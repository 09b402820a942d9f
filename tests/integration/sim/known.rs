//! Engine bugs the simulation found (FINDINGS.md, all fixed): how each shows in the
//! oracle's verdict, and the user action or setting that works around it. Each has a
//! regression test replaying its seed. With `SIM_LENIENT=1` a seed whose violations are
//! all explained this way counts as "known" rather than failed (for studying a new bug
//! once it is added here); by default every violation fails.

use crate::history::{History, Kind};
use crate::oracle::{Inv, Violation};
use crate::world::{run, Opts, RunResult, Workarounds};

pub struct KnownBug {
    pub name: &'static str,
    pub summary: &'static str,
    /// A violation this bug causes.
    pub shows_as: fn(&Violation) -> bool,
}

pub const KNOWN: &[KnownBug] = &[
    KnownBug {
        name: "offline_failures_spend_attempts",
        summary: "pushes that got no answer spend attempts; after max_attempts the row stays failed",
        shows_as: |v| v.inv == Inv::FailedOffline,
    },
    KnownBug {
        name: "hero_server_wins_drops_other_field_edits",
        summary: "heroes default to ServerWins: an edit of a field the other device did not touch is dropped",
        shows_as: |v| v.inv == Inv::DefaultStrategyLoss && v.kind == Some(Kind::Hero),
    },
    KnownBug {
        name: "custom_event_local_wins_reverts_other_fields",
        summary: "custom events' LocalWins re-sends the whole local row: fields only the other device changed are reverted",
        shows_as: |v| v.inv == Inv::DefaultStrategyLoss && v.kind == Some(Kind::Event),
    },
    KnownBug {
        name: "merge_drops_local_fields_unrecorded",
        summary: "a merge that keeps some local fields and drops others (local_lost) records nothing in the conflict history",
        shows_as: |v| v.inv == Inv::UnrecordedResolution,
    },
    KnownBug {
        name: "edit_of_pruned_row_refused_then_ghost",
        summary: "an edit of a row deleted elsewhere whose tombstone was pruned is refused (not_found); Discard brings the row back as synced, forever",
        shows_as: |v| v.inv == Inv::GhostAfterRefusal,
    },
    KnownBug {
        name: "first_pull_misses_pruned_deletes",
        summary: "a client that knows a row from its own push, and first pulls after the row was deleted elsewhere and its tombstone pruned, keeps it as synced, forever",
        shows_as: |v| v.inv == Inv::GhostAfterLateFirstPull,
    },
    KnownBug {
        name: "refused_create_of_deleted_row_stuck",
        summary: "a row deleted locally while its create was in flight, whose create the server then refuses, stays failed with an undrainable outbox entry; Discard fails",
        shows_as: |v| v.inv == Inv::StuckAfterRefusedCreate,
    },
    KnownBug {
        name: "discard_reverts_to_stale_base",
        summary: "Discard of a failed row reverts to its base copy even when a newer server copy was remembered: the row is synced at an old version and never catches up",
        shows_as: |v| v.inv == Inv::StaleAfterDiscard,
    },
    KnownBug {
        name: "reissued_create_waits_behind_increment",
        summary: "a refused create is re-issued behind the row's counter increments, which wait for the create: after Retry or an edit the row never reaches the server",
        shows_as: |v| v.inv == Inv::CreateBehindIncrement,
    },
];

/// A seed's verdict.
#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// Every violation is explained by these known bugs.
    Known(Vec<&'static str>),
    /// Violations no known bug explains (from the run with work-arounds, if one ran).
    Fail(Vec<Violation>),
}

/// The known bugs that explain a violation.
fn explain(v: &Violation) -> Vec<&'static str> {
    KNOWN
        .iter()
        .filter(|b| (b.shows_as)(v))
        .map(|b| b.name)
        .collect()
}

/// Violations no known bug explains, directly or as a consequence: a violation about a
/// row a known bug broke (the row then also differs, or its edit never arrived), or an
/// outbox left over on a client where a known bug left a row stuck.
fn unexplained(vs: &[Violation]) -> Vec<Violation> {
    let known: Vec<&Violation> = vs.iter().filter(|v| !explain(v).is_empty()).collect();
    let stuck = |v: &Violation| {
        matches!(
            v.inv,
            Inv::FailedOffline | Inv::StuckAfterRefusedCreate | Inv::CreateBehindIncrement
        )
    };
    vs.iter()
        .filter(|v| explain(v).is_empty())
        .filter(|v| !known.iter().any(|k| v.row.is_some() && k.row == v.row))
        .filter(|v| {
            !(v.inv == Inv::Leftover
                && v.row.is_none()
                && known.iter().any(|k| stuck(k) && k.client == v.client))
        })
        .cloned()
        .collect()
}

/// Runs a seed. A violation a known bug explains is not a failure; when others remain
/// (possibly consequences of a known bug), the seed is replayed with the known bugs'
/// work-arounds, and fails if that replay still shows a violation no known bug explains.
pub async fn judge(seed: u64, history: &History, strict: bool) -> (Verdict, RunResult) {
    let first = run(seed, history, Opts::default()).await;
    if first.violations.is_empty() {
        return (Verdict::Pass, first);
    }
    if strict {
        return (Verdict::Fail(first.violations.clone()), first);
    }
    let mut bugs: Vec<&'static str> = first.violations.iter().flat_map(explain).collect();
    if unexplained(&first.violations).is_empty() {
        bugs.sort();
        bugs.dedup();
        return (Verdict::Known(bugs), first);
    }
    let opts = Opts {
        workarounds: Workarounds::ALL,
        ..Default::default()
    };
    let again = run(seed, history, opts).await;
    let left = unexplained(&again.violations);
    if !left.is_empty() || bugs.is_empty() {
        let left = if left.is_empty() {
            unexplained(&first.violations)
        } else {
            left
        };
        return (Verdict::Fail(left), first);
    }
    bugs.extend(again.violations.iter().flat_map(explain));
    bugs.sort();
    bugs.dedup();
    (Verdict::Known(bugs), first)
}
