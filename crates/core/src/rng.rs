//! Injected randomness: ids, mutation ids and retry jitter all come from an [`Rng`], so a
//! test can replay a seed.

use std::sync::Mutex;

use uuid::Uuid;

use crate::clock::Clock;

pub trait Rng: Send + Sync + 'static {
    fn next_u64(&self) -> u64;

    /// A uniformly distributed float in `[0, 1)`.
    fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64: tiny, fast and good enough for ids and jitter. Seed it from the OS with
/// [`SplitMix64::from_entropy`] in the app and from a constant in tests.
#[derive(Debug)]
pub struct SplitMix64(Mutex<u64>);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(Mutex::new(seed))
    }

    /// Seeded from the operating system's randomness (via a v4 UUID).
    pub fn from_entropy() -> Self {
        let bytes = Uuid::new_v4().into_bytes();
        let seed = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        SplitMix64::new(seed)
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&self) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A time-ordered UUID v7 from the injected clock and RNG.
pub fn new_id(clock: &dyn Clock, rng: &dyn Rng) -> Uuid {
    let millis = clock.now().timestamp_millis().max(0) as u64;
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    random[8..].copy_from_slice(&rng.next_u64().to_le_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;

    #[test]
    fn same_seed_same_ids() {
        let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let a = SplitMix64::new(7);
        let b = SplitMix64::new(7);
        let ids_a: Vec<_> = (0..5).map(|_| new_id(&clock, &a)).collect();
        let ids_b: Vec<_> = (0..5).map(|_| new_id(&clock, &b)).collect();
        assert_eq!(ids_a, ids_b);
        assert!(ids_a.iter().all(|id| id.get_version_num() == 7));
        let mut unique = ids_a.clone();
        unique.dedup();
        assert_eq!(unique.len(), 5);
    }

    #[test]
    fn floats_in_unit_interval() {
        let r = SplitMix64::new(1);
        for _ in 0..10_000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
