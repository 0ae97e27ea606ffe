//! The only module that speaks HTTP (work in progress).
