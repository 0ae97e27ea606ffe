//! The integration suite: one binary, a module per area.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod bundle;
mod catalogue;
mod cli;
mod drift;
mod e2e;
mod engine;
mod faults;
mod fuzz;
mod isolation;
mod plan;
mod platforms;
mod port_forward;
mod preflight;
mod preflight_capacity;
mod preflight_rights;
mod present;
mod progress;
mod render;
mod secrets;
mod spec_errors;
mod timings;
