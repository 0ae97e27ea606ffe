//! A pod's trouble: what a user must see, live and in reports, about a pod
//! that is not ready, read from its present state only (conditions and
//! container statuses, never events). [`pod_trouble`] only reads the pod: the
//! grace period after which a fatal trouble turns its workload Failed, and
//! attaching troubles to workloads, are the caller's. Troubles are fatal when
//! waiting won't fix them: image pull errors, crash loops, container config
//! errors and pods no node can take. A container that died (OOMKilled,
//! non-zero exit) is shown but not fatal: it restarts, and becomes a crash
//! loop if it keeps dying. A container that runs but is not ready, or waits
//! for any other reason, is named with how long it has been so.

use serde_json::Value;

use super::super::{Timestamp, at, bool_at, condition, int_at, str_at};

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

/// Scheduler messages that mean the pod waits on something on its way (a
/// claim being bound), not on something that will never come.
const SCHEDULING_WAITS: &[&str] = &[
    "unbound immediate PersistentVolumeClaims",
    "waiting for ephemeral volume controller",
];

/// The pod's trouble, if any, as it is now; a fatal trouble wins over one
/// that is not, then init containers over app containers, and a container
/// that runs but is not ready comes last. `now` (when known) says for how
/// long a container has not been ready.
pub fn pod_trouble(pod: &Value, now: Option<Timestamp>) -> Option<PodTrouble> {
    let name = str_at(pod, &["metadata", "name"]).unwrap_or_default();
    let phase = str_at(pod, &["status", "phase"]).unwrap_or_default();
    if phase == "Succeeded" {
        return None;
    }
    if let Some(scheduled) = condition(pod, "PodScheduled")
        && scheduled.is_false()
        && scheduled.reason == "Unschedulable"
    {
        let waits = SCHEDULING_WAITS
            .iter()
            .any(|wait| scheduled.message.contains(wait));
        return Some(PodTrouble {
            pod: name.to_owned(),
            container: None,
            reason: "Unschedulable".to_owned(),
            message: format!("Unschedulable: {}", scheduled.message),
            fatal: !waits,
        });
    }
    let not_ready_for = condition(pod, "Ready")
        .filter(|ready| ready.is_false())
        .map(|ready| for_how_long(ready.since, now))
        .unwrap_or_default();
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .filter_map(|field| at(pod, &["status", field])?.as_array())
        .flatten();
    let mut found: Option<PodTrouble> = None;
    for status in statuses {
        let Some(trouble) = container_trouble(name, status, &not_ready_for) else {
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
    found.or_else(|| running_not_ready(name, pod, &not_ready_for))
}

/// The first app container that runs but is not ready (its readiness probe
/// failing, as a rule), with its restarts.
fn running_not_ready(pod_name: &str, pod: &Value, not_ready_for: &str) -> Option<PodTrouble> {
    if str_at(pod, &["status", "phase"]) != Some("Running") {
        return None;
    }
    let status = at(pod, &["status", "containerStatuses"])?
        .as_array()?
        .iter()
        .find(|s| at(s, &["state", "running"]).is_some() && !bool_at(s, &["ready"]))?;
    let container = str_at(status, &["name"]).unwrap_or_default();
    let restarts = int_at(status, &["restartCount"]).unwrap_or(0);
    let history = match restarts {
        0 => String::new(),
        n => {
            let last = at(status, &["lastState", "terminated"])
                .map(last_exit)
                .unwrap_or_default();
            format!(", restarted {}{last}", times(n))
        }
    };
    Some(PodTrouble {
        pod: pod_name.to_owned(),
        container: Some(container.to_owned()),
        reason: "NotReady".to_owned(),
        message: format!("container {container} running but not ready{not_ready_for}{history}"),
        fatal: false,
    })
}

/// " for 2m10s" since an RFC 3339 time, or nothing when either is unknown.
fn for_how_long(since: &str, now: Option<Timestamp>) -> String {
    let (Some(now), Ok(since)) = (now, since.parse::<Timestamp>()) else {
        return String::new();
    };
    let secs = (now.as_second() - since.as_second()).max(0);
    let text = match secs {
        s if s >= 3_600 => format!("{}h{}m", s / 3_600, s % 3_600 / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    };
    format!(" for {text}")
}

fn container_trouble(pod: &str, status: &Value, not_ready_for: &str) -> Option<PodTrouble> {
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
        if reason.is_empty() {
            return None;
        }
        // Any other wait (ContainerCreating, PodInitializing): named, with how
        // long; the events say why (a volume that does not mount, say).
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        let message = format!("{reason}: container {container} waiting{not_ready_for}{detail}");
        return Some(trouble(reason, message, false));
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

#[cfg(test)]
mod tests {
    use super::super::super::{Facts, Readiness, fixture, readiness};
    use super::*;

    fn trouble(yaml: &str) -> Option<PodTrouble> {
        pod_trouble(&fixture(yaml), None)
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
        assert_eq!(pod_trouble(&pod, None), None);
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
            Readiness::Progressing("container app running but not ready".into())
        );
        assert_eq!(
            check(
                "{apiVersion: v1, kind: Pod, metadata: {name: p}, status: {phase: Pending, containerStatuses: [{name: app, image: 'postgres:16', state: {waiting: {reason: ImagePullBackOff}}}]}}"
            ),
            Readiness::Progressing("ImagePullBackOff: postgres:16".into())
        );
    }

    #[test]
    fn running_but_not_ready_names_the_container_how_long_and_its_restarts() {
        let pod = fixture(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0}
status:
  phase: Running
  conditions:
  - {type: Ready, status: "False", lastTransitionTime: "2026-01-01T00:00:00Z"}
  containerStatuses:
  - {name: postgres, image: postgres:16, ready: false, restartCount: 2, state: {running: {startedAt: "2026-01-01T00:00:10Z"}},
     lastState: {terminated: {exitCode: 0, reason: Completed}}}
"#,
        );
        let now: Timestamp = "2026-01-01T00:02:10Z".parse().unwrap();
        let got = pod_trouble(&pod, Some(now)).unwrap();
        assert_eq!(got.reason, "NotReady");
        assert_eq!(got.container.as_deref(), Some("postgres"));
        assert_eq!(
            got.message,
            "container postgres running but not ready for 2m10s, restarted 2 times, last exit code 0 (Completed)"
        );
        assert!(!got.fatal);
    }

    #[test]
    fn unschedulable_while_a_claim_is_unbound_is_not_fatal() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable,
     message: "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."}
"#,
        )
        .unwrap();
        assert_eq!(got.reason, "Unschedulable");
        assert!(!got.fatal, "the claim is on its way: {got:?}");
    }

    #[test]
    fn any_other_wait_is_named_with_its_reason() {
        let got = trouble(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: web-1}
status:
  phase: Pending
  containerStatuses:
  - {name: web, image: nginx, ready: false, state: {waiting: {reason: ContainerCreating}}}
"#,
        )
        .unwrap();
        assert_eq!(got.message, "ContainerCreating: container web waiting");
        assert!(!got.fatal);
    }
}
