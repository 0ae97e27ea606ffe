//! The scheduler's part that depends on storage, the persistentvolume
//! controller's word on a claim waiting for its provisioner, and the
//! condition times the kubelet keeps. A pod whose claim is `Immediate` and not yet bound cannot be
//! scheduled: it stays Pending with `PodScheduled=False/Unschedulable` and a
//! `FailedScheduling` event ("pod has unbound immediate
//! PersistentVolumeClaims"), and is bound to a node (`Scheduled`) once its
//! claims are, as kube-scheduler's VolumeBinding plugin does. Claims of a
//! `WaitForFirstConsumer` class do not hold the pod back: they are bound after
//! it is scheduled.
//!
//! A condition's `lastTransitionTime` changes only when its status does, as
//! the kubelet and scheduler write it: what tells a client which events are
//! older than the pod's present state.

use serde_json::{Value, json};

use super::{Behavior, Controller, PodTrouble, gr, name_of, ns_of};
use crate::ops::State;
use crate::store::rfc3339;

impl Controller {
    /// Whether a pod with this spec, in `ns`, waits on an Immediate claim
    /// that is not bound (or not there yet).
    pub(super) fn waits_on_immediate_claims(st: &State, ns: &str, spec: &Value) -> bool {
        let classes = Self::objects(st, "storage.k8s.io", "storageclasses");
        spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .any(|claim| {
                let Some(pvc) = st.store.get(&gr("", "persistentvolumeclaims"), ns, claim) else {
                    return true;
                };
                let class = pvc.obj["spec"]["storageClassName"].as_str();
                let late = classes.iter().any(|c| {
                    Some(name_of(c).as_str()) == class
                        && c["volumeBindingMode"] == "WaitForFirstConsumer"
                });
                !late && pvc.obj["status"]["phase"] != "Bound"
            })
    }

    /// A pod with no node yet that no behaviour keeps unschedulable: Pending
    /// with the scheduler's condition and event while its claims are unbound,
    /// bound to a node when they are. True when this pass is done with it.
    pub(super) fn schedule(&mut self, st: &mut State, pod: &Value, behavior: &Behavior) -> bool {
        let ns = ns_of(pod);
        if Self::waits_on_immediate_claims(st, &ns, &pod["spec"]) {
            let n = st.options.nodes;
            let msg = format!(
                "0/{n} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
            );
            if pod["status"]["conditions"][0]["message"] == msg.as_str() {
                return true;
            }
            let now = rfc3339(self.sys);
            let status = json!({"phase": "Pending", "qosClass": "BestEffort", "conditions": [
                {"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
                 "reason": "Unschedulable", "message": msg}]});
            self.set_status(st, "", "pods", pod, status, "default-scheduler");
            self.event(
                st,
                pod,
                "Warning",
                "FailedScheduling",
                &msg,
                "default-scheduler",
            );
            return true;
        }
        let Some(node) = Self::pick_node(st, behavior, &name_of(pod)) else {
            return false;
        };
        let mut bound = Value::clone(pod);
        bound["spec"]["nodeName"] = json!(node);
        if let Some(m) = bound["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        st.controller_put(&gr("", "pods"), bound, "default-scheduler");
        let msg = format!("Successfully assigned {ns}/{} to {node}", name_of(pod));
        self.event(st, pod, "Normal", "Scheduled", &msg, "default-scheduler");
        true
    }
}

impl Controller {
    /// The persistentvolume controller's one event for a claim handed to an
    /// external provisioner (Immediate binding), once per claim.
    pub(super) fn provisioning(&mut self, st: &mut State, pvc: &Value, class: &Value) {
        let key = (format!("{}/provisioning", super::uid_of(pvc)), 0);
        if st.observed.contains_key(&key) {
            return;
        }
        st.observed.insert(key, self.now);
        let provisioner = class["provisioner"].as_str().unwrap_or_default();
        let msg = format!(
            "Waiting for a volume to be created either by the external provisioner \"{provisioner}\" or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        );
        self.event(
            st,
            pvc,
            "Normal",
            "ExternalProvisioning",
            &msg,
            "persistentvolume-controller",
        );
    }

    /// A claim naming a class that does not exist: the persistentvolume
    /// controller's warning, once per claim; the claim stays Pending.
    pub(super) fn no_class(&mut self, st: &mut State, pvc: &Value, class: &str) {
        let key = (format!("{}/no-class", super::uid_of(pvc)), 0);
        if st.observed.contains_key(&key) {
            return;
        }
        st.observed.insert(key, self.now);
        let msg = format!("storageclass.storage.k8s.io \"{class}\" not found");
        self.event(
            st,
            pvc,
            "Warning",
            "ProvisioningFailed",
            &msg,
            "persistentvolume-controller",
        );
    }
}

/// Keeps each condition's `lastTransitionTime` from `old` while its status is
/// the same; a condition that is new or whose status changed gets `now`.
pub(super) fn keep_transition_times(old: &Value, new: &mut Value, now: &str) {
    let before = old["conditions"].as_array().cloned().unwrap_or_default();
    for condition in new["conditions"].as_array_mut().into_iter().flatten() {
        let was = before.iter().find(|c| c["type"] == condition["type"]);
        condition["lastTransitionTime"] = match was {
            Some(was) if was["status"] == condition["status"] => was["lastTransitionTime"].clone(),
            _ => json!(now),
        };
    }
}

/// What a trouble-free pod is waiting for is never scheduling (see
/// [`Controller::schedule`]); the kubelet keeps `Unschedulable` behaviour
/// for pods no node can take.
pub(super) fn unschedulable(behavior: &Behavior) -> bool {
    matches!(
        behavior,
        Behavior::NeverReady(PodTrouble::Unschedulable) | Behavior::Fail(PodTrouble::Unschedulable)
    )
}
