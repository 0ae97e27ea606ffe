//! Config-change rollouts: every Deployment, StatefulSet and DaemonSet gets a
//! pod-template annotation with a checksum of the rendered ConfigMaps and
//! Secrets its pods read (volumes, `env`, `envFrom`), so changing one of them
//! rolls the pods. Generated Secret keys count with their placeholder: filling
//! them in on apply never rolls anything. Pure.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::pipeline::manifest::Manifest;

/// The pod-template annotation that carries the checksum.
pub const CONFIG_CHECKSUM: &str = "cnvrgctl.io/config-checksum";

/// Kinds whose pod template may change in place.
const ROLLING_KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// Adds [`CONFIG_CHECKSUM`] to the pod template of every rolling workload that
/// reads at least one rendered ConfigMap or Secret.
pub fn annotate(manifests: &mut [Manifest]) {
    let mut digests: HashMap<(String, &'static str, String), String> = HashMap::new();
    for m in manifests.iter() {
        let kind = match m.kind() {
            "ConfigMap" => "ConfigMap",
            "Secret" => "Secret",
            _ => continue,
        };
        let mut h = Sha256::new();
        for field in ["data", "stringData", "binaryData"] {
            h.update(field.as_bytes());
            h.update(m.object[field].to_string().as_bytes());
        }
        let key = (
            m.namespace().unwrap_or_default().to_string(),
            kind,
            m.name().to_string(),
        );
        digests.insert(key, hex(&h.finalize()));
    }
    for m in manifests.iter_mut() {
        if !ROLLING_KINDS.contains(&m.kind()) {
            continue;
        }
        let namespace = m.namespace().unwrap_or_default().to_string();
        let Some(pod) = m.object.pointer("/spec/template/spec") else {
            continue;
        };
        let mut h = Sha256::new();
        let mut any = false;
        for (kind, name) in references(pod) {
            if let Some(d) = digests.get(&(namespace.clone(), kind, name.clone())) {
                h.update(format!("{kind}/{name}={d}\n").as_bytes());
                any = true;
            }
        }
        if !any {
            continue;
        }
        let sum = Value::String(hex(&h.finalize()));
        // Labels were added first, so the pod template has its metadata.
        if let Some(meta) = m.object["spec"]["template"]["metadata"].as_object_mut()
            && let Some(annotations) = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()))
                .as_object_mut()
        {
            annotations.insert(CONFIG_CHECKSUM.into(), sum);
        }
    }
}

/// The ConfigMaps and Secrets a pod spec reads, sorted (image pull secrets
/// are not config and do not count).
fn references(pod: &Value) -> BTreeSet<(&'static str, String)> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &'static str, name: &Value| {
        if let Some(n) = name.as_str() {
            out.insert((kind, n.to_string()));
        }
    };
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        add("ConfigMap", &volume["configMap"]["name"]);
        add("Secret", &volume["secret"]["secretName"]);
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            add("ConfigMap", &source["configMap"]["name"]);
            add("Secret", &source["secret"]["name"]);
        }
    }
    for list in ["containers", "initContainers"] {
        for c in pod[list].as_array().into_iter().flatten() {
            for env in c["env"].as_array().into_iter().flatten() {
                add("ConfigMap", &env["valueFrom"]["configMapKeyRef"]["name"]);
                add("Secret", &env["valueFrom"]["secretKeyRef"]["name"]);
            }
            for from in c["envFrom"].as_array().into_iter().flatten() {
                add("ConfigMap", &from["configMapRef"]["name"]);
                add("Secret", &from["secretRef"]["name"]);
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
