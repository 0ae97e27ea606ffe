//! PersistentVolumes, as kube-controller-manager's persistentvolume
//! controller keeps them (`pkg/controller/volume/persistentvolume`):
//! a claim the binder bound to `pvc-<claim uid>` gets that volume
//! (dynamic provisioning: capacity, access modes and class of the claim,
//! the class's `reclaimPolicy`, default `Delete`, and a `claimRef` with the
//! claim's uid); a volume whose claim is gone (or is another claim of that
//! name) is `Released`, and deleted with its data under `Delete`; a
//! volume whose `claimRef` names a claim without a uid (pre-bound, as an
//! admin re-binds a Released volume) is `Available` until that claim
//! appears and then binds to it; a claim that names a volume in
//! `spec.volumeName` binds to it when the volume is `Available` or
//! pre-bound to it. Each provisioned volume holds data the test can read
//! ([`crate::TestServer::volume_data`]) that only the volume's deletion
//! clears.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Controller, KCM, Stage, deleting, gr, name_of, ns_of, uid_of};
use crate::ops::State;

const CONTROLLER: &str = "persistentvolume-controller";

fn pvs() -> crate::store::Gr {
    gr("", "persistentvolumes")
}

fn claims() -> crate::store::Gr {
    gr("", "persistentvolumeclaims")
}

/// The claim reference of a volume bound to `claim`.
fn claim_ref(claim: &Value) -> Value {
    json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1",
           "namespace": ns_of(claim), "name": name_of(claim), "uid": uid_of(claim),
           "resourceVersion": claim["metadata"]["resourceVersion"]})
}

/// Whether volume `pv` may bind to `claim`: it names the claim without a
/// uid (pre-bound), names nobody, or is already this claim's.
fn bindable(pv: &Value, claim: &Value) -> bool {
    let r = &pv["spec"]["claimRef"];
    if r.is_null() {
        return true;
    }
    let named = r["namespace"] == ns_of(claim).as_str() && r["name"] == name_of(claim).as_str();
    named
        && (r["uid"].as_str().unwrap_or_default().is_empty() || r["uid"] == uid_of(claim).as_str())
}

impl Controller {
    pub(super) fn volumes(&mut self, st: &mut State) {
        let work = self.begin(st, Stage::Volumes);
        let changed = work.namespaces_of(&claims());
        for claim in work.objects(st, &claims()) {
            if deleting(&claim) {
                continue;
            }
            let volume = claim["spec"]["volumeName"].as_str().unwrap_or_default();
            if volume.is_empty() {
                continue;
            }
            match st.store.get(&pvs(), "", volume).map(|s| s.obj.clone()) {
                Some(pv) if claim["status"]["phase"] != "Bound" => {
                    if bindable(&pv, &claim) {
                        self.bind(st, &pv, &claim);
                    }
                }
                None if volume == format!("pvc-{}", uid_of(&claim)) => self.provision(st, &claim),
                _ => {}
            }
        }
        // A volume follows its claim: visit those whose claim's namespace changed.
        let mut volumes: Vec<Value> = work
            .objects(st, &pvs())
            .into_iter()
            .map(|v| Value::clone(&v))
            .collect();
        let seen: HashSet<String> = volumes.iter().map(name_of).collect();
        volumes.extend(
            st.store
                .list(&pvs(), None)
                .into_iter()
                .filter(|s| {
                    let ns = s.obj["spec"]["claimRef"]["namespace"].as_str();
                    ns.is_some_and(|ns| changed.contains(ns)) && !seen.contains(&name_of(&s.obj))
                })
                .map(|s| Value::clone(&s.obj)),
        );
        for pv in volumes {
            self.sync_volume(st, &pv);
        }
    }

    /// A volume for a claim the binder bound to `pvc-<uid>`: what the
    /// provisioner makes, bound to the claim.
    fn provision(&mut self, st: &mut State, claim: &Value) {
        let classes = Self::objects(st, "storage.k8s.io", "storageclasses");
        let class_name = claim["spec"]["storageClassName"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                classes
                    .iter()
                    .find(|c| {
                        c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
                            == "true"
                    })
                    .map(|c| name_of(c))
            })
            .unwrap_or_default();
        let class = classes.iter().find(|c| name_of(c) == class_name);
        let policy = class
            .and_then(|c| c["reclaimPolicy"].as_str())
            .unwrap_or("Delete");
        let storage = match &claim["status"]["capacity"]["storage"] {
            Value::Null => claim["spec"]["resources"]["requests"]["storage"].clone(),
            s => s.clone(),
        };
        let name = format!("pvc-{}", uid_of(claim));
        let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {
                "pv.kubernetes.io/provisioned-by": class.and_then(|c| c["provisioner"].as_str()).unwrap_or("testserver")}},
            "spec": {"capacity": {"storage": storage}, "accessModes": claim["spec"]["accessModes"],
                     "storageClassName": class_name, "persistentVolumeReclaimPolicy": policy,
                     "claimRef": claim_ref(claim),
                     "hostPath": {"path": format!("/var/local-path-provisioner/{name}")}}});
        st.controller_put(&pvs(), pv, KCM);
        st.volume_data.insert(
            name.clone(),
            format!("written by {}/{}", ns_of(claim), name_of(claim)),
        );
        if let Some(pv) = st.store.get(&pvs(), "", &name).map(|s| s.obj.clone()) {
            st.controller_status(&pvs(), "", &name, json!({"phase": "Bound"}), KCM);
            self.event(
                st,
                &pv,
                "Normal",
                "Provisioned",
                "volume provisioned",
                CONTROLLER,
            );
        }
    }

    /// Binds `pv` and `claim` to each other (both sides, as the binder does).
    fn bind(&mut self, st: &mut State, pv: &Value, claim: &Value) {
        let mut v = pv.clone();
        v["spec"]["claimRef"] = claim_ref(claim);
        if let Some(m) = v["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        st.controller_put(&pvs(), v, KCM);
        st.controller_status(&pvs(), "", &name_of(pv), json!({"phase": "Bound"}), KCM);
        let mut c = claim.clone();
        c["spec"]["volumeName"] = json!(name_of(pv));
        c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
        if let Some(m) = c["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        st.controller_put(&claims(), c, KCM);
        let status = json!({"phase": "Bound", "accessModes": pv["spec"]["accessModes"],
                            "capacity": pv["spec"]["capacity"]});
        st.controller_status(&claims(), &ns_of(claim), &name_of(claim), status, KCM);
    }

    /// A volume's phase from its claim reference: bound, released (then
    /// deleted under `Delete`), or available; a pre-bound one binds to its
    /// claim once the claim is there.
    fn sync_volume(&mut self, st: &mut State, pv: &Value) {
        if deleting(pv) {
            return;
        }
        let r = &pv["spec"]["claimRef"];
        let name = name_of(pv);
        if r.is_null() {
            st.controller_status(&pvs(), "", &name, json!({"phase": "Available"}), KCM);
            return;
        }
        let (ns, claim_name) = (
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default(),
        );
        let claim = st
            .store
            .get(&claims(), ns, claim_name)
            .map(|s| s.obj.clone());
        let uid = r["uid"].as_str().unwrap_or_default();
        if uid.is_empty() {
            match claim {
                Some(c) if !deleting(&c) && bindable(pv, &c) => {
                    let free = c["spec"]["volumeName"].as_str().unwrap_or_default();
                    if free.is_empty() || free == name {
                        self.bind(st, pv, &c);
                    }
                }
                _ => st.controller_status(&pvs(), "", &name, json!({"phase": "Available"}), KCM),
            }
            return;
        }
        if claim.as_ref().is_some_and(|c| uid_of(c) == uid) {
            return;
        }
        // The claim it was bound to is gone: released, its data kept or deleted.
        if pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" {
            st.controller_status(&pvs(), "", &name, json!({"phase": "Released"}), KCM);
        } else {
            st.remove_now(&pvs(), "", &name);
        }
    }
}
