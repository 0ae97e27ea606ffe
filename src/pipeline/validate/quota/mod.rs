//! Does what cnvrgctl puts in a namespace fit that namespace's ResourceQuota?
//! For every rendered ResourceQuota, the rendered objects of its namespace are
//! counted as the API server and the scheduler count them, at their largest:
//! every replica (an HPA's maximum where one scales the workload), the extra
//! pods of a Deployment's rolling update, every Job's pods running beside the
//! rest (a migration runs while the Deployments it precedes roll), init
//! containers as the scheduler sizes a pod, the LimitRange's defaults for
//! containers that set nothing, and every claim. A quota that cannot hold all
//! of it would fail at apply time, half-way; here it fails before anything is
//! written, naming the tenant, the resource, the need (with what makes it up)
//! and the quota. Pure; the counting rules are the tables below.

mod pod;

use std::collections::HashMap;

use serde_json::Value;

use pod::{Sizes, container_sizes, limit_range_defaults, missing, pod_sizes, scheduled};

use super::Problem;
use crate::pipeline::manifest::{Manifest, keys};
use crate::pipeline::spec::Quantity;

/// The quota resources checked: the `spec.hard` key (and its older alias), the
/// unit it is counted in, and the field of a profile's `tenantQuotas.<type>`
/// that sets it.
const RESOURCES: &[Resource] = &[
    Resource::new("requests.cpu", Some("cpu"), Unit::Cpu, "requests.cpu"),
    Resource::new(
        "requests.memory",
        Some("memory"),
        Unit::Bytes,
        "requests.memory",
    ),
    Resource::new("limits.cpu", None, Unit::Cpu, "limits.cpu"),
    Resource::new("limits.memory", None, Unit::Bytes, "limits.memory"),
    Resource::new("requests.storage", None, Unit::Bytes, "storage"),
    Resource::new(
        "persistentvolumeclaims",
        None,
        Unit::Count,
        "persistentVolumeClaims",
    ),
    Resource::new("pods", None, Unit::Count, "pods"),
];

/// Indices into [`RESOURCES`] (and into [`Amounts`]).
const REQUESTS_CPU: usize = 0;
const REQUESTS_MEMORY: usize = 1;
const LIMITS_CPU: usize = 2;
const LIMITS_MEMORY: usize = 3;
const STORAGE: usize = 4;
const CLAIMS: usize = 5;
const PODS: usize = 6;

/// The containers prometheus-operator adds to every pod of a `Prometheus`: the
/// config reloader as a sidecar (`config-reloader`) and as an init container
/// (`init-config-reloader`), each with the requests and limits the operator's
/// `--config-reloader-*` flags give them (infra/prometheus-operator.yaml.j2
/// spells them out): 10m CPU and 50Mi memory, requests and limits alike.
const RELOADER: Sizes = Sizes {
    requests: [Some(10), Some(50 * MI)],
    limits: [Some(10), Some(50 * MI)],
};

/// How many pods a kind keeps at once, beyond its replica count.
#[derive(Clone, Copy)]
enum Surge {
    /// A Deployment's rolling update: `maxSurge` more (default 25%, rounded
    /// up); none with the Recreate strategy.
    RollingUpdate,
    /// StatefulSets replace pods one by one, deleting first; a ReplicaSet or
    /// a Job has no rollout of its own.
    None,
}

/// Where a kind keeps its pod template and replica count: the table the
/// counting follows. Custom resources that make pods are in
/// [`prometheus_pods`].
struct Workload {
    kind: &'static str,
    template: &'static str,
    /// Pointer to the replica count, and its default.
    replicas: (&'static str, u64),
    surge: Surge,
    /// Whether an HPA may scale it (then its maximum counts).
    scalable: bool,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        kind: "Deployment",
        template: "/spec/template/spec",
        replicas: ("/spec/replicas", 1),
        surge: Surge::RollingUpdate,
        scalable: true,
    },
    Workload {
        kind: "StatefulSet",
        template: "/spec/template/spec",
        replicas: ("/spec/replicas", 1),
        surge: Surge::None,
        scalable: true,
    },
    Workload {
        kind: "ReplicaSet",
        template: "/spec/template/spec",
        replicas: ("/spec/replicas", 1),
        surge: Surge::None,
        scalable: true,
    },
    // A Job runs `parallelism` pods at once (default 1).
    Workload {
        kind: "Job",
        template: "/spec/template/spec",
        replicas: ("/spec/parallelism", 1),
        surge: Surge::None,
        scalable: false,
    },
    Workload {
        kind: "CronJob",
        template: "/spec/jobTemplate/spec/template/spec",
        replicas: ("/spec/jobTemplate/spec/parallelism", 1),
        surge: Surge::None,
        scalable: false,
    },
    Workload {
        kind: "Pod",
        template: "/spec",
        replicas: ("/spec/no-replicas", 1),
        surge: Surge::None,
        scalable: false,
    },
];

const MI: u64 = 1024 * 1024;
const GI: u64 = 1024 * MI;

#[derive(Clone, Copy)]
enum Unit {
    /// Millicores.
    Cpu,
    Bytes,
    Count,
}

struct Resource {
    key: &'static str,
    alias: Option<&'static str>,
    unit: Unit,
    profile_field: &'static str,
}

impl Resource {
    const fn new(
        key: &'static str,
        alias: Option<&'static str>,
        unit: Unit,
        profile_field: &'static str,
    ) -> Resource {
        Resource {
            key,
            alias,
            unit,
            profile_field,
        }
    }

    /// A quota value in this resource's unit (millicores, bytes, a count).
    fn parse(&self, v: &Value) -> Option<u64> {
        let q = match v {
            Value::String(s) => Quantity::parse(s).ok()?.value(),
            Value::Number(n) => n.as_f64()?,
            _ => return None,
        };
        Some(match self.unit {
            Unit::Cpu => (q * 1000.0).ceil() as u64,
            Unit::Bytes | Unit::Count => q.ceil() as u64,
        })
    }

    fn show(&self, v: u64) -> String {
        match self.unit {
            Unit::Cpu if v.is_multiple_of(1000) => (v / 1000).to_string(),
            Unit::Cpu => format!("{v}m"),
            Unit::Bytes if v.is_multiple_of(GI) => format!("{}Gi", v / GI),
            Unit::Bytes if v.is_multiple_of(MI) => format!("{}Mi", v / MI),
            Unit::Bytes => format!("{}Ki", v.div_ceil(1024)),
            Unit::Count => v.to_string(),
        }
    }
}

/// One amount per [`RESOURCES`] entry.
type Amounts = [u64; 7];

/// What one object adds to its namespace's need.
struct Contribution {
    /// `Kind/name`.
    object: String,
    /// Pods at once, and how that number is made (`2 + 1 surge`).
    pods: u64,
    pods_why: String,
    /// One pod's requests and limits (the scheduler's view).
    pod: Amounts,
    /// Claims, as (how many, the size of each).
    claims: Vec<(u64, u64)>,
}

impl Contribution {
    fn amount(&self, r: usize) -> u64 {
        match r {
            PODS => self.pods,
            CLAIMS => self
                .claims
                .iter()
                .fold(0u64, |sum, (n, _)| sum.saturating_add(*n)),
            STORAGE => self.claims.iter().fold(0u64, |sum, (n, size)| {
                sum.saturating_add(n.saturating_mul(*size))
            }),
            _ => self.pods.saturating_mul(self.pod[r]),
        }
    }

    /// How this object's share of resource `r` is made, for the message.
    fn explain(&self, r: usize, res: &Resource) -> String {
        let pods = if self.pods_why.is_empty() {
            format!("{} pod{}", self.pods, plural(self.pods))
        } else {
            format!("{} pod{} ({})", self.pods, plural(self.pods), self.pods_why)
        };
        match r {
            PODS => pods,
            CLAIMS => {
                let n = self.amount(r);
                format!("{n} claim{}", plural(n))
            }
            STORAGE => {
                let sizes: Vec<String> = self
                    .claims
                    .iter()
                    .map(|(n, size)| format!("{n} × {}", res.show(*size)))
                    .collect();
                format!("{} = {}", sizes.join(" + "), res.show(self.amount(r)))
            }
            _ => format!(
                "{pods} × {} = {}",
                res.show(self.pod[r]),
                res.show(self.amount(r))
            ),
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Every quota of `manifests` against what the same render puts in its
/// namespace. The objects are grouped by namespace once, so the check takes
/// time in proportion to the objects, however many namespaces have a quota.
pub fn check(manifests: &[Manifest]) -> Vec<Problem> {
    let mut by_namespace: HashMap<&str, Vec<&Manifest>> = HashMap::new();
    for m in manifests {
        if let Some(ns) = m.namespace() {
            by_namespace.entry(ns).or_default().push(m);
        }
    }
    let mut out = Vec::new();
    for quota in manifests.iter().filter(|m| m.kind() == "ResourceQuota") {
        let Some(members) = quota.namespace().and_then(|ns| by_namespace.get(ns)) else {
            continue;
        };
        let defaults = limit_range_defaults(members);
        let mut messages = Vec::new();
        let mut contributions = Vec::new();
        for m in members {
            if let Some(c) = contribution(m, members, &defaults, &mut messages) {
                contributions.push(c);
            }
        }
        let hard = &quota.object["spec"]["hard"];
        for (r, res) in RESOURCES.iter().enumerate() {
            let Some(limit) = hard
                .get(res.key)
                .or_else(|| res.alias.and_then(|a| hard.get(a)))
                .and_then(|v| res.parse(v))
            else {
                continue;
            };
            let need = contributions
                .iter()
                .fold(0u64, |sum, c| sum.saturating_add(c.amount(r)));
            if need > limit {
                messages.push(exceeded(quota, r, res, need, limit, &contributions));
            }
        }
        out.extend(messages.into_iter().map(|message| Problem {
            object: quota.id(),
            template: quota.origin.template.clone(),
            scope: quota.origin.scope.to_string(),
            message,
        }));
    }
    out
}

fn exceeded(
    quota: &Manifest,
    r: usize,
    res: &Resource,
    need: u64,
    limit: u64,
    contributions: &[Contribution],
) -> String {
    let who = match &quota.origin.scope {
        crate::pipeline::manifest::Scope::Tenant(name) => format!("tenant `{name}`"),
        crate::pipeline::manifest::Scope::Infra => "the infra scope".to_string(),
    };
    let kind = quota.object["metadata"]["labels"][keys::PART_OF]
        .as_str()
        .unwrap_or("<type>");
    let mut parts: Vec<&Contribution> = contributions.iter().filter(|c| c.amount(r) > 0).collect();
    parts.sort_by(|a, b| b.amount(r).cmp(&a.amount(r)).then(a.object.cmp(&b.object)));
    let mut text = format!(
        "{who} needs {} {} but its quota allows {}; raise `tenantQuotas.{kind}.{}` in the profile, or make the tenant smaller. What needs it:",
        res.key,
        res.show(need),
        res.show(limit),
        res.profile_field,
    );
    for c in parts {
        text.push_str(&format!("\n    {}: {}", c.object, c.explain(r, res)));
    }
    text
}

/// What object `m` adds to its namespace, if it makes pods or claims.
fn contribution(
    m: &Manifest,
    members: &[&Manifest],
    defaults: &Sizes,
    messages: &mut Vec<String>,
) -> Option<Contribution> {
    let object = format!("{}/{}", m.kind(), m.name());
    if m.kind() == "PersistentVolumeClaim" {
        return Some(Contribution {
            object,
            pods: 0,
            pods_why: String::new(),
            pod: [0; 7],
            claims: vec![(1, claim_size(&m.object["spec"]))],
        });
    }
    if m.kind() == "Prometheus" && m.group() == "monitoring.coreos.com" {
        return Some(prometheus_pods(m, object, defaults, messages));
    }
    let w = WORKLOADS.iter().find(|w| w.kind == m.kind())?;
    let pod = m.object.pointer(w.template)?;
    let (pointer, default) = w.replicas;
    let mut replicas = m
        .object
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or(default);
    let mut why = Vec::new();
    if w.kind == "Job"
        && let Some(completions) = m
            .object
            .pointer("/spec/completions")
            .and_then(Value::as_u64)
    {
        replicas = replicas.min(completions);
    }
    if w.scalable
        && let Some(max) = hpa_max(m, members)
    {
        replicas = replicas.max(max);
        why.push(format!("HPA maximum {max}"));
    }
    let surge = match w.surge {
        Surge::RollingUpdate => deployment_surge(&m.object, replicas),
        Surge::None => 0,
    };
    if surge > 0 {
        if why.is_empty() {
            why.push(replicas.to_string());
        }
        why.push(format!("{surge} surge"));
    }
    let pods = replicas.saturating_add(surge);
    let sizes = pod_sizes(pod, &object, defaults, messages);
    // A StatefulSet's claims are per replica, a generic ephemeral volume's per
    // pod.
    let mut claims = Vec::new();
    for t in m.object["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        claims.push((replicas, claim_size(&t["spec"])));
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        if let Some(t) = v.pointer("/ephemeral/volumeClaimTemplate/spec") {
            claims.push((pods, claim_size(t)));
        }
    }
    Some(Contribution {
        object,
        pods,
        pods_why: why.join(" + "),
        pod: sizes,
        claims,
    })
}

/// The pods prometheus-operator makes for a `Prometheus`: `replicas × shards`
/// (both default 1), each with the `prometheus` container sized by
/// `spec.resources` plus the reloader containers ([`RELOADER`]), and a claim
/// per pod from `spec.storage.volumeClaimTemplate`.
fn prometheus_pods(
    m: &Manifest,
    object: String,
    defaults: &Sizes,
    messages: &mut Vec<String>,
) -> Contribution {
    let spec = &m.object["spec"];
    let replicas = spec["replicas"].as_u64().unwrap_or(1);
    let shards = spec["shards"].as_u64().unwrap_or(1);
    let pods = replicas.saturating_mul(shards);
    let prometheus = container_sizes(&spec["resources"], defaults);
    let containers = [("prometheus", prometheus), ("config-reloader", RELOADER)];
    for (name, sizes) in &containers {
        missing(sizes, &object, name, messages);
    }
    let sidecars: Vec<Sizes> = containers.iter().map(|(_, s)| *s).collect();
    let pod = scheduled(&sidecars, &[(RELOADER, false)]);
    let claims = match spec.pointer("/storage/volumeClaimTemplate/spec") {
        Some(t) => vec![(pods, claim_size(t))],
        None => Vec::new(),
    };
    Contribution {
        object,
        pods,
        pods_why: if shards > 1 {
            format!("{replicas} replicas × {shards} shards")
        } else {
            String::new()
        },
        pod,
        claims,
    }
}

/// `maxSurge` of a Deployment with `replicas` pods: an integer, or a
/// percentage of the replicas rounded up (default 25%); 0 for Recreate.
pub(crate) fn deployment_surge(deployment: &Value, replicas: u64) -> u64 {
    let strategy = &deployment["spec"]["strategy"];
    if strategy["type"] == "Recreate" {
        return 0;
    }
    match &strategy["rollingUpdate"]["maxSurge"] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => percent_of(s, replicas),
        _ => percent_of("25%", replicas),
    }
}

fn percent_of(text: &str, replicas: u64) -> u64 {
    let pct: u64 = text.trim_end_matches('%').parse().unwrap_or(0);
    replicas.saturating_mul(pct).div_ceil(100)
}

/// The maximum of an HPA of the same namespace that scales `m`.
fn hpa_max(m: &Manifest, members: &[&Manifest]) -> Option<u64> {
    members
        .iter()
        .filter(|h| h.kind() == "HorizontalPodAutoscaler")
        .filter(|h| {
            let target = &h.object["spec"]["scaleTargetRef"];
            target["kind"] == m.kind() && target["name"] == m.name()
        })
        .filter_map(|h| h.object["spec"]["maxReplicas"].as_u64())
        .max()
}

/// The requested size of a claim spec (0 when it states none).
fn claim_size(spec: &Value) -> u64 {
    RESOURCES[STORAGE]
        .parse(&spec["resources"]["requests"]["storage"])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_rounds_up_and_recreate_has_none() {
        let d = |strategy: Value| serde_json::json!({"spec": {"strategy": strategy}});
        assert_eq!(deployment_surge(&d(serde_json::json!({})), 2), 1);
        assert_eq!(deployment_surge(&d(serde_json::json!({})), 8), 2);
        assert_eq!(
            deployment_surge(&d(serde_json::json!({"rollingUpdate": {"maxSurge": 3}})), 1),
            3
        );
        assert_eq!(
            deployment_surge(
                &d(serde_json::json!({"rollingUpdate": {"maxSurge": "100%"}})),
                2
            ),
            2
        );
        assert_eq!(
            deployment_surge(&d(serde_json::json!({"type": "Recreate"})), 4),
            0
        );
    }

    #[test]
    fn quantities_show_in_their_unit() {
        assert_eq!(RESOURCES[REQUESTS_CPU].show(2500), "2500m");
        assert_eq!(RESOURCES[REQUESTS_CPU].show(3000), "3");
        assert_eq!(RESOURCES[REQUESTS_MEMORY].show(3 * GI), "3Gi");
        assert_eq!(RESOURCES[REQUESTS_MEMORY].show(1536 * MI), "1536Mi");
    }
}
