//! The Pod Security Standards (kubernetes.io, "Pod Security Standards") as
//! data: each control with its level, its name, the Kubernetes minor version
//! that introduced it, and a check over a pod template that returns what
//! breaks it. What Pod Security admission does with a namespace's `enforce`
//! label, without the cluster. Pure.

use serde_json::Value;

// Volume sources `restricted` allows: those of OpenShift's restricted-v2.
use crate::pipeline::platform::restricted::VOLUMES as RESTRICTED_VOLUMES;

/// A Pod Security level; each admits less than the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn parse(label: &str) -> Option<Level> {
        match label {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// A pod template: its metadata (annotations) and its spec.
#[derive(Clone, Copy)]
pub struct Pod<'a> {
    pub metadata: &'a Value,
    pub spec: &'a Value,
}

/// One control: the level that enforces it, its name, the first Kubernetes
/// 1.x minor version that checks it, and what in a pod breaks it.
struct Control {
    level: Level,
    name: &'static str,
    since: u32,
    check: fn(Pod) -> Option<String>,
}

const CONTROLS: &[Control] = &[
    control(Level::Baseline, "hostProcess", 0, host_process),
    control(Level::Baseline, "host namespaces", 0, host_namespaces),
    control(Level::Baseline, "privileged", 0, privileged),
    control(Level::Baseline, "capabilities", 0, added_capabilities),
    control(Level::Baseline, "hostPath volumes", 0, host_path_volumes),
    control(Level::Baseline, "hostPorts", 0, host_ports),
    control(Level::Baseline, "appArmor", 0, app_armor),
    control(Level::Baseline, "seLinuxOptions", 0, se_linux_options),
    control(Level::Baseline, "procMount", 0, proc_mount),
    control(Level::Baseline, "seccompProfile", 19, seccomp_unconfined),
    control(Level::Baseline, "sysctls", 0, sysctls),
    control(Level::Restricted, "volume types", 0, volume_types),
    control(
        Level::Restricted,
        "allowPrivilegeEscalation",
        8,
        privilege_escalation,
    ),
    control(Level::Restricted, "runAsNonRoot", 0, run_as_non_root),
    control(Level::Restricted, "runAsUser", 23, run_as_user),
    control(Level::Restricted, "seccompProfile", 19, seccomp_required),
    control(Level::Restricted, "capabilities", 22, dropped_capabilities),
];

const fn control(
    level: Level,
    name: &'static str,
    since: u32,
    check: fn(Pod) -> Option<String>,
) -> Control {
    Control {
        level,
        name,
        since,
        check,
    }
}

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

/// Sysctls `baseline` allows (the safe set, as of v1.29).
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

/// SELinux types `baseline` allows.
const SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// What `pod` breaks at `level` as of Kubernetes 1.`version` (`None`:
/// latest): one sentence per control, naming it and the containers.
pub fn violations(pod: Pod, level: Level, version: Option<u32>) -> Vec<String> {
    CONTROLS
        .iter()
        .filter(|c| c.level <= level && version.is_none_or(|v| c.since <= v))
        .filter_map(|c| (c.check)(pod).map(|why| format!("{} {why}", c.name)))
        .collect()
}

/// Every container of the pod (init and ephemeral too), with its name.
fn containers<'a>(pod: Pod<'a>) -> impl Iterator<Item = (&'a str, &'a Value)> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |list| pod.spec[list].as_array().into_iter().flatten())
        .map(|c| (c["name"].as_str().unwrap_or("?"), c))
}

/// `container a` or `containers a, b`: those for which `bad` holds, or
/// `None`.
fn offending(pod: Pod, bad: impl Fn(&Value) -> bool) -> Option<String> {
    let names: Vec<&str> = containers(pod)
        .filter(|(_, c)| bad(c))
        .map(|(name, _)| name)
        .collect();
    match names.as_slice() {
        [] => None,
        [one] => Some(format!("container {one}")),
        many => Some(format!("containers {}", many.join(", "))),
    }
}

fn windows(pod: Pod) -> bool {
    pod.spec["os"]["name"] == "windows"
}

fn host_process(pod: Pod) -> Option<String> {
    let on = |sc: &Value| sc["windowsOptions"]["hostProcess"] == true;
    if on(&pod.spec["securityContext"]) {
        return Some("= true (pod)".into());
    }
    offending(pod, |c| on(&c["securityContext"])).map(|who| format!("= true ({who})"))
}

fn host_namespaces(pod: Pod) -> Option<String> {
    let on: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .iter()
        .filter(|f| pod.spec[**f] == true)
        .map(|f| format!("{f}=true"))
        .collect();
    (!on.is_empty()).then(|| format!("({})", on.join(", ")))
}

fn privileged(pod: Pod) -> Option<String> {
    offending(pod, |c| c["securityContext"]["privileged"] == true)
        .map(|who| format!("= true ({who})"))
}

fn capability_list<'a>(c: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    c["securityContext"]["capabilities"][field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn added_capabilities(pod: Pod) -> Option<String> {
    offending(pod, |c| {
        capability_list(c, "add").any(|cap| !BASELINE_CAPABILITIES.contains(&cap))
    })
    .map(|who| format!("beyond the default set added ({who})"))
}

fn volumes<'a>(
    pod: Pod<'a>,
) -> impl Iterator<Item = (&'a str, &'a serde_json::Map<String, Value>)> {
    pod.spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["name"].as_str().unwrap_or("?"), v.as_object()?)))
}

fn host_path_volumes(pod: Pod) -> Option<String> {
    let names: Vec<&str> = volumes(pod)
        .filter(|(_, v)| v.contains_key("hostPath"))
        .map(|(name, _)| name)
        .collect();
    (!names.is_empty()).then(|| format!("({})", names.join(", ")))
}

fn host_ports(pod: Pod) -> Option<String> {
    offending(pod, |c| {
        c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["hostPort"].as_i64().is_some_and(|port| port != 0))
    })
    .map(|who| format!("set ({who})"))
}

fn app_armor(pod: Pod) -> Option<String> {
    let unconfined = |sc: &Value| sc["appArmorProfile"]["type"] == "Unconfined";
    let annotated = pod.metadata["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| {
            k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && !v
                    .as_str()
                    .is_some_and(|v| v == "runtime/default" || v.starts_with("localhost/"))
        });
    if annotated || unconfined(&pod.spec["securityContext"]) {
        return Some("Unconfined (pod)".into());
    }
    offending(pod, |c| unconfined(&c["securityContext"])).map(|who| format!("Unconfined ({who})"))
}

fn se_linux_options(pod: Pod) -> Option<String> {
    let bad = |sc: &Value| {
        let o = &sc["seLinuxOptions"];
        o["type"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && !SELINUX_TYPES.contains(&t))
            || o["user"].as_str().is_some_and(|u| !u.is_empty())
            || o["role"].as_str().is_some_and(|r| !r.is_empty())
    };
    if bad(&pod.spec["securityContext"]) {
        return Some("set (pod)".into());
    }
    offending(pod, |c| bad(&c["securityContext"])).map(|who| format!("set ({who})"))
}

fn proc_mount(pod: Pod) -> Option<String> {
    offending(pod, |c| {
        c["securityContext"]["procMount"]
            .as_str()
            .is_some_and(|m| m != "Default")
    })
    .map(|who| format!("not Default ({who})"))
}

fn seccomp_unconfined(pod: Pod) -> Option<String> {
    let unconfined = |sc: &Value| sc["seccompProfile"]["type"] == "Unconfined";
    if unconfined(&pod.spec["securityContext"]) {
        return Some("Unconfined (pod)".into());
    }
    offending(pod, |c| unconfined(&c["securityContext"])).map(|who| format!("Unconfined ({who})"))
}

fn sysctls(pod: Pod) -> Option<String> {
    let forbidden: Vec<&str> = pod.spec["securityContext"]["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .filter(|name| !SAFE_SYSCTLS.contains(name))
        .collect();
    (!forbidden.is_empty()).then(|| format!("forbidden ({})", forbidden.join(", ")))
}

fn volume_types(pod: Pod) -> Option<String> {
    let bad: Vec<String> = volumes(pod)
        .filter_map(|(name, v)| {
            let source = v.keys().find(|k| *k != "name")?;
            (!RESTRICTED_VOLUMES.contains(&source.as_str())).then(|| format!("{name}: {source}"))
        })
        .collect();
    (!bad.is_empty()).then(|| format!("not allowed ({})", bad.join(", ")))
}

fn privilege_escalation(pod: Pod) -> Option<String> {
    if windows(pod) {
        return None;
    }
    offending(pod, |c| {
        c["securityContext"]["allowPrivilegeEscalation"] != false
    })
    .map(|who| format!("!= false ({who})"))
}

fn run_as_non_root(pod: Pod) -> Option<String> {
    let pod_level = pod.spec["securityContext"]["runAsNonRoot"] == true;
    let explicit_false = offending(pod, |c| c["securityContext"]["runAsNonRoot"] == false);
    if let Some(who) = explicit_false {
        return Some(format!("= false ({who})"));
    }
    if pod_level {
        return None;
    }
    offending(pod, |c| c["securityContext"]["runAsNonRoot"] != true)
        .map(|who| format!("!= true (pod, or {who})"))
}

fn run_as_user(pod: Pod) -> Option<String> {
    if pod.spec["securityContext"]["runAsUser"] == 0 {
        return Some("= 0 (pod)".into());
    }
    offending(pod, |c| c["securityContext"]["runAsUser"] == 0).map(|who| format!("= 0 ({who})"))
}

fn seccomp_required(pod: Pod) -> Option<String> {
    if windows(pod) {
        return None;
    }
    let allowed = |sc: &Value| {
        matches!(
            sc["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault" | "Localhost")
        )
    };
    let pod_set = allowed(&pod.spec["securityContext"]);
    offending(pod, |c| {
        let sc = &c["securityContext"];
        match sc["seccompProfile"]["type"].as_str() {
            None => !pod_set,
            Some(_) => !allowed(sc),
        }
    })
    .map(|who| format!("not RuntimeDefault or Localhost ({who})"))
}

fn dropped_capabilities(pod: Pod) -> Option<String> {
    if windows(pod) {
        return None;
    }
    offending(pod, |c| {
        !capability_list(c, "drop").any(|cap| cap == "ALL")
            || capability_list(c, "add").any(|cap| cap != "NET_BIND_SERVICE")
    })
    .map(|who| format!("not drop ALL, add at most NET_BIND_SERVICE ({who})"))
}

#[cfg(test)]
mod tests;
