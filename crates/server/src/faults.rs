//! Fault injection for tests (SPEC.md section 6): added latency, a random error rate,
//! "apply then fail" (the write commits, the answer is a 503) and an offline switch.
//! Off by default. Randomness comes from a seeded SplitMix64, never a global RNG, so a
//! test with a fixed seed sees the same faults every run.
//!
//! `POST /api/_faults` ([`is_protocol::FaultPatch`] → [`is_protocol::FaultSettings`])
//! and `GET /api/_faults` exist only when the server runs with `--enable-fault-control`;
//! they are never subject to faults themselves.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use is_protocol::{codes, FaultPatch, FaultSettings};

use crate::error::{ApiError, Json};
use crate::AppState;

/// The path of the fault-control endpoint (never faulted).
pub const CONTROL_PATH: &str = "/api/_faults";

/// SplitMix64: small, fast and good enough for coin flips.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

/// The live fault settings and their RNG.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<(FaultSettings, SplitMix64)>,
}

impl Faults {
    pub fn new(settings: FaultSettings, seed: u64) -> Faults {
        Faults {
            inner: Mutex::new((settings, SplitMix64::new(seed))),
        }
    }

    pub fn settings(&self) -> FaultSettings {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    pub fn apply(&self, patch: &FaultPatch) -> FaultSettings {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        patch.apply_to(&mut guard.0);
        if let Some(seed) = patch.seed {
            guard.1 = SplitMix64::new(seed);
        }
        guard.0.clone()
    }

    /// Draws the fate of one request: (latency, fail before, fail after a write).
    fn draw(&self, is_write: bool) -> (FaultSettings, bool, bool) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let settings = guard.0.clone();
        let fail_before = guard.1.chance(settings.error_rate);
        let fail_after = is_write && guard.1.chance(settings.apply_then_fail_rate);
        (settings, fail_before, fail_after)
    }
}

/// The middleware: applies the current faults to every request but the control path.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.config().enable_fault_control && req.uri().path() == CONTROL_PATH {
        return next.run(req).await;
    }
    let is_write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let (settings, fail_before, fail_after) = state.faults().draw(is_write);
    if settings.offline {
        return ApiError::Unavailable {
            code: codes::OFFLINE,
        }
        .into_response();
    }
    if settings.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.latency_ms)).await;
    }
    if fail_before {
        return ApiError::Unavailable {
            code: codes::UNAVAILABLE,
        }
        .into_response();
    }
    let res = next.run(req).await;
    if fail_after && res.status().is_success() {
        tracing::info!("fault injection: write applied, answer dropped");
        return ApiError::Unavailable {
            code: codes::UNAVAILABLE,
        }
        .into_response();
    }
    res
}

/// `GET /api/_faults` → the current [`FaultSettings`].
pub async fn get_faults(State(state): State<AppState>) -> axum::Json<FaultSettings> {
    axum::Json(state.faults().settings())
}

/// `POST /api/_faults` with a [`FaultPatch`] → the resulting [`FaultSettings`].
pub async fn set_faults(
    State(state): State<AppState>,
    Json(patch): Json<FaultPatch>,
) -> Result<axum::Json<FaultSettings>, ApiError> {
    patch.validate().map_err(ApiError::Validation)?;
    let settings = state.faults().apply(&patch);
    tracing::info!(?settings, "fault injection changed");
    Ok(axum::Json(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_rng_is_repeatable_and_roughly_fair() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut r = SplitMix64::new(7);
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2700..3300).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
    }
}
