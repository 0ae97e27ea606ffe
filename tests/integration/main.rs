//! The integration suite: one binary, a module per area.

#[path = "../common/mod.rs"]
mod common;

mod adopt;
mod adopt_claims;
mod adopt_database;
mod adopt_fields;
mod bad_input;
mod bundle;
mod catalogue;
mod cli;
mod drift;
mod e2e;
mod engine;
mod faults;
mod fuzz;
mod gitops;
mod gitops_secrets;
mod import;
mod isolation;
mod manual;
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
mod watches;
