//! Readiness of the workloads that keep pods running: Deployment, StatefulSet,
//! DaemonSet and ReplicaSet. Each compares the replica counts in `status` with
//! what `spec` asks for, so that a rollout counts as done only when the new pods
//! are available and the old ones are gone. The generic generation check runs
//! before these rules (see the parent module); pod troubles behind a workload
//! are found by [`super::pod_trouble`], not here.
//!
//! Decisions:
//! - Desired replicas are `spec.replicas`, defaulting to 1 as the API server
//!   does. An HPA scales through the `/scale` subresource, which writes
//!   `spec.replicas`, so a live HPA-owned object still carries it.
//! - A paused Deployment is judged like any other: Ready when its pods are all
//!   up to date (pausing then changes nothing), otherwise Progressing with a
//!   sentence saying the rollout is paused and how to resume it — never Ready
//!   while old pods still serve.
//! - With `updateStrategy: OnDelete` (StatefulSet, DaemonSet) changes roll out
//!   only when someone deletes pods, so the update checks are skipped; unlike
//!   Helm and kstatus the pods must still be ready/available, so a fresh
//!   install is not reported Ready before any pod runs.

use serde_json::Value;

use super::{Facts, Readiness, bool_at, condition, count, int_at, str_at};

fn desired_replicas(object: &Value) -> i64 {
    int_at(object, &["spec", "replicas"]).unwrap_or(1)
}

fn status_count(object: &Value, field: &str) -> i64 {
    int_at(object, &["status", field]).unwrap_or(0)
}

pub(super) fn deployment(object: &Value, _: &Facts) -> Readiness {
    if let Some(progressing) = condition(object, "Progressing")
        && progressing.is_false()
        && progressing.reason == "ProgressDeadlineExceeded"
    {
        return Readiness::Failed(format!("rollout stuck: {}", progressing.explain()));
    }
    let rollout = deployment_rollout(object);
    match rollout {
        Readiness::Progressing(why) if bool_at(object, &["spec", "paused"]) => {
            let name = str_at(object, &["metadata", "name"]).unwrap_or_default();
            Readiness::Progressing(format!(
                "rollout paused ({why}): resume it with `kubectl rollout resume deployment/{name}`"
            ))
        }
        other => other,
    }
}

fn deployment_rollout(object: &Value) -> Readiness {
    let replicas = desired_replicas(object);
    let current = status_count(object, "replicas");
    let updated = status_count(object, "updatedReplicas");
    let available = status_count(object, "availableReplicas");
    let ready = status_count(object, "readyReplicas");
    if updated < replicas {
        return Readiness::Progressing(format!(
            "waiting for rollout: {updated} of {replicas} updated replicas"
        ));
    }
    if current > updated {
        return Readiness::Progressing(format!(
            "waiting for rollout: {} pending termination",
            count(current - updated, "old replica")
        ));
    }
    if available < updated {
        return Readiness::Progressing(format!("{available}/{replicas} replicas available"));
    }
    if ready < replicas {
        return Readiness::Progressing(format!("{ready}/{replicas} replicas ready"));
    }
    Readiness::Ready
}

pub(super) fn stateful_set(object: &Value, _: &Facts) -> Readiness {
    let replicas = desired_replicas(object);
    let rolling = str_at(object, &["spec", "updateStrategy", "type"]) != Some("OnDelete");
    let partition = int_at(
        object,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )
    .unwrap_or(0);
    let expected = (replicas - partition).max(0);
    let updated = status_count(object, "updatedReplicas");
    if rolling && updated < expected {
        let note = if partition > 0 {
            format!(" (partition {partition})")
        } else {
            String::new()
        };
        return Readiness::Progressing(format!(
            "waiting for rollout: {updated} of {expected} updated replicas{note}"
        ));
    }
    let ready = status_count(object, "readyReplicas");
    if ready < replicas {
        return Readiness::Progressing(format!("{ready}/{replicas} replicas ready"));
    }
    // With a partition the pods below it stay on the old revision by design.
    if rolling && partition == 0 {
        let current = str_at(object, &["status", "currentRevision"]).unwrap_or_default();
        let update = str_at(object, &["status", "updateRevision"]).unwrap_or_default();
        if current != update {
            return Readiness::Progressing(format!(
                "waiting for rollout: revision {update} not yet current (still {current})"
            ));
        }
    }
    Readiness::Ready
}

pub(super) fn daemon_set(object: &Value, _: &Facts) -> Readiness {
    let desired = status_count(object, "desiredNumberScheduled");
    let on_delete = str_at(object, &["spec", "updateStrategy", "type"]) == Some("OnDelete");
    let updated = status_count(object, "updatedNumberScheduled");
    if !on_delete && updated < desired {
        return Readiness::Progressing(format!(
            "waiting for rollout: {updated} of {desired} updated pods scheduled"
        ));
    }
    let available = status_count(object, "numberAvailable");
    if available < desired {
        return Readiness::Progressing(format!("{available}/{desired} pods available"));
    }
    Readiness::Ready
}

pub(super) fn replica_set(object: &Value, _: &Facts) -> Readiness {
    let replicas = desired_replicas(object);
    let ready = status_count(object, "readyReplicas");
    if ready < replicas {
        return Readiness::Progressing(format!("{ready}/{replicas} replicas ready"));
    }
    Readiness::Ready
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    fn progressing(why: &str) -> Readiness {
        Readiness::Progressing(why.to_owned())
    }

    #[test]
    fn deployment_fully_rolled_out_is_ready() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 4}
spec: {replicas: 3}
status: {observedGeneration: 4, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn deployment_mid_rollout_with_old_replicas_still_up() {
        // All new pods exist and are ready, but an old one is still running:
        // the trap of checking `updated == replicas` alone.
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 4, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 4}
",
        );
        assert_eq!(
            got,
            progressing("waiting for rollout: 1 old replica pending termination")
        );
    }

    #[test]
    fn deployment_with_too_few_updated_replicas() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3}
",
        );
        assert_eq!(
            got,
            progressing("waiting for rollout: 1 of 3 updated replicas")
        );
    }

    #[test]
    fn deployment_waiting_for_availability() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2}
",
        );
        assert_eq!(got, progressing("2/3 replicas available"));
    }

    #[test]
    fn deployment_whose_observed_generation_lags() {
        // The status still describes the previous spec and looks complete.
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 5}
spec: {replicas: 1}
status: {observedGeneration: 4, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
",
        );
        assert_eq!(
            got,
            progressing("waiting for the controller to observe generation 5")
        );
    }

    #[test]
    fn deployment_without_status_is_not_observed_yet() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 0}
",
        );
        assert_eq!(
            got,
            progressing("waiting for the controller to observe generation 1")
        );
    }

    #[test]
    fn deployment_progress_deadline_exceeded_fails() {
        let got = check(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 2}
status:
  observedGeneration: 1
  replicas: 2
  updatedReplicas: 2
  conditions:
  - type: Progressing
    status: "False"
    reason: ProgressDeadlineExceeded
    message: ReplicaSet "web-5d9c" has timed out progressing.
"#,
        );
        assert_eq!(
            got,
            Readiness::Failed(
                r#"rollout stuck: ProgressDeadlineExceeded: ReplicaSet "web-5d9c" has timed out progressing."#
                    .into()
            )
        );
    }

    #[test]
    fn deployment_replicas_default_to_one() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {}
status: {observedGeneration: 1}
",
        );
        assert_eq!(
            got,
            progressing("waiting for rollout: 0 of 1 updated replicas")
        );
    }

    #[test]
    fn paused_deployment_mid_rollout_says_how_to_resume() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 2, paused: true}
status: {observedGeneration: 3, replicas: 2, updatedReplicas: 0, readyReplicas: 2, availableReplicas: 2}
",
        );
        assert_eq!(
            got,
            progressing(
                "rollout paused (waiting for rollout: 0 of 2 updated replicas): \
                 resume it with `kubectl rollout resume deployment/web`"
            )
        );
    }

    #[test]
    fn paused_deployment_already_rolled_out_is_ready() {
        let got = check(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 2, paused: true}
status: {observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn stateful_set_ready() {
        let got = check(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentRevision: db-7f, updateRevision: db-7f}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn stateful_set_with_partition_needs_only_the_pods_above_it() {
        let base = "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec:
  replicas: 3
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, currentRevision: db-6a, updateRevision: db-7f, ";
        assert_eq!(
            check(&format!("{base}updatedReplicas: 1}}")),
            Readiness::Ready
        );
        assert_eq!(
            check(&format!("{base}updatedReplicas: 0}}")),
            progressing("waiting for rollout: 0 of 1 updated replicas (partition 2)")
        );
    }

    #[test]
    fn stateful_set_revision_mismatch() {
        let got = check(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 2, replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentRevision: db-6a, updateRevision: db-7f}
",
        );
        assert_eq!(
            got,
            progressing("waiting for rollout: revision db-7f not yet current (still db-6a)")
        );
    }

    #[test]
    fn stateful_set_not_all_ready() {
        let got = check(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, readyReplicas: 2, updatedReplicas: 3, currentRevision: db-7f, updateRevision: db-7f}
",
        );
        assert_eq!(got, progressing("2/3 replicas ready"));
    }

    #[test]
    fn stateful_set_on_delete_skips_the_update_checks() {
        let got = check(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 2, updateStrategy: {type: OnDelete}}
status: {observedGeneration: 2, replicas: 2, readyReplicas: 2, updatedReplicas: 0, currentRevision: db-6a, updateRevision: db-7f}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn daemon_set_partially_updated() {
        let got = check(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 3}
status: {observedGeneration: 3, desiredNumberScheduled: 5, updatedNumberScheduled: 3, numberAvailable: 5}
",
        );
        assert_eq!(
            got,
            progressing("waiting for rollout: 3 of 5 updated pods scheduled")
        );
    }

    #[test]
    fn daemon_set_waiting_for_available_pods() {
        let got = check(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 5, updatedNumberScheduled: 5, numberAvailable: 4}
",
        );
        assert_eq!(got, progressing("4/5 pods available"));
    }

    #[test]
    fn daemon_set_with_nothing_to_schedule_is_ready() {
        let got = check(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: gpu-agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 0, updatedNumberScheduled: 0, numberAvailable: 0}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn daemon_set_on_delete_needs_only_available_pods() {
        let got = check(
            "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 2}
spec: {updateStrategy: {type: OnDelete}}
status: {observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 0, numberAvailable: 2}
",
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn replica_set_counts_ready_replicas() {
        let base = "
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d9c, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, ";
        assert_eq!(
            check(&format!("{base}readyReplicas: 1}}")),
            progressing("1/2 replicas ready")
        );
        assert_eq!(
            check(&format!("{base}readyReplicas: 2}}")),
            Readiness::Ready
        );
    }
}
