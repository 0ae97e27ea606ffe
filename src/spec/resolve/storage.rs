//! The storage provisioners of the infra scope (`spec.infra.storage`): hostpath
//! and NFS, each with its StorageClass name, reclaim policy and size. It checks
//! the settings a StorageClass needs; it never decides which class a volume
//! claim uses (that is `spec.storageClass`).

use super::{Origin, Resolver};
use crate::spec::field_path::FieldPath;
use crate::spec::model::{self, ReclaimPolicy, Sizing};
use crate::spec::names;
use crate::spec::profile::slots;
use crate::spec::resolved::{Hostpath, Nfs};

impl Resolver {
    /// The hostpath provisioner at `base` (`spec.infra.storage.hostpath`).
    pub(super) fn hostpath(
        &mut self,
        spec: Option<model::HostpathSpec>,
        base: &FieldPath,
        at: &Origin,
    ) -> Hostpath {
        let spec = spec.unwrap_or(model::HostpathSpec {
            enabled: None,
            path: None,
            storage_class_name: None,
            default_class: None,
            reclaim_policy: None,
            node_selector: None,
            resources: None,
        });
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
    pub(super) fn nfs(
        &mut self,
        spec: Option<model::NfsSpec>,
        base: &FieldPath,
        at: &Origin,
    ) -> Nfs {
        let spec = spec.unwrap_or(model::NfsSpec {
            enabled: None,
            server: None,
            path: None,
            storage_class_name: None,
            default_class: None,
            reclaim_policy: None,
            resources: None,
        });
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
fn resources(resources: Option<model::Resources>) -> Sizing {
    Sizing {
        replicas: None,
        storage: None,
        resources,
    }
}
