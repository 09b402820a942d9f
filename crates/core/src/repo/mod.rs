//! Repositories: local reads and optimistic writes, one module per entity.

pub mod heroes;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::rng::{new_id, Rng};

/// What a repository write needs besides the connection: injected time and randomness.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Rng,
    /// Transient push failures before a row is given up (failed, waiting for the user).
    pub max_attempts: u32,
}

impl Ctx<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn new_id(&self) -> Uuid {
        new_id(self.clock, self.rng)
    }
}
