//! Each scope's ApplySet parent, its inventory (DESIGN §7): written before the
//! scope's first namespaced member, listing every kind the scope has had and
//! will have, so an interrupted run still knows what to prune; written again
//! once the run converged when it no longer lists exactly what is there. It
//! writes only parents, never members.

use std::collections::{BTreeSet, HashMap};

use tokio::sync::OnceCell;

use super::actions::Actions;
use super::observe::{Inventory, Observed, Target};
use crate::engine::inventory::{self, ApplySet};
use crate::engine::kube::{ClusterError, Resource};
use crate::pipeline::manifest::{Manifest, Scope};

/// The parents of the run's scopes and the kinds each was written with.
pub(super) struct Parents<'a, A> {
    actions: &'a A,
    observed: &'a Observed,
    /// Per inventory (in `observed`'s order), the kinds its parent was
    /// written with during this run.
    written: Vec<OnceCell<BTreeSet<String>>>,
    /// Each scope's inventory, by its index in `observed`.
    at: HashMap<&'a Scope, usize>,
    /// Each scope's members after the run ([`members_of`]), worked out once.
    members: HashMap<&'a Scope, Members>,
}

/// The `Kind.group`s and namespaces of a scope's members.
type Members = (BTreeSet<String>, BTreeSet<String>);

impl<'a, A: Actions> Parents<'a, A> {
    pub(super) fn new(actions: &'a A, manifests: &'a [Manifest], observed: &'a Observed) -> Self {
        Parents {
            actions,
            observed,
            written: observed
                .inventories
                .iter()
                .map(|_| OnceCell::new())
                .collect(),
            at: (observed.inventories.iter().enumerate())
                .map(|(i, inv)| (&inv.set.scope, i))
                .collect(),
            members: members_of(manifests, observed),
        }
    }

    /// The members of `scope` after the run.
    fn members(&self, scope: &Scope) -> Members {
        self.members.get(scope).cloned().unwrap_or_default()
    }

    /// Writes the target's scope's parent, once, before its first namespaced
    /// member: every kind it has had and will have.
    pub(super) async fn before_member(
        &self,
        target: &Target,
        resource: &Resource,
    ) -> Result<(), ClusterError> {
        if !resource.namespaced {
            return Ok(());
        }
        let Some((inv, cell)) = (self.at.get(&target.change.scope))
            .map(|&i| (&self.observed.inventories[i], &self.written[i]))
        else {
            return Ok(());
        };
        cell.get_or_try_init(|| async {
            let (mut kinds, namespaces) = self.members(&inv.set.scope);
            kinds.extend(inv.live_kinds.iter().cloned());
            self.write(&inv.set, &kinds, &namespaces).await?;
            Ok(kinds)
        })
        .await
        .map(|_| ())
    }

    /// After a run that converged (and pruned): each parent lists exactly
    /// what is there, written again only where it does not.
    pub(super) async fn settle(&self) -> Result<(), ClusterError> {
        for (inv, written) in self.observed.inventories.iter().zip(&self.written) {
            let (kinds, namespaces) = self.members(&inv.set.scope);
            if stale(inv, written.get(), &kinds) {
                self.write(&inv.set, &kinds, &namespaces).await?;
            }
        }
        Ok(())
    }

    async fn write(
        &self,
        set: &ApplySet,
        kinds: &BTreeSet<String>,
        namespaces: &BTreeSet<String>,
    ) -> Result<(), ClusterError> {
        let config_maps = self
            .actions
            .served("v1", inventory::PARENT_KIND)
            .await?
            .expect("every cluster serves config maps");
        self.actions
            .apply(&config_maps, &set.parent(kinds, namespaces), true)
            .await?;
        Ok(())
    }
}

/// Whether a parent must be written again to list `kinds`: it lists others
/// (as found, or as written during the run), or it does not exist yet.
fn stale(inv: &Inventory, written: Option<&BTreeSet<String>>, kinds: &BTreeSet<String>) -> bool {
    let current = written.unwrap_or(&inv.live_kinds);
    *current != *kinds || (!inv.exists && written.is_none())
}

/// `Kind.group` and namespaces of each scope's members after this run: the
/// desired ones and those kept although they left the spec (so a later run
/// with `--prune-volumes` still finds them).
fn members_of<'a>(manifests: &[Manifest], observed: &'a Observed) -> HashMap<&'a Scope, Members> {
    let mut out: HashMap<&Scope, Members> = HashMap::new();
    for t in observed.targets.iter().filter(|t| !t.external) {
        let m = &manifests[t.index];
        let (kinds, namespaces) = out.entry(&t.change.scope).or_default();
        let group = m.group();
        kinds.insert(if group.is_empty() {
            m.kind().to_string()
        } else {
            format!("{}.{group}", m.kind())
        });
        if let Some(ns) = m.namespace() {
            namespaces.insert(ns.to_string());
        }
    }
    for p in observed.prune.iter().filter(|p| p.kept.is_some()) {
        let (kinds, namespaces) = out.entry(&p.change.scope).or_default();
        kinds.insert(p.resource.group_kind());
        if let Some(ns) = &p.change.namespace {
            namespaces.insert(ns.clone());
        }
    }
    out
}
