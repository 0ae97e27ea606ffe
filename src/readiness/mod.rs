//! Readiness rules (work in progress).
