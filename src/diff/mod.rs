//! Diff (work in progress).
