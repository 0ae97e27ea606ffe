//! The Pod Security levels the isolation tests judge rendered pods by:
//! preflight's checker (the Pod Security Standards as data, in
//! `src/engine/preflight/pod_security/`), with the Kubernetes v1.33 rules, so
//! the tests and the product cannot disagree about a control.

use cnvrgctl::engine::preflight::pod_security::{self, Level, violations};
use serde_json::Value;

/// What the Pod Security `level` (`baseline` or `restricted`) finds wrong
/// with a pod spec.
pub(super) fn pod_security_violations(pod: &Value, level: &str) -> Vec<String> {
    let no_metadata = Value::Null;
    let pod = pod_security::Pod {
        metadata: &no_metadata,
        spec: pod,
    };
    violations(
        pod,
        Level::parse(level).expect("a Pod Security level"),
        Some(33),
    )
}
