//! Fault injection of the reference server, for tests (SPEC.md section 6). Off by
//! default; set by the server's `--fault-*` flags and, when it was started with
//! `--enable-fault-control`, at run time with `POST /api/_faults` (a [`FaultPatch`],
//! answered with the resulting [`FaultSettings`]; `GET /api/_faults` reads them).

use serde::{Deserialize, Serialize};

use crate::entity::{check_field, Rule};
use crate::FieldError;

/// The server's current fault injection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FaultSettings {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Probability (0 to 1) that a request is answered 503 `unavailable` without being
    /// handled.
    pub error_rate: f64,
    /// Probability (0 to 1) that a write (POST, PATCH, PUT, DELETE) that succeeded is
    /// answered 503 `unavailable` anyway: the write is committed but the client never
    /// learns it (a replay then gets `duplicate`).
    pub apply_then_fail_rate: f64,
    /// Every request but `/api/_faults` is answered 503 `offline`.
    pub offline: bool,
}

/// A change to the fault injection: only the fields present change. `seed` restarts the
/// random generator behind the rates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = fault_patch_schema))]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_then_fail_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Largest added latency, in milliseconds.
pub const LATENCY_MAX_MS: u64 = 60_000;

impl FaultPatch {
    pub const LATENCY: Rule = Rule::Int {
        min: 0,
        max: LATENCY_MAX_MS as i64,
        label: "latency_ms",
    };
    /// Every checked field and its rule (also published in the OpenAPI document).
    pub const RULES: &'static [(&'static str, Rule)] = &[
        ("latency_ms", Self::LATENCY),
        ("error_rate", Rule::Probability),
        ("apply_then_fail_rate", Rule::Probability),
    ];

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_field("latency_ms", &self.latency_ms, &Self::LATENCY, &mut errors);
        check_field(
            "error_rate",
            &self.error_rate,
            &Rule::Probability,
            &mut errors,
        );
        check_field(
            "apply_then_fail_rate",
            &self.apply_then_fail_rate,
            &Rule::Probability,
            &mut errors,
        );
        crate::result(errors)
    }

    pub fn apply_to(&self, s: &mut FaultSettings) {
        if let Some(v) = self.latency_ms {
            s.latency_ms = v;
        }
        if let Some(v) = self.error_rate {
            s.error_rate = v;
        }
        if let Some(v) = self.apply_then_fail_rate {
            s.apply_then_fail_rate = v;
        }
        if let Some(v) = self.offline {
            s.offline = v;
        }
    }
}

/// The settings' ranges, in the JSON Schema.
#[cfg(feature = "schema")]
fn fault_patch_schema(schema: &mut schemars::Schema) {
    crate::schema::apply_rules(schema, FaultPatch::RULES.iter().copied());
}
