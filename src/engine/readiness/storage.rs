//! Readiness of storage objects: PersistentVolumeClaim and PersistentVolume,
//! read from `status.phase`.
//!
//! The trap: a claim on a `WaitForFirstConsumer` storage class stays Pending
//! until a pod that mounts it is scheduled. Waiting for it to be Bound before
//! starting that pod would wait forever, so such a claim is Ready while Pending.
//! The class is the claim's `spec.storageClassName` or, when that is absent,
//! the cluster's default class (an explicit `""` means "no class" and is not
//! replaced by the default). Which classes bind late is a [`Facts`] input.
//! A claim still waiting names its class, binding mode and provisioner.

use serde_json::Value;

use super::{Facts, Readiness, at, str_at};

pub(super) fn persistent_volume_claim(object: &Value, facts: &Facts) -> Readiness {
    match str_at(object, &["status", "phase"]).unwrap_or("Pending") {
        "Bound" => Readiness::Ready,
        "Lost" => {
            let volume = str_at(object, &["spec", "volumeName"]).unwrap_or("its volume");
            Readiness::Failed(format!(
                "claim lost: the bound PersistentVolume {volume} no longer exists"
            ))
        }
        _ => {
            let class = match at(object, &["spec", "storageClassName"]).filter(|v| !v.is_null()) {
                Some(class) => class.as_str(),
                None => facts.default_storage_class.as_deref(),
            };
            match class {
                Some(class) if facts.binds_late(class) => Readiness::Ready,
                Some(class) if !class.is_empty() => Readiness::Progressing(format!(
                    "waiting for a volume to be bound ({})",
                    class_facts(class, facts)
                )),
                _ => Readiness::Progressing("waiting for a volume to be bound".to_owned()),
            }
        }
    }
}

/// "storage class ssd, binding Immediate, provisioner ebs.csi.aws.com".
fn class_facts(name: &str, facts: &Facts) -> String {
    match facts.classes.get(name) {
        Some(class) => format!(
            "storage class {name}, binding {}, provisioner {}",
            class.binding_mode, class.provisioner
        ),
        None => format!("storage class {name}, which is not on the cluster"),
    }
}

pub(super) fn persistent_volume(object: &Value, _: &Facts) -> Readiness {
    match str_at(object, &["status", "phase"]).unwrap_or("Pending") {
        "Bound" | "Available" => Readiness::Ready,
        "Failed" => {
            let why = str_at(object, &["status", "message"]).unwrap_or("reclamation failed");
            Readiness::Failed(format!("volume failed: {why}"))
        }
        "Released" => Readiness::Progressing(
            "released by its former claim: clear spec.claimRef to make it available again"
                .to_owned(),
        ),
        phase => Readiness::Progressing(format!("volume is {phase}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn facts() -> Facts {
        Facts::from_classes(&[
            serde_json::json!({"metadata": {"name": "local-path", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}),
            serde_json::json!({"metadata": {"name": "ssd"}, "provisioner": "ebs.csi.aws.com"}),
        ])
    }

    fn claim(spec: &str, phase: &str) -> Value {
        fixture(&format!(
            "
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: cnvrg}}
spec: {spec}
status: {{phase: {phase}}}
"
        ))
    }

    #[test]
    fn bound_claim_is_ready() {
        let got = readiness(&claim("{storageClassName: ssd}", "Bound"), &facts());
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn pending_claim_on_wait_for_first_consumer_class_is_ready() {
        let got = readiness(
            &claim("{storageClassName: local-path}", "Pending"),
            &facts(),
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn pending_claim_on_default_wait_for_first_consumer_class_is_ready() {
        let got = readiness(&claim("{}", "Pending"), &facts());
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn pending_claim_on_immediate_class_waits() {
        let got = readiness(&claim("{storageClassName: ssd}", "Pending"), &facts());
        assert_eq!(
            got,
            Readiness::Progressing(
                "waiting for a volume to be bound (storage class ssd, binding Immediate, \
                 provisioner ebs.csi.aws.com)"
                    .into()
            )
        );
        let missing = readiness(&claim("{storageClassName: gold}", "Pending"), &facts());
        assert_eq!(
            missing.message(),
            "waiting for a volume to be bound (storage class gold, which is not on the cluster)"
        );
        let no_class = readiness(&claim("{storageClassName: ''}", "Pending"), &facts());
        assert_eq!(
            no_class,
            Readiness::Progressing("waiting for a volume to be bound".into())
        );
    }

    #[test]
    fn lost_claim_fails() {
        let got = readiness(&claim("{volumeName: pv-1}", "Lost"), &facts());
        assert_eq!(
            got,
            Readiness::Failed(
                "claim lost: the bound PersistentVolume pv-1 no longer exists".into()
            )
        );
    }

    #[test]
    fn persistent_volume_phases() {
        let volume = |phase: &str| {
            readiness(
                &fixture(&format!(
                    "{{apiVersion: v1, kind: PersistentVolume, metadata: {{name: pv-1}}, \
                     status: {{phase: {phase}, message: disk detached}}}}"
                )),
                &Facts::default(),
            )
        };
        assert_eq!(volume("Available"), Readiness::Ready);
        assert_eq!(volume("Bound"), Readiness::Ready);
        assert_eq!(
            volume("Failed"),
            Readiness::Failed("volume failed: disk detached".into())
        );
        assert!(!volume("Released").is_ready());
    }
}
