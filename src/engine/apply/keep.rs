//! Which objects stay although they left the spec (prune) or their scope is
//! removed: PersistentVolumeClaims (they hold data) and CRDs (deleting one
//! deletes every custom resource of its kind), unless a flag of the command
//! lifts that. The one home of that rule; it decides, it deletes nothing.

/// What a kept kind guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    Data,
    Crds,
}

/// The kinds kept unless a flag says otherwise.
const GUARDED: &[(&str, Guard)] = &[
    ("PersistentVolumeClaim", Guard::Data),
    ("CustomResourceDefinition", Guard::Crds),
];

fn guard_of(kind: &str) -> Option<Guard> {
    GUARDED.iter().find(|(k, _)| *k == kind).map(|(_, g)| *g)
}

/// Whether objects of `kind` hold data (a namespace holding kept ones stays).
pub(super) fn holds_data(kind: &str) -> bool {
    guard_of(kind) == Some(Guard::Data)
}

/// One command's flags that lift the guards: whether each was given, and
/// what to say about an object kept because it was not.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keep {
    delete_data: bool,
    delete_crds: bool,
    data_kept: &'static str,
    crds_kept: &'static str,
}

impl Keep {
    /// `apply`'s pruning: `--prune-volumes`, `--prune-crds`.
    pub(super) fn on_prune(prune_volumes: bool, prune_crds: bool) -> Keep {
        Keep {
            delete_data: prune_volumes,
            delete_crds: prune_crds,
            data_kept: "PVCs are kept unless --prune-volumes",
            crds_kept: "CRDs are kept unless --prune-crds",
        }
    }

    /// Removing a scope: `--delete-data`, `--delete-crds`.
    pub(super) fn on_remove(delete_data: bool, delete_crds: bool) -> Keep {
        Keep {
            delete_data,
            delete_crds,
            data_kept: "data is kept unless --delete-data",
            crds_kept: "CRDs are kept unless --delete-crds",
        }
    }

    /// Why an object of `kind` stays, or `None` when it goes.
    pub(super) fn why(&self, kind: &str) -> Option<&'static str> {
        match guard_of(kind)? {
            Guard::Data if !self.delete_data => Some(self.data_kept),
            Guard::Crds if !self.delete_crds => Some(self.crds_kept),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_and_crds_stay_unless_their_flag_is_given() {
        let keep = Keep::on_prune(false, false);
        assert_eq!(
            keep.why("PersistentVolumeClaim"),
            Some("PVCs are kept unless --prune-volumes")
        );
        assert_eq!(
            keep.why("CustomResourceDefinition"),
            Some("CRDs are kept unless --prune-crds")
        );
        assert_eq!(keep.why("Deployment"), None);
        let keep = Keep::on_remove(true, false);
        assert_eq!(keep.why("PersistentVolumeClaim"), None);
        assert_eq!(
            keep.why("CustomResourceDefinition"),
            Some("CRDs are kept unless --delete-crds")
        );
        assert!(holds_data("PersistentVolumeClaim") && !holds_data("CustomResourceDefinition"));
    }
}
