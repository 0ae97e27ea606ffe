//! The offline pipeline: spec → objects, with no cluster and no terminal.
//! [`spec`] parses, defaults and checks the declarative spec; [`render`] turns
//! it into Kubernetes objects ([`manifest`], which also holds the kind-order
//! table and the generated-keys parser) through the templates, which
//! [`platform`]'s rules then adapt to the spec's platform; [`validate`]
//! checks them against the Kubernetes schemas and the tenants' quotas;
//! [`plan`] orders them as a dependency graph; [`output`] writes them as YAML
//! or a GitOps directory and [`rbac`] derives the rights cnvrgctl itself
//! needs. [`yaml`] and [`redact`] (the one filter secrets pass through) serve
//! every part. Nothing here speaks HTTP or uses the engine or the front end.

pub mod gitops;
pub mod images;
pub mod import;
pub mod manifest;
pub mod output;
pub mod plan;
pub mod platform;
pub mod rbac;
pub mod redact;
pub mod render;
pub mod spec;
pub mod validate;
pub mod yaml;
