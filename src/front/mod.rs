//! The front end: what a user types and sees. [`cli`] holds the clap types;
//! [`commands`] strings the pipeline and the engine together, one function
//! per command; [`ui`] is the only module that touches the terminal (it
//! decides the output mode once, and draws progress and prompts); [`error`]
//! maps every failure to an exit code.

pub mod cli;
pub mod commands;
pub mod error;
pub mod ui;
