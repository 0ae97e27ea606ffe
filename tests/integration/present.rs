//! Blockers from the present: the report at a timeout names the pod, the
//! container and what it is going through now, never events that describe a
//! state the pod has left or an earlier pod of the same name; a Deployment
//! stuck mid-rollout names its new ReplicaSet's pod, a StatefulSet the
//! ordinal it is stuck on.

use serde_json::json;
use std::time::Duration;
use testserver::{Behavior, PodTrouble, Target};

use crate::common::cluster::{Env, SMALL, stderr_of};

/// The report's lines about `object`: its line and the indented ones below.
fn blocker(report: &str, object: &str) -> String {
    let mut lines = report
        .lines()
        .skip_while(|l| !l.starts_with(&format!("  {object}")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no blocker for {object}:\n{report}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("    ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// SMALL with its claims on `gp3`, a class that binds at once (Immediate)
/// through an external provisioner, as EBS does; the test makes the class.
fn on_immediate_class() -> Env {
    let env = Env::new(&SMALL.replace("  profile: dev\n", "  profile: dev\n  storageClass: gp3\n"));
    env.server.create(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "gp3"},
        "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "Immediate",
    }));
    env
}

/// `apply` that must time out: its stderr (the report).
fn timed_out(env: &Env) -> String {
    let out = env
        .cnvrgctl(&["apply", "--yes", "--object-timeout", "6s"])
        .assert()
        .failure()
        .get_output()
        .clone();
    stderr_of(&out)
}

#[test]
fn a_pod_scheduled_late_and_never_ready_is_reported_as_it_is_now() {
    let env = on_immediate_class();
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    // The claim binds after 2.5 s: until then the scheduler says the pod has
    // an unbound claim. Then the pod runs, and its readiness probe fails.
    env.server.behave(
        Target::kind("PersistentVolumeClaim").in_namespace("research"),
        Behavior::Ready {
            after: Duration::from_millis(2500),
        },
    );
    env.server.behave(
        Target::kind("StatefulSet").named("research-postgres"),
        Behavior::NeverReady(PodTrouble::NotReady),
    );
    let report = timed_out(&env);
    let events: Vec<String> = env
        .server
        .list("v1", "Event", Some("research"))
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        events.iter().any(|r| r == "FailedScheduling"),
        "the scheduler's event is on the cluster: {events:?}"
    );
    let block = blocker(&report, "StatefulSet/research/research-postgres");
    assert!(
        block.contains(
            "pod research-postgres-0 (ordinal 0): container postgres running but not ready for"
        ),
        "{block}"
    );
    assert!(
        block.contains("Unhealthy: Readiness probe failed"),
        "{block}"
    );
    let report = &report[report.find("error: timed out").expect("a report")..];
    assert!(
        !report.contains("FailedScheduling") && !report.contains("unbound immediate"),
        "history is not the present:\n{report}"
    );

    // An event about an earlier pod of the same name (another uid), even a
    // recent one, says nothing about this pod.
    let later = "2099-01-01T00:00:00Z";
    env.server.create(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "research-postgres-0.earlier", "namespace": "research"},
        "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": "research",
                           "name": "research-postgres-0", "uid": "an-earlier-pod"},
        "reason": "BackOff", "type": "Warning", "count": 7,
        "message": "Back-off restarting failed container postgres",
        "firstTimestamp": later, "lastTimestamp": later,
        "source": {"component": "kubelet"},
    }));
    let report = timed_out(&env);
    assert!(report.contains("running but not ready"), "{report}");
    assert!(
        !report.contains("Back-off restarting"),
        "an earlier pod's event is not this pod's:\n{report}"
    );
}

#[test]
fn a_rollout_stuck_on_its_new_pod_names_that_pod() {
    let env = Env::new(SMALL);
    env.install();
    const AGENT: &str = "research-agent-default";
    let old: Vec<String> = env
        .server
        .list("apps/v1", "ReplicaSet", Some("research"))
        .iter()
        .filter_map(|rs| rs["metadata"]["name"].as_str())
        .filter(|name| name.starts_with(AGENT))
        .map(str::to_owned)
        .collect();
    assert_eq!(old.len(), 1, "{old:?}");
    // The old ReplicaSet's pod stays ready; the new one's never becomes so.
    env.server.behave(
        Target::kind("ReplicaSet").named(&format!("{AGENT}-*")),
        Behavior::NeverReady(PodTrouble::NotReady),
    );
    env.server.behave(
        Target::kind("ReplicaSet").named(&old[0]),
        Behavior::Ready {
            after: Duration::ZERO,
        },
    );
    env.write_spec(&SMALL.replace(
        "- {name: default}",
        "- {name: default, resources: {requests: {cpu: 50m, memory: 64Mi}}}",
    ));
    let report = timed_out(&env);
    let block = blocker(&report, &format!("Deployment/research/{AGENT}"));
    assert!(
        block.contains("1 old replica pending termination"),
        "{block}"
    );
    let new_pod = env
        .server
        .list("v1", "Pod", Some("research"))
        .into_iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .find(|name| name.starts_with(AGENT) && !name.starts_with(&old[0]))
        .expect("the new ReplicaSet's pod");
    assert!(
        block.contains(&format!("pod {new_pod} (new ReplicaSet ")),
        "names the new pod:\n{block}"
    );
    assert!(block.contains("running but not ready"), "{block}");
    assert!(
        !block.contains(&format!("pod {}", old[0])),
        "not the old pod:\n{block}"
    );

    // `status` says the same, in the component's detail.
    let out = env
        .cnvrgctl(&["status"])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("agent-default"))
        .unwrap_or_else(|| panic!("no row for the agent pool:\n{stdout}"));
    assert!(
        line.contains("running but not ready") && line.contains(&format!("(pod {new_pod})")),
        "{line}"
    );
}

#[test]
fn a_claim_its_provisioner_never_serves_is_named_with_the_provisioner() {
    let env = on_immediate_class();
    env.cnvrgctl(&["install", "infra", "--yes"])
        .assert()
        .success();
    env.server.behave(
        Target::kind("PersistentVolumeClaim").in_namespace("research"),
        Behavior::NeverReady(PodTrouble::Unschedulable),
    );
    let report = timed_out(&env);
    let block = blocker(&report, "StatefulSet/research/research-postgres");
    assert!(
        block.contains(
            "pod research-postgres-0 (ordinal 0): Unschedulable: 0/2 nodes are available: \
             pod has unbound immediate PersistentVolumeClaims"
        ),
        "{block}"
    );
    assert!(
        block.contains(
            "data-research-postgres-0 ExternalProvisioning: Waiting for a volume to be created \
             either by the external provisioner \"ebs.csi.aws.com\""
        ),
        "{block}"
    );
}
