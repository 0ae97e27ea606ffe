//! Preflight: what the cluster will refuse, known before anything is written.
//! Every check is derived from the rendered plan and read-only requests
//! (SelfSubjectAccessReviews excepted, which write nothing): one row per
//! finding, `pass`, `warn` or `fail`, and for every `warn` and `fail` one line
//! that says what to change, naming the spec field where that is the fix.
//!
//! The checks are a table ([`CHECKS`]); each lives in its own file with its
//! reads (through the shared [`Context`], which lists each kind once per
//! namespace and remembers what was refused) and its pure judgement. They run
//! concurrently. A read that is refused (403 on nodes, say) turns that check
//! into a `warn` naming the read; only an unreachable API server aborts the
//! run.

pub mod capacity;
mod context;
mod groups;
mod network_policy;
mod owners;
mod permissions;
mod platform;
pub mod pod_security;
mod storage;
mod version;

use futures::future::BoxFuture;
use serde::Serialize;

pub use context::{Context, Read};

use crate::engine::kube::{Cluster, ClusterError};
use crate::pipeline::manifest::Manifest;
use crate::pipeline::spec::Spec;

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pass => "pass",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The check's name (`version`, `capacity`, ...).
    pub check: &'static str,
    pub level: Level,
    /// What it is about: an object (`StatefulSet/research/research-postgres`),
    /// a class, a group, or `-`.
    pub subject: String,
    /// What was found, with the numbers.
    pub detail: String,
    /// What to change (always set for `warn` and `fail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Row {
    pub fn pass(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Row {
        Row {
            check,
            level: Level::Pass,
            subject: subject.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        check: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Row {
        Row {
            level: Level::Warn,
            fix: Some(fix.into()),
            ..Row::pass(check, subject, detail)
        }
    }

    pub fn fail(
        check: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Row {
        Row {
            level: Level::Fail,
            ..Row::warn(check, subject, detail, fix)
        }
    }

    /// A read the check needed was refused: the check is a warning, the run
    /// goes on.
    pub fn refused(check: &'static str, what: &str, reason: &str) -> Row {
        Row::warn(
            check,
            what,
            format!("cannot read {what}: {reason}; this check was skipped"),
            format!("grant read access to {what}, or run preflight as a user who has it"),
        )
    }
}

/// Everything preflight found, in check order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Row>,
}

impl Report {
    /// Whether a check failed: the run stops before its first write.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|r| r.level == Level::Fail)
    }

    /// (pass, warn, fail) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |level| self.checks.iter().filter(|r| r.level == level).count();
        (count(Level::Pass), count(Level::Warn), count(Level::Fail))
    }
}

/// One check: its name and what it does with the context.
type Check = for<'a> fn(&'a Context<'a>) -> BoxFuture<'a, Vec<Row>>;

/// The checks, in the order their rows are shown.
const CHECKS: &[Check] = &[
    |cx| Box::pin(version::check(cx)),
    |cx| Box::pin(groups::check(cx)),
    |cx| Box::pin(storage::check(cx)),
    |cx| Box::pin(capacity::check(cx)),
    |cx| Box::pin(owners::check(cx)),
    |cx| Box::pin(permissions::check(cx)),
    |cx| Box::pin(pod_security::check(cx)),
    |cx| Box::pin(platform::check(cx)),
    |cx| Box::pin(network_policy::check(cx)),
];

/// What the checks are run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `cnvrgctl preflight`: every check says what it found.
    Report,
    /// Before a run writes (which shows only what does not pass): a check
    /// skips a read that only its passing row would use (capacity: the
    /// cluster's pods, when the run adds none).
    Run,
}

/// Runs every check against the cluster for `manifests` (the scopes' rendered
/// objects). Fails only when the API server cannot be reached.
pub async fn run(
    cluster: &Cluster,
    spec: &Spec,
    manifests: &[Manifest],
    purpose: Purpose,
) -> Result<Report, ClusterError> {
    let cx = Context::new(cluster, spec, manifests, purpose);
    cx.reachable().await?;
    let rows = futures::future::join_all(CHECKS.iter().map(|check| check(&cx))).await;
    Ok(Report {
        checks: rows.into_iter().flatten().collect(),
    })
}
