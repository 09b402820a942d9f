//! Shrinking a failing history: remove chunks of steps, then single steps, as long as the
//! failure persists, until no single step can go (a fixpoint).

use crate::history::History;
use crate::world::{run, Opts, RunResult};

/// The smallest history (by this search) for which `fails` still holds, and its run.
pub async fn shrink(
    seed: u64,
    history: &History,
    opts: Opts,
    fails: impl Fn(&RunResult) -> bool,
) -> (History, RunResult) {
    let mut best = history.clone();
    let mut best_run = run(seed, &best, opts).await;
    assert!(fails(&best_run), "the failure does not reproduce");
    let mut chunk = (best.steps.len() / 2).max(1);
    loop {
        let mut removed = false;
        let mut i = 0;
        while i < best.steps.len() {
            let end = (i + chunk).min(best.steps.len());
            let drop: Vec<usize> = (i..end).collect();
            let candidate = best.without(&drop);
            let r = run(seed, &candidate, opts).await;
            if fails(&r) {
                best = candidate;
                best_run = r;
                removed = true;
            } else {
                i = end;
            }
        }
        if chunk == 1 && !removed {
            return (best, best_run);
        }
        if !removed {
            chunk = (chunk / 2).max(1);
        }
    }
}
