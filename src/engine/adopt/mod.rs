//! Taking over a platform the operators run (`apply --adopt`, `diff
//! --adopt`): objects of the applied scopes that exist under the names
//! cnvrgctl renders but were made by the cnvrg operator or Cartographer
//! ([`rules::claim`]) are applied with force as cnvrgctl (so they join its
//! inventory) and freed of their ownerReferences to the operators' custom
//! resources by a JSON patch that tests the uid first ([`release`]); deleting
//! the operator's resources can then no longer cascade into the platform.
//! The same patch makes the operators' fields cnvrgctl's ([`fields`]), so
//! the apply removes what the operators set and we do not render.
//! Our Secrets that the operator kept under another name start from its
//! values ([`seed`]). What the operators made that cnvrgctl does not render
//! stays and is listed ([`leftovers`]); the run ends with the commands that
//! remove the operator ([`way_out`]). Claims the operator named otherwise
//! move to our names with their data ([`moves`], run by [`claims`]). The
//! decisions are in [`rules`]; this module makes the calls, through
//! [`crate::engine::kube`] only.

pub mod beside;
pub mod claims;
pub mod database;
pub mod fields;
pub mod moves;
pub mod rules;

use serde_json::Value;

use crate::engine::apply::{Observed, Problem, prepare};
use crate::engine::diff::Op;
use crate::engine::inventory::ApplySet;
use crate::engine::kube::{Cluster, ClusterError, Resource};
use crate::pipeline::manifest::{Manifest, Scope};

pub use rules::{Claim, claim};

/// Whether a live object cnvrgctl does not manage is taken over: `Ok(true)`
/// when it is adopted (operator-made, `--adopt` given), `Ok(false)` when it
/// needs no taking over (ours, a Namespace, or `--force-conflicts`), else
/// the refusal.
pub fn admit(
    m: &Manifest,
    live: &Value,
    set: &ApplySet,
    force_conflicts: bool,
    adopt: bool,
) -> Result<bool, String> {
    if prepare::owned(live, set) || prepare::taken_without_force(m.kind()) || force_conflicts {
        return Ok(false);
    }
    let claim = claim(live);
    if adopt && !claim.is_empty() {
        return Ok(true);
    }
    Err(rules::refusal(
        &m.id(),
        &claim,
        &prepare::other_managers(live),
    ))
}

/// A StatefulSet the server refuses to update (422): which immutable fields
/// differ, and with `recreate` a replace (deleted with its pods and claims
/// orphaned, then applied); without, the refusal naming the fields and the
/// flag.
pub fn immutable(m: &Manifest, live: &Value, body: &Value, recreate: bool) -> Result<Op, String> {
    let fields = rules::immutable_differences(body, live);
    let named = if fields.is_empty() {
        "an immutable field".to_string()
    } else {
        fields
            .iter()
            .map(|f| format!("spec.{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ours, theirs) = (rules::claim_templates(body), rules::claim_templates(live));
    if ours != theirs && !moves::templates_move(m.name(), &theirs, &ours) {
        // Re-created, its pods would get new, empty claims: refused even
        // with the flag; the old claims are never touched.
        return Err(format!(
            "{}: the live StatefulSet differs in {named}; its claim templates ({}) are not ours ({}), so a re-created one would start on new, empty claims: copy the data to claims named as ours first (the live claims are never deleted)",
            m.id(),
            theirs.join(", "),
            ours.join(", ")
        ));
    }
    if recreate {
        return Ok(Op::Replace);
    }
    Err(format!(
        "{}: the live StatefulSet differs in {named}, which cannot change in place; pass --recreate-statefulsets to delete it with its pods and claims orphaned and create it again (the claims and their data stay)",
        m.id()
    ))
}

/// Frees every adopted object of `observed` from its ownerReferences to the
/// operators and makes the operators' fields cnvrgctl's
/// ([`fields::takeover_patch`]), so the forced apply that follows removes
/// what we do not render; the number of objects patched. A concurrent
/// change of an object makes the server refuse the patch.
pub async fn release(cluster: &Cluster, observed: &Observed) -> Result<usize, Problem> {
    let mut patched = 0;
    for target in observed.targets.iter().filter(|t| t.adopted) {
        let (Some(resource), Some(live)) = (&target.resource, &target.live) else {
            continue;
        };
        let Some(ops) = fields::takeover_patch(live) else {
            continue;
        };
        let namespace = live["metadata"]["namespace"].as_str();
        cluster
            .json_patch(resource, namespace, &target.change.name, &ops)
            .await?;
        patched += 1;
    }
    Ok(patched)
}

/// For our Secret `m` (`live`: as it is on the cluster), what its
/// generated keys are filled from when an operator's Secret (of the same
/// name or another) holds their values under its own keys; `None` when no
/// operator Secret feeds it.
pub async fn seed(
    cluster: &Cluster,
    m: &Manifest,
    live: Option<&Value>,
) -> Result<Option<Value>, ClusterError> {
    let Scope::Tenant(tenant) = &m.origin.scope else {
        return Ok(None);
    };
    if m.kind() != "Secret" {
        return Ok(None);
    }
    let Some((name, source)) = rules::secret_source(m.name(), tenant) else {
        return Ok(None);
    };
    let operator = match live {
        Some(l) if name == m.name() => Some(l.clone()),
        _ => match cluster.resource("v1", "Secret").await? {
            Some(secrets) => cluster.get(&secrets, m.namespace(), &name).await?,
            None => None,
        },
    };
    Ok(operator
        .filter(|s| !claim(s).is_empty() || database::crunchy(s))
        .map(|s| rules::seed(&s, source, live)))
}

/// The kinds looked at for what the operators made and cnvrgctl does not
/// render.
const LEFTOVER_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ServiceAccount"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "Ingress"),
    (
        "postgres-operator.crunchydata.com/v1beta1",
        "PostgresCluster",
    ),
];

/// What the operators made in `namespaces` that no target of `observed` is.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// `Kind/namespace/name` and what ties it to the operators, each left
    /// as it is.
    pub listed: Vec<(String, Claim)>,
    /// The claims among them (with their data): freed of the operators'
    /// ownerReferences on apply, so deleting the operator's resources cannot
    /// delete them, and never deleted.
    pub claims: Vec<(Resource, Value)>,
}

/// Reads what the operators made in `namespaces` that cnvrgctl does not render.
pub async fn leftovers(
    cluster: &Cluster,
    observed: &Observed,
    namespaces: &[String],
) -> Result<Leftovers, ClusterError> {
    let ours: std::collections::BTreeSet<String> =
        observed.targets.iter().map(|t| t.change.id()).collect();
    let mut found = Leftovers::default();
    for (api_version, kind) in LEFTOVER_KINDS {
        let Some(resource) = cluster.resource(api_version, kind).await? else {
            continue;
        };
        for ns in namespaces {
            for object in cluster.list(&resource, Some(ns), None).await? {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let id = format!("{kind}/{ns}/{name}");
                let claim = claim(&object);
                if claim.owners.is_empty() || ours.contains(&id) {
                    continue;
                }
                found.listed.push((id, claim));
                if *kind == "PersistentVolumeClaim" {
                    found.claims.push((resource.clone(), object));
                }
            }
        }
    }
    Ok(found)
}

/// Frees `claims` of their ownerReferences to the operators (data stays
/// whatever happens to the operator's resources).
pub async fn release_claims(
    cluster: &Cluster,
    claims: &[(Resource, Value)],
) -> Result<(), ClusterError> {
    for (resource, live) in claims {
        if let Some(ops) = rules::release_patch(live) {
            let name = live["metadata"]["name"].as_str().unwrap_or_default();
            cluster
                .json_patch(resource, live["metadata"]["namespace"].as_str(), name, &ops)
                .await?;
        }
    }
    Ok(())
}

/// The operators' custom resources on the cluster, as `kubectl` names them.
const OPERATOR_KINDS: &[(&str, &str)] = &[
    ("mlops.cnvrg.io/v1", "CnvrgApp"),
    ("mlops.cnvrg.io/v1", "CnvrgInfra"),
    ("mlops.aigency.com/v1alpha1", "Workspace"),
];

/// The commands removing the operators safely, for the resources found;
/// `deployments` as [`operator_deployments`] read them.
pub async fn way_out(
    cluster: &Cluster,
    deployments: &[(String, String, u64)],
) -> Result<Vec<String>, ClusterError> {
    let mut resources = Vec::new();
    for (api_version, kind) in OPERATOR_KINDS {
        let Some(resource) = cluster.resource(api_version, kind).await? else {
            continue;
        };
        let plural = format!("{}.{}", resource.api.plural, resource.api.group);
        for object in cluster.list(&resource, None, None).await? {
            resources.push((
                plural.clone(),
                object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    if resources.is_empty() {
        return Ok(Vec::new());
    }
    let deployments: Vec<(String, String)> = deployments
        .iter()
        .map(|(ns, name, _)| (ns.clone(), name.clone()))
        .collect();
    Ok(rules::way_out(&deployments, &resources))
}

/// The operators' Deployments (namespace, name, replicas); none when they
/// cannot be listed (the way out then says how to find them).
pub async fn operator_deployments(cluster: &Cluster) -> Vec<(String, String, u64)> {
    let Ok(Some(deployments)) = cluster.resource("apps/v1", "Deployment").await else {
        return Vec::new();
    };
    let listed = cluster
        .list(&deployments, None, None)
        .await
        .unwrap_or_default();
    listed
        .iter()
        .filter_map(|d| {
            let name = d["metadata"]["name"].as_str()?;
            let ns = d["metadata"]["namespace"].as_str()?;
            let replicas = d["spec"]["replicas"].as_u64().unwrap_or(1);
            rules::operator_deployment(name).then(|| (ns.to_string(), name.to_string(), replicas))
        })
        .collect()
}
