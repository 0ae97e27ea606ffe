//! Pod Security: a namespace of the render whose Pod Security `enforce`
//! level would reject pods the render puts there. The level is the render's
//! own `pod-security.kubernetes.io/enforce` label where it sets one (applied
//! before the pods), else the label of the namespace already on the cluster;
//! a namespace with neither enforces nothing (or whatever the cluster's
//! admission default is, which a client cannot read). Each workload whose pod
//! template breaks the level is a `fail` naming it, the level and the
//! controls ([`standards`]).

mod standards;

use std::collections::BTreeMap;

use serde_json::Value;

pub use standards::{Level, Pod, violations};

use super::{Context, Read, Row};
use crate::pipeline::manifest::Manifest;

const CHECK: &str = "pod-security";

const ENFORCE: &str = "pod-security.kubernetes.io/enforce";
const ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";

/// A namespace's enforced level, its pinned version, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Enforced {
    level: Level,
    /// The Kubernetes 1.x minor version pinned (`None`: latest).
    version: Option<u32>,
    /// `the render` or `the cluster`.
    from: &'static str,
}

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let live = match cx.list("v1", "Namespace", None).await {
        Read::Found(list) => list.to_vec(),
        Read::NotServed => Vec::new(),
        Read::Refused(reason) => return vec![Row::refused(CHECK, "namespaces", &reason)],
    };
    judge(cx.manifests, &enforced(cx.manifests, &live))
}

/// The level each namespace enforces: the render's label, else the live one.
fn enforced(manifests: &[Manifest], live: &[Value]) -> BTreeMap<String, Enforced> {
    let rendered = manifests
        .iter()
        .filter(|m| m.kind() == "Namespace")
        .map(|m| (&m.object, "the render"));
    let live = live.iter().map(|ns| (ns, "the cluster"));
    let mut out = BTreeMap::new();
    for (ns, from) in live.chain(rendered) {
        let labels = &ns["metadata"]["labels"];
        let Some(level) = labels[ENFORCE].as_str().and_then(Level::parse) else {
            continue;
        };
        let name = ns["metadata"]["name"].as_str().unwrap_or_default();
        let version = labels[ENFORCE_VERSION].as_str().and_then(minor);
        out.insert(
            name.to_string(),
            Enforced {
                level,
                version,
                from,
            },
        );
    }
    out
}

/// `v1.33` → 33; `latest` (or anything else) → latest.
fn minor(version: &str) -> Option<u32> {
    version.strip_prefix("v1.")?.parse().ok()
}

/// The pod template a workload makes, with its metadata.
fn pod_template(m: &Manifest) -> Option<Pod<'_>> {
    let template = match m.kind() {
        "Pod" => &m.object,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &m.object["spec"]["template"]
        }
        "CronJob" => &m.object["spec"]["jobTemplate"]["spec"]["template"],
        _ => return None,
    };
    Some(Pod {
        metadata: &template["metadata"],
        spec: &template["spec"],
    })
}

fn judge(manifests: &[Manifest], enforced: &BTreeMap<String, Enforced>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut admitted = 0;
    let mut judged = std::collections::BTreeSet::new();
    for m in manifests {
        let (Some(pod), Some(ns)) = (pod_template(m), m.namespace()) else {
            continue;
        };
        let Some(e) = enforced.get(ns) else {
            continue;
        };
        judged.insert(ns);
        let broken = standards::violations(pod, e.level, e.version);
        if broken.is_empty() {
            admitted += 1;
            continue;
        }
        let version = e.version.map(|v| format!(" (v1.{v})")).unwrap_or_default();
        rows.push(Row::fail(
            CHECK,
            m.id(),
            format!(
                "namespace {ns} enforces {}{version} ({ENFORCE} on {}): {}",
                e.level.as_str(),
                e.from,
                broken.join(", ")
            ),
            fix(ns, e),
        ));
    }
    if rows.is_empty() {
        rows.push(Row::pass(
            CHECK,
            "-",
            format!(
                "{admitted} workload(s) in {} namespace(s) with an enforce label meet its level",
                judged.len()
            ),
        ));
    }
    rows
}

fn fix(ns: &str, e: &Enforced) -> String {
    let relabel = format!("relabel namespace {ns} ({ENFORCE}: a level these pods meet)");
    match e.from {
        "the render" => format!(
            "the render sets this level itself: make the pod templates (--templates) meet it, or {relabel} in the namespace template"
        ),
        _ => format!(
            "{relabel}, or install into another namespace (spec.infra.namespace, or the tenant's namespace in spec.tenants)"
        ),
    }
}

#[cfg(test)]
mod tests;
