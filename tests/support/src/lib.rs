//! An in-process Kubernetes API server for tests (work in progress).
