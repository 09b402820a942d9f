//! Core + real reference server on loopback: the sync scenarios of SPEC.md sections 3-6.
//! One test binary (ripgrep style); each scenario gets its own server and devices.

mod custom_events;
mod healing;
mod heroes;
mod profile;
mod resync;
mod stories;
