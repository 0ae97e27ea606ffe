//! The integration suite: one binary, a module per area.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod render;
mod spec_errors;
