//! What `apply --adopt` and `diff --adopt` tell about taking over from the
//! operators: the objects taken over and from whom, the pods that restart and
//! why, what the operators made that stays, and (once applied) the commands
//! that remove the operator. The engine finds it ([`crate::engine::adopt`]);
//! this prints it.

use crate::engine::adopt::{self, beside, rules};
use crate::engine::apply::{self, Observed};
use crate::engine::diff::Op;
use crate::engine::kube::Cluster;
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::manifest::{Manifest, Scope};

/// What adopting the applied scopes does.
#[derive(Debug, Default)]
pub(super) struct Adoption {
    /// `Kind/ns/name` of each object taken over, and its ties to the operators.
    pub taken: Vec<(String, adopt::Claim)>,
    /// `Kind/ns/name` of each workload whose pods restart, and why.
    pub restarts: Vec<(String, String)>,
    /// What the operators made that cnvrgctl does not render: it stays.
    pub leftovers: adopt::Leftovers,
    /// The operators' objects ours replace beside them.
    pub beside: Vec<beside::Beside>,
    /// The databases copied into ours.
    pub copies: Vec<beside::Copy>,
    /// The commands removing the operators, once cnvrgctl runs the platform.
    pub way_out: Vec<String>,
    /// The operators' Deployments still running (namespace, name,
    /// replicas): they would put back what adoption changes.
    pub running: Vec<(String, String, u64)>,
    /// The operator's claims that move to our names, data kept.
    pub moves: Vec<adopt::moves::Move>,
}

impl Adoption {
    /// Why `apply --adopt` may not write yet: an operator still runs, or a
    /// claim would move to an image that cannot read its data (unless
    /// `unreadable_ok`; a move an earlier run began is finished either way).
    pub fn refusal(&self, unreadable_ok: bool) -> Vec<String> {
        let running = self.running.iter().map(|(ns, name, replicas)| {
            format!(
                "the operator still runs (Deployment {ns}/{name}, {replicas} replica(s)) and would put back the ownerReferences and fields adoption takes over; scale it to zero first: kubectl -n {ns} scale deployment {name} --replicas=0"
            )
        });
        let unreadable = self
            .moves
            .iter()
            .filter(|m| !unreadable_ok && !m.row.readable && m.stage == adopt::moves::Stage::Start)
            .map(|m| {
                format!(
                    "{} would move to {}, but for our {} its data is {}; nothing was moved. Moved anyway, the data stays in the volume beside ours for an upgrade by hand: pass --move-unreadable-data",
                    m.from_id(),
                    m.to_id(),
                    m.row.component,
                    m.row.data
                )
            });
        running.chain(unreadable).collect()
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
            (t.change.id(), claim)
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
            Some((t.change.id(), why))
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
    let moved = |id: &str| moves.iter().any(|m| id == m.from_id());
    leftovers.listed.retain(|(id, _)| !moved(id));
    leftovers.claims.retain(|(_, c)| {
        let id = format!(
            "PersistentVolumeClaim/{}/{}",
            c["metadata"]["namespace"].as_str().unwrap_or_default(),
            c["metadata"]["name"].as_str().unwrap_or_default()
        );
        !moved(&id)
    });
    let ids: Vec<String> = leftovers.listed.iter().map(|(id, _)| id.clone()).collect();
    let beside = beside::pools(&observed.targets, &ids);
    let copies = beside::copies(&observed.targets);
    let mut way_out = adopt::way_out(cluster, &deployments).await?;
    // Once ours run: the old pools, then the old database (its data last).
    way_out.extend(beside.iter().flat_map(|b| b.retire.iter().cloned()));
    way_out.extend(copies.iter().flat_map(|c| c.retire.iter().cloned()));
    Ok(Adoption {
        taken,
        restarts,
        moves,
        leftovers,
        beside,
        copies,
        way_out,
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
    let claimed = |list: &[(String, adopt::Claim)]| -> Vec<String> {
        list.iter()
            .map(|(id, claim)| format!("{id} ({})", claim.describe()))
            .collect()
    };
    section(
        "adopted from the operators (applied as cnvrgctl, ownerReferences to the operators removed)",
        "none",
        &claimed(&adoption.taken),
    );
    let restarts: Vec<String> = adoption
        .restarts
        .iter()
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    section("pods that will restart", "none", &restarts);
    let beside: Vec<String> = adoption
        .beside
        .iter()
        .map(|b| format!("{} -> {}: {}", b.old, b.new, b.how))
        .collect();
    section(
        "replaced beside the operators' objects (ours is created; the old one is retired by the way out below)",
        "none",
        &beside,
    );
    let copies: Vec<String> = adoption
        .copies
        .iter()
        .map(|c| {
            let stops = c.stops.as_deref().map_or(String::new(), |s| {
                format!("; {s} is scaled to zero while it runs (flow runs reporting meanwhile are refused, nothing reaches the old database after the dump) and starts on our database after")
            });
            format!("{} -> copied by {} (pg_dump | psql, once) after our PostgreSQL is ready{stops}", c.from, c.by)
        })
        .collect();
    section(
        "data copied (the old database stays until you delete it)",
        "none",
        &copies,
    );
    let moves: Vec<String> = adoption.moves.iter().flat_map(|m| m.describe()).collect();
    section(
        "claims that move to our names (the volume is re-bound with its data, never deleted), before any workload is written",
        "none",
        &moves,
    );
    section(
        "made by the operators, not rendered by cnvrgctl (left as they are, never deleted)",
        "none",
        &claimed(&adoption.leftovers.listed),
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
