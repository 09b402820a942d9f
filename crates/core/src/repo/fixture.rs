//! The world of a repository test: an in-memory cache, a manual clock and seeded ids,
//! and a helper that runs a write in one transaction as the app does.

use rusqlite::Connection;

use crate::clock::ManualClock;
use crate::db;
use crate::error::Result;
use crate::repo::Ctx;
use crate::rng::SplitMix64;

pub struct Fixture {
    pub conn: Connection,
    pub clock: ManualClock,
    pub rng: SplitMix64,
}

impl Fixture {
    pub fn new(seed: u64) -> Fixture {
        Fixture {
            conn: db::open_in_memory().unwrap(),
            clock: ManualClock::new("2026-03-01T08:00:00Z".parse().unwrap()),
            rng: SplitMix64::new(seed),
        }
    }

    /// Runs `f` in one committed transaction (rows given up after 3 attempts).
    pub fn tx<R>(&mut self, f: impl FnOnce(&Connection, &Ctx<'_>) -> Result<R>) -> Result<R> {
        let ctx = Ctx {
            clock: &self.clock,
            rng: &self.rng,
            max_attempts: 3,
        };
        let tx = self.conn.transaction().unwrap();
        let out = f(&tx, &ctx)?;
        tx.commit().unwrap();
        Ok(out)
    }
}
