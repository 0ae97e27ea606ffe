//! The integration suite: one binary, a module per area.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod e2e;
mod render;
mod spec_errors;
