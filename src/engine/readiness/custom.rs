//! Readiness of custom resources (and any kind without a rule of its own),
//! kstatus style: `Reconciling` True → Progressing, `Stalled` True → Failed,
//! `Ready` True → Ready and False/Unknown → Progressing; an object with no
//! conditions, or none of these, is Ready (nothing says otherwise). As in
//! kstatus, `Reconciling` is checked before `Stalled`: a controller still at
//! work has not given up. A condition whose own `observedGeneration` lags
//! `metadata.generation` is stale and counts as not observed yet.
//!
//! Operators that don't follow the convention get a row in [`CONDITIONS`]:
//! the condition types that must all be True. For those kinds a missing
//! condition means "not yet", not "ready".

use serde_json::Value;

use super::{Condition, Facts, Readiness, condition, group_of, int_at, not_observed, str_at};

// Kinds whose readiness is a set of conditions other than `Ready` (one
// table, which the GitOps health checks read too).
use crate::pipeline::manifest::kinds::READY_CONDITIONS as CONDITIONS;

pub(super) fn readiness(object: &Value, _: &Facts) -> Readiness {
    let group = group_of(str_at(object, &["apiVersion"]).unwrap_or_default());
    let kind = str_at(object, &["kind"]).unwrap_or_default();
    if let Some((_, _, wanted)) = CONDITIONS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
    {
        return all_true(object, wanted);
    }
    kstatus(object)
}

fn all_true(object: &Value, wanted: &[&str]) -> Readiness {
    for kind in wanted {
        let Some(found) = condition(object, kind) else {
            return Readiness::Progressing(format!("waiting for condition {kind}"));
        };
        if let Some(stale) = stale(object, &found) {
            return stale;
        }
        if !found.is_true() {
            return Readiness::Progressing(not_true(kind, &found));
        }
    }
    Readiness::Ready
}

fn kstatus(object: &Value) -> Readiness {
    if let Some(reconciling) = condition(object, "Reconciling")
        && reconciling.is_true()
    {
        let why = reconciling.explain();
        return Readiness::Progressing(if why.is_empty() {
            "reconciling".to_owned()
        } else {
            why
        });
    }
    if let Some(stalled) = condition(object, "Stalled")
        && stalled.is_true()
    {
        let why = stalled.explain();
        return Readiness::Failed(if why.is_empty() {
            "stalled".to_owned()
        } else {
            why
        });
    }
    match condition(object, "Ready") {
        Some(ready) => {
            if let Some(stale) = stale(object, &ready) {
                stale
            } else if ready.is_true() {
                Readiness::Ready
            } else {
                Readiness::Progressing(not_true("Ready", &ready))
            }
        }
        None => Readiness::Ready,
    }
}

/// Progressing when the condition was written for an older generation.
fn stale(object: &Value, found: &Condition) -> Option<Readiness> {
    let generation = int_at(object, &["metadata", "generation"])?;
    (found.observed_generation? < generation).then(|| not_observed(generation))
}

/// "Ready: Reason: message", or "not Ready" when the condition says nothing more.
fn not_true(kind: &str, found: &Condition) -> String {
    let why = found.explain();
    if why.is_empty() {
        format!("not {kind}")
    } else {
        format!("{kind}: {why}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    fn widget(conditions: &str) -> Readiness {
        check(&format!(
            "
apiVersion: example.com/v1
kind: Widget
metadata: {{name: w, generation: 2}}
status:
  observedGeneration: 2
  conditions: {conditions}
"
        ))
    }

    #[test]
    fn custom_resource_without_status_is_ready() {
        assert_eq!(
            check("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, generation: 1}}"),
            Readiness::Ready
        );
        assert_eq!(widget("[]"), Readiness::Ready);
    }

    #[test]
    fn ready_condition_decides() {
        assert_eq!(widget("[{type: Ready, status: 'True'}]"), Readiness::Ready);
        assert_eq!(
            widget(
                "[{type: Ready, status: 'False', reason: DependencyMissing, message: secret db-creds not found}]"
            ),
            Readiness::Progressing("Ready: DependencyMissing: secret db-creds not found".into())
        );
        assert_eq!(
            widget("[{type: Ready, status: Unknown}]"),
            Readiness::Progressing("not Ready".into())
        );
    }

    #[test]
    fn stalled_fails_and_reconciling_waits() {
        assert_eq!(
            widget(
                "[{type: Stalled, status: 'True', reason: InvalidSpec, message: spec.size must be positive}, {type: Ready, status: 'False'}]"
            ),
            Readiness::Failed("InvalidSpec: spec.size must be positive".into())
        );
        assert_eq!(
            widget(
                "[{type: Reconciling, status: 'True', reason: Scaling, message: 1 of 3 members up}, {type: Stalled, status: 'True'}]"
            ),
            Readiness::Progressing("Scaling: 1 of 3 members up".into())
        );
    }

    #[test]
    fn stale_ready_condition_is_not_observed() {
        assert_eq!(
            widget("[{type: Ready, status: 'True', observedGeneration: 1}]"),
            Readiness::Progressing("waiting for the controller to observe generation 2".into())
        );
    }

    #[test]
    fn prometheus_uses_available_and_reconciled() {
        let prometheus = |conditions: &str| {
            check(&format!(
                "
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {{name: k8s, namespace: monitoring, generation: 1}}
status:
  conditions: {conditions}
"
            ))
        };
        assert_eq!(
            prometheus("[{type: Available, status: 'True'}, {type: Reconciled, status: 'True'}]"),
            Readiness::Ready
        );
        assert_eq!(
            prometheus(
                "[{type: Available, status: 'False', reason: NoPodReady, message: shard 0 has 0/2 pods ready}, {type: Reconciled, status: 'True'}]"
            ),
            Readiness::Progressing("Available: NoPodReady: shard 0 has 0/2 pods ready".into())
        );
        assert_eq!(
            prometheus("[]"),
            Readiness::Progressing("waiting for condition Available".into())
        );
    }
}
