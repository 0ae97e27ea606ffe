//! The Pod Security admission rules (`baseline`, `restricted`; Kubernetes
//! v1.33) as a checker over pod specs, for the namespaces' levels.

use serde_json::Value;

/// Volume types the `restricted` level admits.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Capabilities `baseline` lets a container add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls `baseline` allows.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// What the Pod Security `level` (`baseline` or `restricted`, the
/// Kubernetes v1.33 rules) finds wrong with a pod spec.
pub(super) fn pod_security_violations(pod: &Value, level: &str) -> Vec<String> {
    let mut out = Vec::new();
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[host] == true {
            out.push(host.to_string());
        }
    }
    let psc = &pod["securityContext"];
    for s in psc["sysctls"].as_array().into_iter().flatten() {
        if !SAFE_SYSCTLS.contains(&s["name"].as_str().unwrap()) {
            out.push(format!("sysctl {}", s["name"]));
        }
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        if v.get("hostPath").is_some() {
            out.push("hostPath volume".into());
        }
        if level == "restricted" {
            let kind = v
                .as_object()
                .unwrap()
                .keys()
                .find(|k| *k != "name")
                .unwrap();
            if !RESTRICTED_VOLUMES.contains(&kind.as_str()) {
                out.push(format!("volume type {kind}"));
            }
        }
    }
    let pod_seccomp = psc["seccompProfile"]["type"].as_str();
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in pod[key].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap();
            let sc = &c["securityContext"];
            let mut bad = |what: &str| out.push(format!("container {name}: {what}"));
            if sc["privileged"] == true {
                bad("privileged");
            }
            if sc["procMount"].as_str().is_some_and(|p| p != "Default") {
                bad("procMount");
            }
            for p in c["ports"].as_array().into_iter().flatten() {
                if p["hostPort"].as_u64().unwrap_or(0) != 0 {
                    bad("hostPort");
                }
            }
            let seccomp = sc["seccompProfile"]["type"].as_str().or(pod_seccomp);
            if seccomp == Some("Unconfined") {
                bad("seccomp Unconfined");
            }
            let added: Vec<&str> = sc["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for cap in &added {
                if !BASELINE_CAPABILITIES.contains(cap) {
                    bad(&format!("adds {cap}"));
                }
            }
            if level != "restricted" {
                continue;
            }
            if sc["allowPrivilegeEscalation"] != false {
                bad("allowPrivilegeEscalation is not false");
            }
            let dropped = sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|c| c == "ALL"));
            if !dropped {
                bad("does not drop ALL capabilities");
            }
            if added.iter().any(|c| *c != "NET_BIND_SERVICE") {
                bad("adds a capability other than NET_BIND_SERVICE");
            }
            let non_root = sc["runAsNonRoot"]
                .as_bool()
                .or(psc["runAsNonRoot"].as_bool());
            if non_root != Some(true) {
                bad("runAsNonRoot is not true");
            }
            let uid = sc["runAsUser"].as_u64().or(psc["runAsUser"].as_u64());
            if uid == Some(0) {
                bad("runAsUser 0");
            }
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                bad("no RuntimeDefault or Localhost seccomp profile");
            }
        }
    }
    out
}
