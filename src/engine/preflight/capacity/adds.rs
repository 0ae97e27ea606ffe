//! What the run adds to the nodes: every rendered workload that is new (not on
//! the cluster) or changed (its live `cnvrgctl.io/applied-hash` differs from
//! the one apply will set), with its pod's requests, how its pods spread
//! (replicas, or one per eligible node for a DaemonSet), the extra pods of a
//! Deployment's rolling update (`maxSurge`), the requests of its live pods
//! (already in the nodes' usage, and freed as the new pods replace them), and
//! the spec field that sizes it. A `Prometheus` custom resource counts as
//! the StatefulSet prometheus-operator makes of it. Pure: the live objects
//! and pods come in.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::amounts::{Amounts, pod_requests};
use crate::pipeline::manifest::keys::APPLIED_HASH;
use crate::pipeline::manifest::{Manifest, Scope};
use crate::pipeline::validate::deployment_surge;

/// Where a workload kind keeps its pod template and how many pods it runs.
struct Kind {
    kind: &'static str,
    template: Template,
    /// Pointer to the number of pods at once, and its default; `None`: one
    /// pod per eligible node.
    replicas: Option<(&'static str, u64)>,
}

/// A kind's pod spec: at a pointer, or made by an operator from the object.
enum Template {
    At(&'static str),
    /// prometheus-operator's StatefulSet of a `Prometheus`.
    Prometheus,
}

/// The config reloader's requests and limits, as the operator Deployment's
/// flags set them (`templates/infra/prometheus-operator.yaml.j2`).
const RELOADER: (&str, &str) = ("10m", "50Mi");

const KINDS: &[Kind] = &[
    Kind {
        kind: "Deployment",
        template: Template::At("/spec/template/spec"),
        replicas: Some(("/spec/replicas", 1)),
    },
    Kind {
        kind: "StatefulSet",
        template: Template::At("/spec/template/spec"),
        replicas: Some(("/spec/replicas", 1)),
    },
    Kind {
        kind: "ReplicaSet",
        template: Template::At("/spec/template/spec"),
        replicas: Some(("/spec/replicas", 1)),
    },
    // A Job runs `parallelism` pods at once (at most `completions`).
    Kind {
        kind: "Job",
        template: Template::At("/spec/template/spec"),
        replicas: Some(("/spec/parallelism", 1)),
    },
    Kind {
        kind: "Pod",
        template: Template::At("/spec"),
        replicas: Some(("/no-replicas", 1)),
    },
    // Its StatefulSet runs `replicas` pods (per shard; cnvrgctl renders one).
    Kind {
        kind: "Prometheus",
        template: Template::Prometheus,
        replicas: Some(("/spec/replicas", 1)),
    },
    Kind {
        kind: "DaemonSet",
        template: Template::At("/spec/template/spec"),
        replicas: None,
    },
];

/// The spec field that sizes the pods of a template (tenant fields under
/// `spec.tenants[NAME].`; `{component}` is the object's component label, and
/// `{pool}` the agent pool it names).
const SIZED_BY: &[(&str, &str)] = &[
    ("cnvrg/webapp.yaml.j2", "cnvrg.webapp.resources"),
    (
        "cnvrg/sidekiq.yaml.j2",
        "cnvrg.sidekiq.{component}.resources",
    ),
    ("cnvrg/postgres.yaml.j2", "cnvrg.postgres.resources"),
    ("cnvrg/redis.yaml.j2", "cnvrg.redis.resources"),
    ("cnvrg/minio.yaml.j2", "cnvrg.minio.resources"),
    (
        "cnvrg/elasticsearch.yaml.j2",
        "cnvrg.elasticsearch.resources",
    ),
    ("cnvrg/kibana.yaml.j2", "cnvrg.kibana.resources"),
    (
        "cnvrg/grafana.yaml.j2",
        "cnvrg.monitoring.grafana.resources",
    ),
    ("workspace/postgres.yaml.j2", "workspace.postgres.resources"),
    (
        "workspace/postgres-import.yaml.j2",
        "workspace.postgres.resources",
    ),
    (
        "workspace/orion-server.yaml.j2",
        "workspace.orion.resources",
    ),
    (
        "workspace/agent-pools.yaml.j2",
        "workspace.agentPools[{pool}].resources",
    ),
    (
        "cnvrg/prometheus.yaml.j2",
        "cnvrg.monitoring.prometheus.resources",
    ),
    (
        "infra/prometheus.yaml.j2",
        "the profile's prometheus.resources (a profiles/NAME.yaml beside the spec overrides it)",
    ),
    (
        "infra/hostpath-provisioner.yaml.j2",
        "spec.infra.storage.hostpath.resources",
    ),
    (
        "infra/nfs-provisioner.yaml.j2",
        "spec.infra.storage.nfs.resources",
    ),
];

/// Whether objects of `kind` make pods.
pub(super) fn makes_pods(kind: &str) -> bool {
    KINDS.iter().any(|k| k.kind == kind)
}

/// How a workload's pods spread over the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Spread {
    /// `replicas` pods wherever they fit, and during a rolling update of live
    /// pods `surge` more at once.
    Replicas { replicas: u64, surge: u64 },
    /// One pod on every node it may land on.
    Daemon,
}

/// One workload the run creates or changes.
#[derive(Debug, Clone)]
pub(super) struct Workload {
    /// `Kind/namespace/name`.
    pub id: String,
    /// The rendered pod spec (for where it may land).
    pub pod_spec: Value,
    /// One pod's requests.
    pub pod: Amounts,
    pub spread: Spread,
    /// The requests of its live pods, per node: already counted in the
    /// nodes' usage, and freed as the new pods replace them.
    pub old: BTreeMap<String, Amounts>,
    /// The spec field that sizes it, when known.
    pub sized_by: Option<String>,
}

/// `m` as a workload the run adds, or `None` when it makes no pods or its
/// live copy (`live`) already is what apply would make. `hash` is the
/// applied-hash apply will set; `pods` the live pods of its namespace.
pub(super) fn workload(
    m: &Manifest,
    hash: &str,
    live: Option<&Value>,
    pods: &[&Value],
) -> Option<Workload> {
    let kind = KINDS.iter().find(|k| k.kind == m.kind())?;
    let pod_spec = match kind.template {
        Template::At(pointer) => Cow::Borrowed(m.object.pointer(pointer)?),
        Template::Prometheus => Cow::Owned(prometheus_pod(&m.object)),
    };
    if as_applied(live, hash) {
        return None;
    }
    let spread = match kind.replicas {
        None => Spread::Daemon,
        Some((pointer, default)) => {
            let at = |p: &str| m.object.pointer(p).and_then(Value::as_u64);
            let mut replicas = at(pointer).unwrap_or(default);
            if let Some(completions) = at("/spec/completions").filter(|_| m.kind() == "Job") {
                replicas = replicas.min(completions);
            }
            // Only a rollout over live pods surges; a new Deployment just starts.
            let surge = match (m.kind(), live) {
                ("Deployment", Some(_)) => deployment_surge(&m.object, replicas),
                _ => 0,
            };
            Spread::Replicas { replicas, surge }
        }
    };
    let old = match live {
        Some(live) => old_pods(live, pods),
        None => BTreeMap::new(),
    };
    Some(Workload {
        id: m.id(),
        pod: pod_requests(&pod_spec),
        pod_spec: pod_spec.into_owned(),
        spread,
        old,
        sized_by: sized_by(m),
    })
}

/// Whether the live copy of a workload is as apply would make it (its
/// applied-hash is `hash`): it adds no pods.
pub(super) fn as_applied(live: Option<&Value>, hash: &str) -> bool {
    live.is_some_and(|l| l["metadata"]["annotations"][APPLIED_HASH] == hash)
}

/// The pod spec of the StatefulSet prometheus-operator makes of a
/// `Prometheus`: where it may land (the resource's node selector,
/// affinity and tolerations), the `prometheus` container with the
/// resource's requests, and the config reloader beside it and before it.
fn prometheus_pod(object: &Value) -> Value {
    let spec = &object["spec"];
    let (cpu, memory) = RELOADER;
    let reloader = json!({"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}});
    let mut pod = json!({
        "initContainers": [{"name": "init-config-reloader", "resources": reloader}],
        "containers": [
            {"name": "prometheus", "resources": spec["resources"]},
            {"name": "config-reloader", "resources": reloader},
        ],
    });
    for field in [
        "nodeSelector",
        "affinity",
        "tolerations",
        "priorityClassName",
    ] {
        if !spec[field].is_null() {
            pod[field] = spec[field].clone();
        }
    }
    pod
}

/// The labels that pick a live workload's pods: its selector, or for a
/// `Prometheus` the `prometheus: NAME` label the operator puts on its pods.
fn selector(live: &Value) -> Option<Map<String, Value>> {
    if live["kind"] == "Prometheus" {
        let name = live["metadata"]["name"].clone();
        return Some(Map::from_iter([("prometheus".to_owned(), name)]));
    }
    live["spec"]["selector"]["matchLabels"].as_object().cloned()
}

/// The requests of the live pods a live workload selects, per node.
fn old_pods(live: &Value, pods: &[&Value]) -> BTreeMap<String, Amounts> {
    let mut out: BTreeMap<String, Amounts> = BTreeMap::new();
    let Some(selector) = selector(live) else {
        return out;
    };
    for pod in pods {
        let labels = &pod["metadata"]["labels"];
        if selector.is_empty() || selector.iter().any(|(k, v)| &labels[k] != v) {
            continue;
        }
        if let Some(node) = holding(pod) {
            out.entry(node.to_owned())
                .or_default()
                .add(&pod_requests(&pod["spec"]));
        }
    }
    out
}

/// What the check reads of a live pod, kept as the cluster-wide list is
/// parsed (a cluster's pods are most of what preflight reads): its name,
/// namespace and labels (which workload selects it), the node it is bound
/// to, its containers' and init containers' resources (and an init
/// container's restart policy: a sidecar holds its requests), its overhead
/// and its phase. Everything else (env, volumes, probes, statuses) goes.
pub(in crate::engine::preflight) fn pod_view(pod: Value) -> Value {
    let Value::Object(mut pod) = pod else {
        return pod;
    };
    let mut spec = pod.remove("spec").unwrap_or_default();
    let containers = |key: &str, spec: &mut Value| -> Value {
        let kept = spec
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default()
            .into_iter()
            .map(|c| pick(c, &["name", "resources", "restartPolicy"]))
            .collect();
        Value::Array(kept)
    };
    let mut kept = Map::new();
    for key in ["containers", "initContainers"] {
        kept.insert(key.into(), containers(key, &mut spec));
    }
    for key in ["nodeName", "overhead"] {
        if let Some(v) = spec.get_mut(key).map(Value::take) {
            kept.insert(key.into(), v);
        }
    }
    json!({
        "kind": pod.remove("kind").unwrap_or_default(),
        "metadata": pick(pod.remove("metadata").unwrap_or_default(), &["name", "namespace", "labels"]),
        "spec": kept,
        "status": pick(pod.remove("status").unwrap_or_default(), &["phase"]),
    })
}

/// What the check reads of a live workload (a Deployment, StatefulSet, Job
/// or Prometheus), kept as its list is parsed: its kind, name and
/// namespace, its applied-hash (is it as apply would make it) and its
/// selector (which pods are its own). Its pod template, the largest part,
/// goes.
pub(in crate::engine::preflight) fn workload_view(object: Value) -> Value {
    let Value::Object(mut object) = object else {
        return object;
    };
    let mut meta = pick(
        object.remove("metadata").unwrap_or_default(),
        &["name", "namespace", "annotations"],
    );
    if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
        annotations.retain(|key, _| key == APPLIED_HASH);
    }
    json!({
        "kind": object.remove("kind").unwrap_or_default(),
        "metadata": meta,
        "spec": pick(object.remove("spec").unwrap_or_default(), &["selector"]),
    })
}

/// `object` with only `keys`.
fn pick(object: Value, keys: &[&str]) -> Value {
    match object {
        Value::Object(mut map) => {
            map.retain(|k, _| keys.contains(&k.as_str()));
            Value::Object(map)
        }
        other => other,
    }
}

/// The node whose resources a pod holds: the one it is bound to, unless it
/// has finished (`Succeeded`, `Failed`).
pub(super) fn holding(pod: &Value) -> Option<&str> {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        return None;
    }
    pod["spec"]["nodeName"].as_str()
}

/// The spec field sizing `m`'s pods, from [`SIZED_BY`].
fn sized_by(m: &Manifest) -> Option<String> {
    let (_, field) = SIZED_BY.iter().find(|(t, _)| *t == m.origin.template)?;
    let component = m.origin.component.as_str();
    let field = field.replace("{component}", component).replace(
        "{pool}",
        component.strip_prefix("agent-").unwrap_or(component),
    );
    Some(match &m.origin.scope {
        Scope::Tenant(name) => format!("spec.tenants[{name}].{field}"),
        Scope::Infra => field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::manifest::Origin;
    use serde_json::json;

    fn manifest(object: Value, template: &str, component: &str) -> Manifest {
        Manifest {
            object,
            origin: Origin {
                scope: Scope::Tenant("team-a".into()),
                component: component.into(),
                template: template.into(),
            },
        }
    }

    fn deployment(replicas: u64, hash: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "ns", "annotations": {APPLIED_HASH: hash}},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}}})
    }

    #[test]
    fn a_workload_as_kept_is_judged_as_the_whole_one() {
        let m = manifest(deployment(4, ""), "cnvrg/webapp.yaml.j2", "webapp");
        let mut live = deployment(2, "old");
        live["metadata"]["annotations"]["other"] = json!("x");
        let pods = [
            json!({"metadata": {"namespace": "ns", "labels": {"app": "web"}},
                           "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
                           "status": {"phase": "Running"}}),
        ];
        let pods: Vec<&Value> = pods.iter().collect();
        let view = workload_view(live.clone());
        let whole = workload(&m, "new", Some(&live), &pods).unwrap();
        let kept = workload(&m, "new", Some(&view), &pods).unwrap();
        assert_eq!((whole.old, whole.spread), (kept.old, kept.spread));
        assert!(as_applied(Some(&view), "old"));
        assert!(view["spec"].get("template").is_none(), "{view}");
        assert!(view["metadata"]["annotations"].get("other").is_none());
    }

    #[test]
    fn a_pod_as_kept_holds_what_the_check_reads_and_no_more() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {"app": "web"},
                         "uid": "u", "managedFields": [{"manager": "kubelet", "fieldsV1": {}}]},
            "spec": {"nodeName": "n1", "overhead": {"cpu": "100m"},
                     "volumes": [{"name": "data", "emptyDir": {}}],
                     "containers": [{"name": "web", "image": "web:1", "env": [{"name": "A", "value": "1"}],
                                     "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
                     "initContainers": [{"name": "proxy", "restartPolicy": "Always", "image": "p",
                                         "resources": {"requests": {"cpu": "500m"}}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let view = pod_view(pod.clone());
        assert_eq!(pod_requests(&view["spec"]), pod_requests(&pod["spec"]));
        assert_eq!(holding(&view), Some("n1"));
        assert_eq!(view["metadata"]["labels"], pod["metadata"]["labels"]);
        assert_eq!(view["metadata"]["namespace"], "ns");
        let text = view.to_string();
        for gone in [
            "env",
            "image",
            "volumes",
            "conditions",
            "managedFields",
            "uid",
        ] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
    }

    #[test]
    fn unchanged_workloads_add_nothing_and_changed_ones_surge() {
        let m = manifest(deployment(4, ""), "cnvrg/webapp.yaml.j2", "webapp");
        assert!(workload(&m, "abc", Some(&deployment(4, "abc")), &[]).is_none());
        let new = workload(&m, "abc", None, &[]).unwrap();
        assert_eq!(
            new.spread,
            Spread::Replicas {
                replicas: 4,
                surge: 0
            }
        );
        assert_eq!(
            new.sized_by.as_deref(),
            Some("spec.tenants[team-a].cnvrg.webapp.resources")
        );
        let pod = json!({"metadata": {"labels": {"app": "web"}},
                         "spec": {"nodeName": "node-1", "containers": [{"resources": {"requests": {"cpu": "500m"}}}]}});
        let other = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeName": "node-1"}});
        let done = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"nodeName": "node-2"},
                          "status": {"phase": "Succeeded"}});
        let changed = workload(
            &m,
            "abc",
            Some(&deployment(4, "old")),
            &[&pod, &other, &done],
        )
        .unwrap();
        assert!(
            !changed.old.contains_key("node-2"),
            "a finished pod holds nothing"
        );
        assert_eq!(
            changed.spread,
            Spread::Replicas {
                replicas: 4,
                surge: 1
            }
        );
        assert_eq!(changed.old["node-1"].get("cpu"), 500);
        assert_eq!(changed.old["node-1"].get("pods"), 1);
    }

    #[test]
    fn jobs_run_parallelism_pods_and_daemonsets_spread_per_node() {
        let job = json!({"kind": "Job", "metadata": {"name": "migrate", "namespace": "ns"},
                         "spec": {"parallelism": 3, "completions": 2, "template": {"spec": {"containers": []}}}});
        let w = workload(
            &manifest(job, "cnvrg/migrate.yaml.j2", "migrate"),
            "h",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(
            w.spread,
            Spread::Replicas {
                replicas: 2,
                surge: 0
            }
        );
        assert_eq!(w.sized_by, None);
        let ds = json!({"kind": "DaemonSet", "metadata": {"name": "fb", "namespace": "ns"},
                        "spec": {"template": {"spec": {"containers": []}}}});
        let w = workload(
            &manifest(ds, "infra/fluent-bit.yaml.j2", "fluent-bit"),
            "h",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(w.spread, Spread::Daemon);
        let pool = json!({"kind": "Deployment", "metadata": {"name": "a", "namespace": "ns"},
                          "spec": {"template": {"spec": {"containers": []}}}});
        let w = workload(
            &manifest(pool, "workspace/agent-pools.yaml.j2", "agent-gpu"),
            "h",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(
            w.sized_by.as_deref(),
            Some("spec.tenants[team-a].workspace.agentPools[gpu].resources")
        );
    }

    #[test]
    fn a_prometheus_counts_as_the_statefulset_its_operator_makes() {
        let prometheus = |hash: &str| {
            json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                   "metadata": {"name": "prometheus", "namespace": "ns", "annotations": {APPLIED_HASH: hash}},
                   "spec": {"replicas": 2, "nodeSelector": {"pool": "infra"},
                            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}})
        };
        let m = manifest(prometheus(""), "cnvrg/prometheus.yaml.j2", "prometheus");
        let w = workload(&m, "h", None, &[]).unwrap();
        assert_eq!(
            w.spread,
            Spread::Replicas {
                replicas: 2,
                surge: 0
            }
        );
        // The prometheus container and the config reloader beside it.
        assert_eq!(w.pod.get("cpu"), 1010);
        assert_eq!(w.pod.get("memory"), (2048 + 50) << 20);
        assert_eq!(w.pod_spec["nodeSelector"], json!({"pool": "infra"}));
        assert_eq!(
            w.sized_by.as_deref(),
            Some("spec.tenants[team-a].cnvrg.monitoring.prometheus.resources")
        );
        // Its live pods are the ones labelled with its name.
        let pod = json!({"metadata": {"labels": {"prometheus": "prometheus"}},
                         "spec": {"nodeName": "node-1", "containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        let changed = workload(&m, "h", Some(&prometheus("old")), &[&pod]).unwrap();
        assert_eq!(changed.old["node-1"].get("cpu"), 1000);
    }
}
