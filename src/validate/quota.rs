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

use serde_json::Value;

use super::Problem;
use crate::manifest::{Manifest, keys};
use crate::spec::Quantity;

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

/// Millicores and bytes of CPU and memory, per requests and limits; `None`
/// where nothing (not even a LimitRange default) sets the value.
#[derive(Clone, Copy, Default)]
struct Sizes {
    requests: [Option<u64>; 2],
    limits: [Option<u64>; 2],
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
/// namespace.
pub fn check(manifests: &[Manifest]) -> Vec<Problem> {
    let mut out = Vec::new();
    for quota in manifests.iter().filter(|m| m.kind() == "ResourceQuota") {
        let Some(ns) = quota.namespace() else {
            continue;
        };
        let members: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| m.namespace() == Some(ns))
            .collect();
        let defaults = limit_range_defaults(&members);
        let mut messages = Vec::new();
        let mut contributions = Vec::new();
        for m in &members {
            if let Some(c) = contribution(m, &members, &defaults, &mut messages) {
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
        crate::manifest::Scope::Tenant(name) => format!("tenant `{name}`"),
        crate::manifest::Scope::Infra => "the infra scope".to_string(),
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

/// The LimitRange defaults (`defaultRequest`, `default`) for containers in a
/// namespace; a missing `defaultRequest` is the `default`, as the API server
/// defaults it.
fn limit_range_defaults(members: &[&Manifest]) -> Sizes {
    let mut out = Sizes::default();
    for m in members.iter().filter(|m| m.kind() == "LimitRange") {
        for item in m.object["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"] != "Container" {
                continue;
            }
            for (i, key) in ["cpu", "memory"].into_iter().enumerate() {
                let limit = amount(&item["default"][key], i);
                let request = amount(&item["defaultRequest"][key], i).or(limit);
                out.requests[i] = out.requests[i].or(request);
                out.limits[i] = out.limits[i].or(limit);
            }
        }
    }
    out
}

/// A CPU (`i` = 0, millicores) or memory (`i` = 1, bytes) quantity.
fn amount(v: &Value, i: usize) -> Option<u64> {
    let res = if i == 0 {
        &RESOURCES[REQUESTS_CPU]
    } else {
        &RESOURCES[REQUESTS_MEMORY]
    };
    res.parse(v)
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
fn deployment_surge(deployment: &Value, replicas: u64) -> u64 {
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

/// One pod's requests and limits as the scheduler and the quota count them:
/// the larger of the containers' sum and the largest init container (init
/// containers that stay running, `restartPolicy: Always`, add to both).
fn pod_sizes(pod: &Value, object: &str, defaults: &Sizes, messages: &mut Vec<String>) -> Amounts {
    let mut containers = Vec::new();
    for c in pod["containers"].as_array().into_iter().flatten() {
        let sizes = container_sizes(&c["resources"], defaults);
        missing(&sizes, object, c["name"].as_str().unwrap_or("?"), messages);
        containers.push(sizes);
    }
    let mut inits = Vec::new();
    for c in pod["initContainers"].as_array().into_iter().flatten() {
        let sizes = container_sizes(&c["resources"], defaults);
        missing(&sizes, object, c["name"].as_str().unwrap_or("?"), messages);
        inits.push((sizes, c["restartPolicy"] == "Always"));
    }
    scheduled(&containers, &inits)
}

/// Kubernetes' pod requests/limits rule (`resourcehelper.PodRequests`) over
/// sized containers and init containers (with whether each is a sidecar).
fn scheduled(containers: &[Sizes], inits: &[(Sizes, bool)]) -> Amounts {
    let mut out = [0; 7];
    for (r, pick) in [
        (REQUESTS_CPU, (false, 0)),
        (REQUESTS_MEMORY, (false, 1)),
        (LIMITS_CPU, (true, 0)),
        (LIMITS_MEMORY, (true, 1)),
    ] {
        let of = |s: &Sizes| {
            let values = if pick.0 { s.limits } else { s.requests };
            values[pick.1].unwrap_or(0)
        };
        let mut sum = containers.iter().map(of).fold(0u64, u64::saturating_add);
        let mut sidecars = 0u64;
        let mut init_max = 0u64;
        for (s, sidecar) in inits {
            if *sidecar {
                sum = sum.saturating_add(of(s));
                sidecars = sidecars.saturating_add(of(s));
            } else {
                init_max = init_max.max(of(s).saturating_add(sidecars));
            }
        }
        out[r] = sum.max(init_max);
    }
    out
}

/// A container's requests and limits after Kubernetes' defaulting: a request
/// left out is the limit (API defaulting) or else the LimitRange's default
/// request; a limit left out is the LimitRange's default limit.
fn container_sizes(resources: &Value, defaults: &Sizes) -> Sizes {
    let mut out = Sizes::default();
    for (i, key) in ["cpu", "memory"].into_iter().enumerate() {
        let limit = amount(&resources["limits"][key], i);
        let request = amount(&resources["requests"][key], i);
        out.requests[i] = request.or(limit).or(defaults.requests[i]);
        out.limits[i] = limit.or(defaults.limits[i]);
    }
    out
}

/// A quota that counts limits refuses pods with a container that has none;
/// and a default limit below a container's own request is refused as well.
fn missing(sizes: &Sizes, object: &str, container: &str, messages: &mut Vec<String>) {
    for (i, what) in ["cpu", "memory"].into_iter().enumerate() {
        match (sizes.requests[i], sizes.limits[i]) {
            (_, None) => messages.push(format!(
                "{object} container `{container}` has no {what} limit and no LimitRange default gives it one: the quota's limits.{what} makes the API server refuse its pods"
            )),
            (Some(req), Some(lim)) if req > lim => messages.push(format!(
                "{object} container `{container}` requests more {what} than the LimitRange's default limit it gets"
            )),
            _ => {}
        }
    }
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

    fn sizes(cpu_req: u64, cpu_lim: u64) -> Sizes {
        Sizes {
            requests: [Some(cpu_req), Some(0)],
            limits: [Some(cpu_lim), Some(0)],
        }
    }

    #[test]
    fn init_containers_count_as_the_scheduler_counts_them() {
        // Two containers of 100m; an init container of 300m: the pod needs 300m.
        let pod = scheduled(
            &[sizes(100, 200), sizes(100, 200)],
            &[(sizes(300, 300), false)],
        );
        assert_eq!(pod[REQUESTS_CPU], 300);
        assert_eq!(pod[LIMITS_CPU], 400);
        // A sidecar (restartPolicy Always) adds to the containers and to the
        // init containers after it.
        let pod = scheduled(
            &[sizes(100, 100)],
            &[(sizes(50, 50), true), (sizes(200, 200), false)],
        );
        assert_eq!(pod[REQUESTS_CPU], 250);
    }

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
    fn a_missing_request_is_the_limit_then_the_default() {
        let defaults = Sizes {
            requests: [Some(100), Some(128 * MI)],
            limits: [Some(500), Some(512 * MI)],
        };
        let s = container_sizes(&serde_json::json!({"limits": {"cpu": "2"}}), &defaults);
        assert_eq!(s.requests, [Some(2000), Some(128 * MI)]);
        assert_eq!(s.limits, [Some(2000), Some(512 * MI)]);
    }

    #[test]
    fn quantities_show_in_their_unit() {
        assert_eq!(RESOURCES[REQUESTS_CPU].show(2500), "2500m");
        assert_eq!(RESOURCES[REQUESTS_CPU].show(3000), "3");
        assert_eq!(RESOURCES[REQUESTS_MEMORY].show(3 * GI), "3Gi");
        assert_eq!(RESOURCES[REQUESTS_MEMORY].show(1536 * MI), "1536Mi");
    }
}
