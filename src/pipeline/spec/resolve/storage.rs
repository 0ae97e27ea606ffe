//! The storage provisioners of the infra scope (`spec.infra.storage`): hostpath
//! and NFS, each with its StorageClass name, reclaim policy and size. It checks
//! the settings a StorageClass needs; it never decides which class a volume
//! claim uses (that is `spec.storageClass`).

use super::{Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{HostpathSpec, NfsSpec, ReclaimPolicy, Resources, Sizing};
use crate::pipeline::spec::names;
use crate::pipeline::spec::profile::slots;
use crate::pipeline::spec::resolved::{Hostpath, Nfs};

impl Resolver {
    /// The hostpath provisioner at `base` (`spec.infra.storage.hostpath`).
    pub(super) fn hostpath(
        &mut self,
        spec: HostpathSpec,
        base: &FieldPath,
        at: &Origin,
    ) -> Hostpath {
        let path = spec
            .path
            .unwrap_or_else(|| "/cnvrg-hostpath-storage".into());
        if !path.starts_with('/') {
            self.diags.push(self.src.at(
                &base.field("path"),
                format!("`{path}` is not an absolute path"),
            ));
        }
        let class = spec
            .storage_class_name
            .unwrap_or_else(|| "cnvrg-hostpath".into());
        let selector = base.field("nodeSelector");
        for (key, value) in spec.node_selector.iter().flatten() {
            let checked = names::label_key(key).and_then(|()| names::label_value(value));
            self.check(
                &selector.field(key),
                checked.map_err(|e| format!("invalid node selector: {e}")),
            );
        }
        self.check(
            &base.field("storageClassName"),
            names::dns1123_subdomain(&class),
        );
        let size = self.size(at, &slots::HOSTPATH, base, Some(&resources(spec.resources)));
        Hostpath {
            enabled: spec.enabled.unwrap_or(false),
            path,
            storage_class_name: class,
            default_class: spec.default_class.unwrap_or(false),
            reclaim_policy: spec.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
            provisioner_name: "cnvrgctl.io/hostpath".into(),
            node_selector: spec.node_selector.unwrap_or_default(),
            replicas: size.replicas,
            resources: size.resources,
        }
    }

    /// The NFS provisioner at `base` (`spec.infra.storage.nfs`).
    pub(super) fn nfs(&mut self, spec: NfsSpec, base: &FieldPath, at: &Origin) -> Nfs {
        let enabled = spec.enabled.unwrap_or(false);
        if enabled {
            for (field, value) in [("server", &spec.server), ("path", &spec.path)] {
                if value.is_none() {
                    self.diags.push(
                        self.src
                            .at(base, format!("NFS is enabled but `{field}` is not set"))
                            .help("give the NFS server's address and exported path"),
                    );
                }
            }
        }
        let class = spec
            .storage_class_name
            .unwrap_or_else(|| "cnvrg-nfs".into());
        self.check(
            &base.field("storageClassName"),
            names::dns1123_subdomain(&class),
        );
        let size = self.size(at, &slots::NFS, base, Some(&resources(spec.resources)));
        Nfs {
            enabled,
            server: spec.server,
            path: spec.path,
            storage_class_name: class,
            default_class: spec.default_class.unwrap_or(false),
            reclaim_policy: spec.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
            provisioner_name: "cnvrgctl.io/nfs".into(),
            replicas: size.replicas,
            resources: size.resources,
        }
    }
}

/// The sizing of a provisioner, whose spec sets its resources only.
fn resources(resources: Option<Resources>) -> Sizing {
    Sizing {
        replicas: None,
        storage: None,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cluster, fields, problems, spec};
    use crate::pipeline::spec::ReclaimPolicy;

    #[test]
    fn provisioners_get_their_defaults() {
        let s = spec(&cluster("  {}\n"));
        let hostpath = &s.infra.storage.hostpath;
        assert!(!hostpath.enabled);
        assert_eq!(hostpath.path, "/cnvrg-hostpath-storage");
        assert_eq!(hostpath.storage_class_name, "cnvrg-hostpath");
        assert_eq!(hostpath.reclaim_policy, ReclaimPolicy::Retain);
        assert_eq!(hostpath.provisioner_name, "cnvrgctl.io/hostpath");
        let nfs = &s.infra.storage.nfs;
        assert!(!nfs.enabled);
        assert_eq!(nfs.storage_class_name, "cnvrg-nfs");
        assert_eq!(nfs.provisioner_name, "cnvrgctl.io/nfs");
    }

    #[test]
    fn storage_fields_are_checked_at_their_paths() {
        let found = problems(&cluster(
            "  infra:\n    storage:\n      hostpath:\n        path: data\n        storageClassName: Local_Disk\n        nodeSelector:\n          bad key: x\n      nfs:\n        enabled: true\n        storageClassName: Shared_NFS\n",
        ));
        assert_eq!(
            fields(&found),
            [
                "spec.infra.storage.hostpath.path",
                "spec.infra.storage.hostpath.nodeSelector.bad key",
                "spec.infra.storage.hostpath.storageClassName",
                "spec.infra.storage.nfs",
                "spec.infra.storage.nfs",
                "spec.infra.storage.nfs.storageClassName",
            ]
        );
        assert_eq!(
            found[3],
            "cluster.yaml: spec.infra.storage.nfs: NFS is enabled but `server` is not set"
        );
    }
}
