//! cnvrgctl: one declarative spec → a converged MLOps platform on Kubernetes.
//!
//! The stages, each a module: [`spec`] (parse, default, check), [`render`]
//! (templates → objects), [`validate`] (objects against the Kubernetes schemas)
//! and [`output`] (multi-document YAML or a GitOps directory). Everything here
//! runs without a cluster.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod error;
pub mod forward;
pub mod images;
pub mod inventory;
pub mod kube;
pub mod manifest;
pub mod output;
pub mod plan;
pub mod rbac;
pub mod readiness;
pub mod redact;
pub mod render;
pub mod spec;
pub mod status;
pub mod ui;
pub mod validate;
pub mod wait;
pub mod yaml;
