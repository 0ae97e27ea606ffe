//! What the apiserver adds or refuses on every write, beyond apply itself:
//! the defaulting real clusters do and clients trip on (Service cluster IPs,
//! Namespace phase and finalizers, Secret `stringData`, workload strategies,
//! Job selectors and labels) and the immutable fields (Job template,
//! StatefulSet selector and claim templates, Deployment selector). Pure: the
//! caller supplies fresh cluster IPs.

use base64::Engine;
use serde_json::{Value, json};

fn set_default(v: &mut Value, key: &str, default: Value) {
    if let Some(m) = v.as_object_mut() {
        if m.get(key).is_none_or(Value::is_null) {
            m.insert(key.to_string(), default);
        }
    }
}

fn obj<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    set_default(v, key, json!({}));
    &mut v[key]
}

/// Fills in defaults on a new or updated object. `next_ip` allocates a cluster IP.
pub fn apply(
    group: &str,
    kind: &str,
    o: &mut Value,
    old: Option<&Value>,
    next_ip: &mut dyn FnMut() -> String,
) {
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match (group, kind) {
        ("", "Namespace") => {
            let labels = obj(obj(o, "metadata"), "labels");
            labels["kubernetes.io/metadata.name"] = json!(name);
            set_default(obj(o, "spec"), "finalizers", json!(["kubernetes"]));
            set_default(obj(o, "status"), "phase", json!("Active"));
        }
        ("", "Service") => {
            let spec = obj(o, "spec");
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            if spec["type"] != "ExternalName" {
                if spec.get("clusterIP").is_none_or(|v| v.is_null() || v == "") {
                    let ip = old
                        .and_then(|o| o["spec"]["clusterIP"].as_str())
                        .map(str::to_string)
                        .unwrap_or_else(&mut *next_ip);
                    spec["clusterIP"] = json!(ip);
                }
                let ip = spec["clusterIP"].clone();
                set_default(spec, "clusterIPs", json!([ip]));
                set_default(spec, "ipFamilies", json!(["IPv4"]));
                set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            for p in spec["ports"].as_array_mut().into_iter().flatten() {
                set_default(p, "protocol", json!("TCP"));
                let port = p["port"].clone();
                set_default(p, "targetPort", port);
            }
        }
        ("", "Secret") => {
            if let Some(Value::Object(sd)) = o.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                let data = obj(o, "data");
                for (k, v) in sd {
                    let s = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    data[k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
                }
            }
            set_default(o, "type", json!("Opaque"));
        }
        ("", "PersistentVolumeClaim") => {
            set_default(obj(o, "spec"), "volumeMode", json!("Filesystem"));
            set_default(obj(o, "status"), "phase", json!("Pending"));
        }
        ("", "Pod") => {
            set_default(obj(o, "status"), "phase", json!("Pending"));
        }
        ("apps", "Deployment") => {
            let spec = obj(o, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
        }
        ("apps", "StatefulSet") => {
            let spec = obj(o, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            set_default(spec, "revisionHistoryLimit", json!(10));
        }
        ("apps", "DaemonSet") => {
            let spec = obj(o, "spec");
            set_default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
            );
            set_default(spec, "revisionHistoryLimit", json!(10));
        }
        ("batch", "Job") => {
            let uid = o["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let spec = obj(o, "spec");
            set_default(spec, "backoffLimit", json!(6));
            set_default(spec, "completions", json!(1));
            set_default(spec, "parallelism", json!(1));
            set_default(spec, "completionMode", json!("NonIndexed"));
            set_default(spec, "suspend", json!(false));
            if spec["manualSelector"] != true {
                set_default(
                    spec,
                    "selector",
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
                );
                let labels = obj(obj(obj(spec, "template"), "metadata"), "labels");
                for (k, v) in [
                    ("batch.kubernetes.io/controller-uid", &uid),
                    ("batch.kubernetes.io/job-name", &name),
                    ("controller-uid", &uid),
                    ("job-name", &name),
                ] {
                    set_default(labels, k, json!(v));
                }
            }
        }
        _ => {}
    }
}

/// Field-level validation of an update: immutable fields. Returns `(field, message)` causes.
pub fn validate(
    group: &str,
    kind: &str,
    new: &Value,
    old: Option<&Value>,
) -> Vec<(String, String)> {
    let Some(old) = old else { return vec![] };
    let immutable = |path: &[&str]| -> Option<(String, String)> {
        fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
            path.iter().fold(v, |v, k| &v[*k])
        }
        let (a, b) = (at(old, path), at(new, path));
        (a != b).then(|| {
            (
                path.join("."),
                format!("Invalid value: {b}: field is immutable"),
            )
        })
    };
    let mut causes = vec![];
    match (group, kind) {
        ("batch", "Job") => {
            causes.extend(immutable(&["spec", "template"]));
            causes.extend(immutable(&["spec", "selector"]));
        }
        ("apps", "StatefulSet") => {
            causes.extend(immutable(&["spec", "selector"]));
            causes.extend(immutable(&["spec", "volumeClaimTemplates"]));
            causes.extend(immutable(&["spec", "serviceName"]));
            causes.extend(immutable(&["spec", "podManagementPolicy"]));
        }
        ("apps", "Deployment") | ("apps", "DaemonSet") | ("apps", "ReplicaSet") => {
            causes.extend(immutable(&["spec", "selector"]));
        }
        _ => {}
    }
    causes
}
