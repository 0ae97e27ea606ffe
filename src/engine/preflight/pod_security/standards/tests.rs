//! Every control with a pod that passes it and one that breaks it.

use serde_json::{Value, json};

use super::*;

/// A pod that meets `restricted`: every control passes.
fn good() -> Value {
    json!({
        "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1001,
                "seccompProfile": {"type": "RuntimeDefault"},
                "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}]},
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "config", "configMap": {"name": "c"}}],
            "initContainers": [container("init")],
            "containers": [container("app")],
        }
    })
}

fn container(name: &str) -> Value {
    json!({"name": name, "ports": [{"containerPort": 8080}],
        "securityContext": {"allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "seLinuxOptions": {"type": "container_t"}, "procMount": "Default"}})
}

fn check(pod: &Value, level: Level) -> Vec<String> {
    violations(
        Pod {
            metadata: &pod["metadata"],
            spec: &pod["spec"],
        },
        level,
        None,
    )
}

/// (control, level, a change to the good pod that breaks it, the violation).
type Case = (&'static str, Level, fn(&mut Value), &'static str);

const CASES: &[Case] = &[
    (
        "hostProcess",
        Level::Baseline,
        |p| {
            p["spec"]["containers"][0]["securityContext"]["windowsOptions"] =
                json!({"hostProcess": true})
        },
        "hostProcess = true (container app)",
    ),
    (
        "host namespaces",
        Level::Baseline,
        |p| p["spec"]["hostNetwork"] = true.into(),
        "host namespaces (hostNetwork=true)",
    ),
    (
        "privileged",
        Level::Baseline,
        |p| p["spec"]["initContainers"][0]["securityContext"]["privileged"] = true.into(),
        "privileged = true (container init)",
    ),
    (
        "capabilities",
        Level::Baseline,
        |p| {
            p["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
                json!(["NET_ADMIN"])
        },
        "capabilities beyond the default set added (container app)",
    ),
    (
        "hostPath volumes",
        Level::Baseline,
        |p| p["spec"]["volumes"][0] = json!({"name": "logs", "hostPath": {"path": "/var/log"}}),
        "hostPath volumes (logs)",
    ),
    (
        "hostPorts",
        Level::Baseline,
        |p| p["spec"]["containers"][0]["ports"][0]["hostPort"] = 80.into(),
        "hostPorts set (container app)",
    ),
    (
        "appArmor",
        Level::Baseline,
        |p| p["spec"]["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"}),
        "appArmor Unconfined (pod)",
    ),
    (
        "seLinuxOptions",
        Level::Baseline,
        |p| {
            p["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] =
                json!({"user": "root"})
        },
        "seLinuxOptions set (container app)",
    ),
    (
        "procMount",
        Level::Baseline,
        |p| p["spec"]["containers"][0]["securityContext"]["procMount"] = "Unmasked".into(),
        "procMount not Default (container app)",
    ),
    (
        "seccompProfile",
        Level::Baseline,
        |p| p["spec"]["securityContext"]["seccompProfile"]["type"] = "Unconfined".into(),
        "seccompProfile Unconfined (pod)",
    ),
    (
        "sysctls",
        Level::Baseline,
        |p| {
            p["spec"]["securityContext"]["sysctls"] =
                json!([{"name": "kernel.msgmax", "value": "1"}])
        },
        "sysctls forbidden (kernel.msgmax)",
    ),
    (
        "volume types",
        Level::Restricted,
        |p| p["spec"]["volumes"][1] = json!({"name": "share", "nfs": {"server": "x", "path": "/"}}),
        "volume types not allowed (share: nfs)",
    ),
    (
        "allowPrivilegeEscalation",
        Level::Restricted,
        |p| {
            p["spec"]["containers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("allowPrivilegeEscalation");
        },
        "allowPrivilegeEscalation != false (container app)",
    ),
    (
        "runAsNonRoot",
        Level::Restricted,
        |p| {
            p["spec"]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("runAsNonRoot");
        },
        "runAsNonRoot != true (pod, or containers init, app)",
    ),
    (
        "runAsUser",
        Level::Restricted,
        |p| p["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0.into(),
        "runAsUser = 0 (container app)",
    ),
    (
        "seccompProfile",
        Level::Restricted,
        |p| {
            p["spec"]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("seccompProfile");
        },
        "seccompProfile not RuntimeDefault or Localhost (containers init, app)",
    ),
    (
        "capabilities",
        Level::Restricted,
        |p| {
            p["spec"]["containers"][0]["securityContext"]["capabilities"] =
                json!({"drop": ["NET_RAW"]})
        },
        "capabilities not drop ALL, add at most NET_BIND_SERVICE (container app)",
    ),
];

#[test]
fn the_good_pod_meets_every_control() {
    assert_eq!(check(&good(), Level::Restricted), Vec::<String>::new());
}

#[test]
fn every_control_has_a_case_and_each_case_breaks_only_its_control() {
    for c in CONTROLS {
        assert!(
            CASES
                .iter()
                .any(|(name, level, ..)| *name == c.name && *level == c.level),
            "no case for {} ({:?})",
            c.name,
            c.level
        );
    }
    for (name, level, breaks, expected) in CASES {
        let mut pod = good();
        breaks(&mut pod);
        assert_eq!(check(&pod, *level), [*expected], "{name}");
        if *level == Level::Restricted {
            assert!(
                check(&pod, Level::Baseline).is_empty(),
                "{name}: baseline admits it"
            );
        }
        assert!(
            check(&pod, Level::Privileged).is_empty(),
            "{name}: privileged admits all"
        );
    }
}

#[test]
fn a_pinned_version_skips_controls_added_later() {
    let mut pod = good();
    pod["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0.into();
    let p = Pod {
        metadata: &pod["metadata"],
        spec: &pod["spec"],
    };
    assert!(violations(p, Level::Restricted, Some(22)).is_empty());
    assert_eq!(violations(p, Level::Restricted, Some(23)).len(), 1);
}

#[test]
fn windows_pods_are_exempt_from_the_linux_only_controls() {
    let pod = json!({"metadata": {}, "spec": {"os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "app"}]}});
    assert!(check(&pod, Level::Restricted).is_empty());
}
