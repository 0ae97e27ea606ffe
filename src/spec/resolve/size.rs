//! One component's size: the spec's sizing merged over the profile's slot, key
//! by key, then checked (requests within limits, replicas within what
//! Kubernetes and the component accept), blaming the file that set the value.
//! A volume size the profile leaves out comes from the default profile
//! (`profile::default_volume`), the one home of volume sizes; no size is
//! written here.

use super::{Origin, Resolver};
use crate::spec::field_path::FieldPath;
use crate::spec::model::{Resources, Sizing};
use crate::spec::profile::{self, Slot};
use crate::spec::quantity::Quantity;
use crate::spec::resolved::{Component, Stateful};

/// Kubernetes counts replicas in 32-bit signed integers.
pub(super) const MAX_REPLICAS: u32 = i32::MAX as u32;

/// A component's size after merging the spec over the profile.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Size {
    pub replicas: u32,
    pub resources: Resources,
    /// Its volume, for a component that has one.
    pub storage: Option<Quantity>,
}

impl Size {
    /// The size of a component without a volume.
    pub fn component(self) -> Component {
        Component {
            replicas: self.replicas,
            resources: self.resources,
        }
    }

    /// The size of a component with a volume.
    pub fn stateful(self) -> Stateful {
        Stateful {
            replicas: self.replicas,
            storage: self
                .storage
                .expect("the default profile sizes every volume"),
            resources: self.resources,
        }
    }
}

impl Resolver {
    /// Merges a component's sizing (`own`, written at `path`) over the
    /// profile's slot, checks requests against limits and the replica rule of
    /// the slot, and returns the result.
    pub(super) fn size(
        &mut self,
        at: &Origin,
        slot: &Slot,
        path: &FieldPath,
        own: Option<&Sizing>,
    ) -> Size {
        let fallback = Sizing::default();
        let from_profile = at.profile.map(|p| slot.of(&p.spec)).unwrap_or(&fallback);
        let merged = profile::merge(own, from_profile);
        let resources = merged.resources.unwrap_or_default();
        let in_profile = FieldPath::spec().field(slot.key);
        // Blame the spec if it set the value here, the profile otherwise.
        let blame = |set_here: bool, key: &str| match (set_here, at.profile) {
            (false, Some(p)) => (p.source.clone(), in_profile.field(key)),
            _ => (at.src.clone(), path.field(key)),
        };
        let (blame_src, blame_path) = blame(
            own.and_then(|o| o.resources.as_ref()).is_some(),
            "resources",
        );
        for (what, req, lim) in [
            ("cpu", &resources.requests.cpu, &resources.limits.cpu),
            (
                "memory",
                &resources.requests.memory,
                &resources.limits.memory,
            ),
        ] {
            if let (Some(req), Some(lim)) = (req, lim)
                && req.value() > lim.value()
            {
                self.diags.push(
                    blame_src
                        .at(
                            &blame_path,
                            format!("{what} request {req} is more than its limit {lim}"),
                        )
                        .help("requests must not exceed limits (after merging the profile)"),
                );
            }
        }
        let replicas = merged.replicas.unwrap_or(1);
        let (blame_src, blame_path) = blame(own.and_then(|o| o.replicas).is_some(), "replicas");
        if replicas > MAX_REPLICAS {
            self.diags.push(blame_src.at(
                &blame_path,
                format!("{replicas} replicas requested; Kubernetes accepts at most {MAX_REPLICAS}"),
            ));
        } else if let Some(why) = slot.single
            && replicas > 1
        {
            self.diags.push(
                blame_src
                    .at(
                        &blame_path,
                        format!("{replicas} replicas requested; at most 1 is supported"),
                    )
                    .help(why),
            );
        }
        Size {
            replicas,
            resources,
            storage: merged.storage.or_else(|| profile::default_volume(slot)),
        }
    }

    /// A component of the cluster file sized by the profile alone.
    pub(super) fn component(&mut self, at: &Origin, slot: &Slot, path: &FieldPath) -> Component {
        self.size(at, slot, path, None).component()
    }
}
