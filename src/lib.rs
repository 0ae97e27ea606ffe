//! cnvrgctl: one declarative spec → a converged MLOps platform on Kubernetes.
//!
//! Three parts, one folder each:
//! - [`pipeline`]: spec → rendered, validated, ordered objects; pure, and
//!   it runs without a cluster (`render`, `validate` and `rbac` need nothing
//!   else);
//! - [`engine`]: those objects against a cluster: diff, apply in plan order,
//!   wait for readiness, prune, status and port-forward; only `engine::kube`
//!   speaks HTTP;
//! - [`front`]: the command line, the commands that join the two, and the
//!   terminal.
//!
//! Dependencies point one way: the front end uses the engine and the
//! pipeline, the engine uses the pipeline, and the pipeline uses neither.

pub mod engine;
pub mod front;
pub mod pipeline;
