//! What `apply --adopt` and `diff --adopt` tell about taking over from the
//! operators: the objects taken over and from whom, the pods that restart and
//! why, what the operators made that stays, and (once applied) the commands
//! that remove the operator. The engine finds it ([`crate::engine::adopt`]);
//! this prints it.

use crate::engine::adopt::{self, rules};
use crate::engine::apply::{self, Observed};
use crate::engine::diff::Op;
use crate::engine::kube::Cluster;
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Manifest, Scope};

/// What adopting the applied scopes does.
#[derive(Debug, Default)]
pub(super) struct Adoption {
    /// `Kind/ns/name (owned by ...)` of each object taken over.
    pub taken: Vec<String>,
    /// `Kind/ns/name: why` of each workload whose pods restart.
    pub restarts: Vec<String>,
    /// What the operators made that cnvrgctl does not render: it stays.
    pub leftovers: adopt::Leftovers,
    /// The commands removing the operators, once cnvrgctl runs the platform.
    pub way_out: Vec<String>,
    /// The operators' Deployments still running (namespace, name,
    /// replicas): they would put back what adoption changes.
    pub running: Vec<(String, String, u64)>,
    /// The operator's claims that move to our names, data kept.
    pub moves: Vec<adopt::moves::Move>,
}

impl Adoption {
    /// Why `apply --adopt` may not write yet: an operator still runs.
    pub fn refusal(&self) -> Vec<String> {
        self.running
            .iter()
            .map(|(ns, name, replicas)| {
                format!(
                    "the operator still runs (Deployment {ns}/{name}, {replicas} replica(s)) and would put back the ownerReferences and fields adoption takes over; scale it to zero first: kubectl -n {ns} scale deployment {name} --replicas=0"
                )
            })
            .collect()
    }
}

/// Reads what adoption of `scopes` takes over and leaves.
pub(super) async fn survey(
    cluster: &Cluster,
    manifests: &[Manifest],
    scopes: &[Scope],
    observed: &Observed,
) -> Result<Adoption, Error> {
    let live_targets = observed.targets.iter().filter(|t| !t.external);
    let taken = live_targets
        .clone()
        .filter(|t| t.adopted)
        .map(|t| {
            let claim = t.live.as_ref().map(adopt::claim).unwrap_or_default();
            format!("{} ({})", t.change.id(), claim.describe())
        })
        .collect();
    let restarts = live_targets
        .filter(|t| matches!(t.change.op, Op::Update | Op::Replace | Op::Conflict))
        .filter_map(|t| {
            let why = rules::restart_reason(
                &t.change.kind,
                t.change.before.as_ref(),
                t.change.after.as_ref(),
            )?;
            Some(format!("{}: {why}", t.change.id()))
        })
        .collect();
    let namespaces: Vec<String> = scopes
        .iter()
        .filter_map(|s| apply::scope_namespace(manifests, s))
        .collect();
    // Listed once: the way out names them, and a running one stops apply.
    let deployments = adopt::operator_deployments(cluster).await;
    let moves = adopt::claims::survey(cluster, manifests).await?;
    // A claim that moves is not left as it is.
    let mut leftovers = adopt::leftovers(cluster, observed, &namespaces).await?;
    let moved = |id: &str| {
        moves
            .iter()
            .any(|m| id.starts_with(&format!("{} ", m.from_id())))
    };
    leftovers.listed.retain(|l| !moved(l));
    leftovers.claims.retain(|(_, c)| {
        let id = format!(
            "PersistentVolumeClaim/{}/{} ",
            c["metadata"]["namespace"].as_str().unwrap_or_default(),
            c["metadata"]["name"].as_str().unwrap_or_default()
        );
        !moved(&id)
    });
    Ok(Adoption {
        taken,
        restarts,
        moves,
        leftovers,
        way_out: adopt::way_out(cluster, &deployments).await?,
        running: deployments
            .into_iter()
            .filter(|(_, _, replicas)| *replicas > 0)
            .collect(),
    })
}

/// The adoption before anything is written.
pub(super) fn show(printer: &Printer, adoption: &Adoption) -> Result<(), Error> {
    let mut text = String::new();
    let mut section = |title: &str, empty: &str, items: &[String]| {
        text.push_str(&format!("{title}:\n"));
        if items.is_empty() {
            text.push_str(&format!("  {empty}\n"));
        }
        for item in items {
            text.push_str(&format!("  {item}\n"));
        }
    };
    section(
        "adopted from the operators (applied as cnvrgctl, ownerReferences to the operators removed)",
        "none",
        &adoption.taken,
    );
    section("pods that will restart", "none", &adoption.restarts);
    let moves: Vec<String> = adoption.moves.iter().flat_map(|m| m.describe()).collect();
    section(
        "claims that move to our names (the volume is re-bound with its data, never deleted), before any workload is written",
        "none",
        &moves,
    );
    section(
        "made by the operators, not rendered by cnvrgctl (left as they are, never deleted)",
        "none",
        &adoption.leftovers.listed,
    );
    printer.out(&text)?;
    Ok(())
}

/// The commands removing the operators: once the run converged (`done`),
/// or as what comes after `apply --adopt` (a preview).
pub(super) fn show_way_out(
    printer: &Printer,
    adoption: &Adoption,
    done: bool,
) -> Result<(), Error> {
    if adoption.way_out.is_empty() {
        return Ok(());
    }
    let mut text = String::from(if done {
        "cnvrgctl now manages these objects; to remove the operator safely, run in this order:\n"
    } else {
        "after `cnvrgctl apply --adopt`, to remove the operator safely, run in this order:\n"
    });
    for line in &adoption.way_out {
        text.push_str(&format!("  {line}\n"));
    }
    printer.out(&text)?;
    Ok(())
}

/// Moves the operator's claims to our names (before any workload is
/// written), saying so per claim.
pub(super) async fn move_claims(
    printer: &Printer,
    cluster: &Cluster,
    adoption: &Adoption,
    timeout: std::time::Duration,
    json: bool,
) -> Result<(), Error> {
    adopt::claims::run(cluster, &adoption.moves, timeout, |m| {
        if !json {
            printer.info(&format!(
                "moved {} → {} (volume {}, reclaim {} again)",
                m.from_id(),
                m.to_id(),
                m.volume,
                m.policy
            ));
        }
    })
    .await?;
    Ok(())
}
