//! Pods: the readiness of a pod waited on directly, the trouble a pod is in
//! (what a user must see live while waiting on the workload that owns it) and
//! whether a workload's selector picks a pod.
//!
//! [`pod_trouble`] only reads the pod: the grace period after which a fatal
//! trouble turns its workload Failed, and attaching troubles to workloads with
//! [`selects`], are the caller's. Troubles are fatal when waiting won't fix
//! them: image pull errors, crash loops, container config errors and pods no
//! node can take. A container that died (OOMKilled, non-zero exit) is shown but
//! not fatal: it restarts, and becomes a crash loop if it keeps dying.

use serde_json::{Map, Value};

use super::{Facts, Readiness, at, condition, int_at, str_at};

/// One pod's trouble, if any: what a user must see live while waiting on the
/// workload that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTrouble {
    /// The pod's name.
    pub pod: String,
    /// The container in trouble; `None` for pod-level trouble (Unschedulable).
    pub container: Option<String>,
    /// The kubelet's or scheduler's reason: ImagePullBackOff, ErrImagePull,
    /// InvalidImageName, CrashLoopBackOff, CreateContainerConfigError,
    /// Unschedulable, OOMKilled, Error, Evicted...
    pub reason: String,
    /// A sentence starting with the reason: the image for pull errors, the
    /// scheduler's message for Unschedulable, the exit code for a container
    /// that terminated.
    pub message: String,
    /// Waiting won't fix it: the workload becomes Failed after a grace period.
    pub fatal: bool,
}

/// Waiting reasons that mean the image can't be pulled.
const PULL_ERRORS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Waiting reasons that mean the container can't be created as specified.
const CONFIG_ERRORS: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The pod's trouble, if any; a fatal trouble wins over one that is not, then
/// init containers over app containers.
pub fn pod_trouble(pod: &Value) -> Option<PodTrouble> {
    let name = str_at(pod, &["metadata", "name"]).unwrap_or_default();
    let phase = str_at(pod, &["status", "phase"]).unwrap_or_default();
    if phase == "Succeeded" {
        return None;
    }
    if let Some(scheduled) = condition(pod, "PodScheduled")
        && scheduled.is_false()
        && scheduled.reason == "Unschedulable"
    {
        return Some(PodTrouble {
            pod: name.to_owned(),
            container: None,
            reason: "Unschedulable".to_owned(),
            message: format!("Unschedulable: {}", scheduled.message),
            fatal: true,
        });
    }
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .filter_map(|field| at(pod, &["status", field])?.as_array())
        .flatten();
    let mut found: Option<PodTrouble> = None;
    for status in statuses {
        let Some(trouble) = container_trouble(name, status) else {
            continue;
        };
        if trouble.fatal {
            return Some(trouble);
        }
        found.get_or_insert(trouble);
    }
    if found.is_none() && phase == "Failed" {
        let reason = str_at(pod, &["status", "reason"]).unwrap_or("Failed");
        let message = str_at(pod, &["status", "message"]).unwrap_or("the pod failed");
        found = Some(PodTrouble {
            pod: name.to_owned(),
            container: None,
            reason: reason.to_owned(),
            message: format!("{reason}: {message}"),
            fatal: false,
        });
    }
    found
}

fn container_trouble(pod: &str, status: &Value) -> Option<PodTrouble> {
    let container = str_at(status, &["name"]).unwrap_or_default();
    let image = str_at(status, &["image"]).unwrap_or_default();
    let restarts = int_at(status, &["restartCount"]).unwrap_or(0);
    let trouble = |reason: &str, message: String, fatal: bool| PodTrouble {
        pod: pod.to_owned(),
        container: Some(container.to_owned()),
        reason: reason.to_owned(),
        message,
        fatal,
    };
    if let Some(waiting) = at(status, &["state", "waiting"]) {
        let reason = str_at(waiting, &["reason"]).unwrap_or_default();
        let detail = str_at(waiting, &["message"]).unwrap_or_default();
        if PULL_ERRORS.contains(&reason) {
            // The back-off message only repeats the image; the pull error says why.
            let why = if detail.is_empty() || detail.starts_with("Back-off pulling image") {
                String::new()
            } else {
                format!(" ({detail})")
            };
            return Some(trouble(reason, format!("{reason}: {image}{why}"), true));
        }
        if reason == "CrashLoopBackOff" {
            let last = at(status, &["lastState", "terminated"])
                .map(last_exit)
                .unwrap_or_default();
            let message = format!(
                "CrashLoopBackOff: container {container} restarted {}{last}",
                times(restarts)
            );
            return Some(trouble(reason, message, true));
        }
        if CONFIG_ERRORS.contains(&reason) {
            let message = format!("{reason}: container {container}: {detail}");
            return Some(trouble(reason, message, true));
        }
        return None;
    }
    let (terminated, current) = match at(status, &["state", "terminated"]) {
        Some(terminated) => (terminated, true),
        None if status.get("ready").and_then(Value::as_bool) == Some(false) && restarts > 0 => {
            (at(status, &["lastState", "terminated"])?, false)
        }
        None => return None,
    };
    let code = int_at(terminated, &["exitCode"]).unwrap_or(0);
    let reason = str_at(terminated, &["reason"]).unwrap_or("Error");
    if code == 0 && reason != "OOMKilled" {
        return None;
    }
    let what = if reason == "OOMKilled" {
        format!(
            "container {container} ran out of memory (exit code {code}); raise its memory limit"
        )
    } else {
        format!("container {container} exited with code {code}")
    };
    let after = if current {
        String::new()
    } else {
        format!(", restarted {}", times(restarts))
    };
    Some(trouble(reason, format!("{reason}: {what}{after}"), false))
}

/// ", last exit code 1 (Error)" for a terminated state.
fn last_exit(terminated: &Value) -> String {
    let code = int_at(terminated, &["exitCode"]).unwrap_or(0);
    match str_at(terminated, &["reason"]) {
        Some(reason) => format!(", last exit code {code} ({reason})"),
        None => format!(", last exit code {code}"),
    }
}

fn times(n: i64) -> String {
    if n == 1 {
        "1 time".to_owned()
    } else {
        format!("{n} times")
    }
}

/// Readiness of a pod waited on directly (not through a workload): Ready once
/// Succeeded or its `Ready` condition is True, Failed when its phase is Failed,
/// otherwise Progressing with its trouble (the caller applies the grace period)
/// or with what it is waiting for.
pub(super) fn pod(object: &Value, _: &Facts) -> Readiness {
    let phase = str_at(object, &["status", "phase"]).unwrap_or("Pending");
    if phase == "Succeeded" || condition(object, "Ready").is_some_and(|c| c.is_true()) {
        return Readiness::Ready;
    }
    let trouble = pod_trouble(object);
    if phase == "Failed" {
        return Readiness::Failed(match trouble {
            Some(trouble) => format!("pod failed: {}", trouble.message),
            None => "pod failed".to_owned(),
        });
    }
    if let Some(trouble) = trouble {
        return Readiness::Progressing(trouble.message);
    }
    let not_ready: Vec<&str> = at(object, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|status| status.get("ready").and_then(Value::as_bool) != Some(true))
        .filter_map(|status| str_at(status, &["name"]))
        .collect();
    if phase == "Running" && !not_ready.is_empty() {
        return Readiness::Progressing(format!(
            "waiting for containers to become ready: {}",
            not_ready.join(", ")
        ));
    }
    Readiness::Progressing(format!("pod is {phase}"))
}

/// Whether the workload's `spec.selector` picks the pod: same namespace, every
/// `matchLabels` entry present, every `matchExpressions` entry (In, NotIn,
/// Exists, DoesNotExist) satisfied. A missing or empty selector picks nothing:
/// the API rejects empty selectors on workloads, and matching every pod in the
/// namespace would pin other workloads' troubles on this one.
pub fn selects(workload: &Value, pod: &Value) -> bool {
    if str_at(workload, &["metadata", "namespace"]) != str_at(pod, &["metadata", "namespace"]) {
        return false;
    }
    let Some(selector) = at(workload, &["spec", "selector"]).and_then(Value::as_object) else {
        return false;
    };
    let empty = Map::new();
    let labels = at(pod, &["metadata", "labels"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if match_labels.is_empty() && expressions.is_empty() {
        return false;
    }
    match_labels
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
        && expressions
            .iter()
            .all(|expression| matches_expression(expression, labels))
}

fn matches_expression(expression: &Value, labels: &Map<String, Value>) -> bool {
    let key = str_at(expression, &["key"]).unwrap_or_default();
    let value = labels.get(key).and_then(Value::as_str);
    let values = super::strings_at(expression, &["values"]);
    match str_at(expression, &["operator"]).unwrap_or_default() {
        "In" => value.is_some_and(|value| values.contains(&value)),
        "NotIn" => value.is_none_or(|value| !values.contains(&value)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn trouble(yaml: &str) -> Option<PodTrouble> {
        pod_trouble(&fixture(yaml))
    }

    #[test]
    fn healthy_pod_has_no_trouble_and_is_ready() {
        let pod = fixture(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: web-5d9c-x2x7q, namespace: cnvrg}
status:
  phase: Running
  conditions:
  - {type: PodScheduled, status: "True"}
  - {type: Ready, status: "True"}
  containerStatuses:
  - {name: web, image: nginx:1.27, ready: true, restartCount: 0, state: {running: {startedAt: '2024-01-01T00:00:00Z'}}}
"#,
        );
        assert_eq!(pod_trouble(&pod), None);
        assert_eq!(readiness(&pod, &Facts::default()), Readiness::Ready);
    }

    #[test]
    fn image_pull_back_off_names_the_image() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0}
status:
  phase: Pending
  containerStatuses:
  - name: postgres
    image: postgres:16
    ready: false
    restartCount: 0
    state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "postgres:16"'}}
"#,
        );
        assert_eq!(
            got,
            Some(PodTrouble {
                pod: "db-0".into(),
                container: Some("postgres".into()),
                reason: "ImagePullBackOff".into(),
                message: "ImagePullBackOff: postgres:16".into(),
                fatal: true,
            })
        );
    }

    #[test]
    fn err_image_pull_keeps_the_registry_error() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0}
status:
  containerStatuses:
  - name: postgres
    image: postgres:99
    state: {waiting: {reason: ErrImagePull, message: 'docker.io/library/postgres:99: not found'}}
"#,
        )
        .unwrap();
        assert_eq!(
            got.message,
            "ErrImagePull: postgres:99 (docker.io/library/postgres:99: not found)"
        );
        assert!(got.fatal);
    }

    #[test]
    fn crash_loop_names_container_and_restart_count() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: api-7c6f-abcde}
status:
  phase: Running
  containerStatuses:
  - name: api
    image: cnvrg/api:5.1
    ready: false
    restartCount: 5
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 2m40s restarting failed container}}
    lastState: {terminated: {exitCode: 1, reason: Error}}
"#,
        )
        .unwrap();
        assert_eq!(got.container.as_deref(), Some("api"));
        assert_eq!(
            got.message,
            "CrashLoopBackOff: container api restarted 5 times, last exit code 1 (Error)"
        );
        assert!(got.fatal);
    }

    #[test]
    fn config_error_is_fatal_and_says_what_is_missing() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: api-7c6f-abcde}
status:
  containerStatuses:
  - name: api
    image: cnvrg/api:5.1
    state: {waiting: {reason: CreateContainerConfigError, message: 'secret "db-creds" not found'}}
"#,
        )
        .unwrap();
        assert_eq!(
            got.message,
            r#"CreateContainerConfigError: container api: secret "db-creds" not found"#
        );
        assert!(got.fatal);
    }

    #[test]
    fn unschedulable_shows_the_scheduler_message() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: trainer-0}
status:
  phase: Pending
  conditions:
  - type: PodScheduled
    status: "False"
    reason: Unschedulable
    message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
"#,
        );
        assert_eq!(
            got,
            Some(PodTrouble {
                pod: "trainer-0".into(),
                container: None,
                reason: "Unschedulable".into(),
                message: "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
                    .into(),
                fatal: true,
            })
        );
    }

    #[test]
    fn oom_killed_container_is_shown_but_not_fatal() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: worker-1}
status:
  phase: Running
  containerStatuses:
  - name: worker
    image: cnvrg/worker:5.1
    ready: false
    restartCount: 1
    state: {terminated: {exitCode: 137, reason: OOMKilled}}
"#,
        )
        .unwrap();
        assert_eq!(got.reason, "OOMKilled");
        assert_eq!(
            got.message,
            "OOMKilled: container worker ran out of memory (exit code 137); raise its memory limit"
        );
        assert!(!got.fatal);
    }

    #[test]
    fn restarted_after_an_error_while_not_ready() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: worker-1}
status:
  phase: Running
  containerStatuses:
  - name: worker
    image: cnvrg/worker:5.1
    ready: false
    restartCount: 2
    state: {running: {}}
    lastState: {terminated: {exitCode: 2, reason: Error}}
"#,
        )
        .unwrap();
        assert_eq!(
            got.message,
            "Error: container worker exited with code 2, restarted 2 times"
        );
    }

    #[test]
    fn fatal_trouble_wins_over_a_terminated_sidecar() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: api-0}
status:
  containerStatuses:
  - {name: sidecar, image: envoy:1, state: {terminated: {exitCode: 1, reason: Error}}}
  - {name: api, image: 'cnvrg/api:bad tag', state: {waiting: {reason: InvalidImageName}}}
"#,
        )
        .unwrap();
        assert_eq!(got.reason, "InvalidImageName");
        assert_eq!(got.message, "InvalidImageName: cnvrg/api:bad tag");
    }

    #[test]
    fn pod_waited_directly() {
        let check = |yaml: &str| readiness(&fixture(yaml), &Facts::default());
        assert_eq!(
            check("{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Succeeded}}"),
            Readiness::Ready
        );
        assert_eq!(
            check(
                "{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Failed, reason: Evicted, message: The node was low on resource memory.}}"
            ),
            Readiness::Failed("pod failed: Evicted: The node was low on resource memory.".into())
        );
        assert_eq!(
            check(
                "{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Running, containerStatuses: [{name: app, ready: false, state: {running: {}}}]}}"
            ),
            Readiness::Progressing("waiting for containers to become ready: app".into())
        );
        assert_eq!(
            check(
                "{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Pending, containerStatuses: [{name: app, image: 'postgres:16', state: {waiting: {reason: ImagePullBackOff}}}]}}"
            ),
            Readiness::Progressing("ImagePullBackOff: postgres:16".into())
        );
    }

    fn pod(labels: &str) -> Value {
        fixture(&format!(
            "{{apiVersion: v1, kind: Pod, metadata: {{name: p, namespace: cnvrg, labels: {labels}}}}}"
        ))
    }

    #[test]
    fn selector_with_match_labels() {
        let deployment = fixture(
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: cnvrg}, spec: {selector: {matchLabels: {app: web}}}}",
        );
        assert!(selects(
            &deployment,
            &pod("{app: web, pod-template-hash: 5d9c}")
        ));
        assert!(!selects(&deployment, &pod("{app: api}")));
        let elsewhere = fixture(
            "{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: other, labels: {app: web}}}",
        );
        assert!(!selects(&deployment, &elsewhere));
    }

    #[test]
    fn selector_with_match_expressions() {
        let workload = fixture(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: cnvrg}
spec:
  selector:
    matchLabels: {app: db}
    matchExpressions:
    - {key: tier, operator: In, values: [primary, replica]}
    - {key: canary, operator: NotIn, values: ['true']}
    - {key: tenant, operator: Exists}
    - {key: debug, operator: DoesNotExist}
",
        );
        assert!(selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme}")
        ));
        assert!(selects(
            &workload,
            &pod("{app: db, tier: replica, tenant: acme, canary: 'false'}")
        ));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: backup, tenant: acme}")
        ));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme, canary: 'true'}")
        ));
        assert!(!selects(&workload, &pod("{app: db, tier: primary}")));
        assert!(!selects(
            &workload,
            &pod("{app: db, tier: primary, tenant: acme, debug: '1'}")
        ));
    }

    #[test]
    fn empty_selector_selects_nothing() {
        let workload = fixture(
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: w, namespace: cnvrg}, spec: {selector: {}}}",
        );
        assert!(!selects(&workload, &pod("{app: web}")));
    }
}
