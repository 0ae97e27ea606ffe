//! OpenShift's `restricted-v2` SCC as a pure check of a pod spec, from the
//! SCC's documented fields: no host network, PID, IPC or ports, no hostPath
//! (`allowHost*: false`); no privileged container and no privilege
//! escalation; capabilities: `requiredDropCapabilities: [ALL]`,
//! `allowedCapabilities: [NET_BIND_SERVICE]`; `runAsUser: MustRunAsRange` and
//! `fsGroup: MustRunAs` (the namespace's range, unknown before the namespace
//! exists: a fixed id is refused here); `seLinuxContext: MustRunAs` (no
//! options of one's own); `seccompProfiles: [runtime/default]`; the volume
//! types of `volumes`. Each rule is a row of [`RULES`]. `nonroot-v2` is
//! the same but for ids: `runAsUser: MustRunAsNonRoot` and `fsGroup:
//! RunAsAny` let a pod keep a fixed uid as long as it is not root
//! ([`Scc::NonrootV2`]).

use serde_json::Value;

/// The volume types restricted-v2 allows (the same as Pod Security's
/// `restricted` level).
pub const VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Fields of a volume that are not its type.
const VOLUME_FIELDS: &[&str] = &["name"];

type Check = fn(&Value) -> Vec<String>;

/// The SCCs checked here: the default one, and the one that differs from it
/// only by admitting a fixed non-root uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scc {
    RestrictedV2,
    NonrootV2,
}

/// The rules: a name (the SCC field), what breaks it, and the SCCs that have
/// the rule.
const RULES: &[(&str, Check, &[Scc])] = &[
    ("allowHostNetwork/PID/IPC", host_namespaces, BOTH),
    ("allowHostPorts", host_ports, BOTH),
    ("volumes", volumes, BOTH),
    ("allowPrivilegedContainer", privileged, BOTH),
    ("allowPrivilegeEscalation", escalation, BOTH),
    (
        "requiredDropCapabilities/allowedCapabilities",
        capabilities,
        BOTH,
    ),
    ("runAsUser/fsGroup", fixed_ids, &[Scc::RestrictedV2]),
    ("runAsUser: MustRunAsNonRoot", root_ids, &[Scc::NonrootV2]),
    ("seLinuxContext", selinux, BOTH),
    ("seccompProfiles", seccomp, BOTH),
];

const BOTH: &[Scc] = &[Scc::RestrictedV2, Scc::NonrootV2];

/// What restricted-v2 would refuse in this pod spec, one sentence per
/// violation, naming the container.
pub fn violations(pod: &Value) -> Vec<String> {
    violations_under(pod, Scc::RestrictedV2)
}

/// What `scc` would refuse in this pod spec.
pub fn violations_under(pod: &Value, scc: Scc) -> Vec<String> {
    RULES
        .iter()
        .filter(|(_, _, sccs)| sccs.contains(&scc))
        .flat_map(|(rule, check, _)| {
            check(pod)
                .into_iter()
                .map(move |what| format!("{rule}: {what}"))
        })
        .collect()
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|key| pod[key].as_array())
        .flatten()
}

fn name(container: &Value) -> &str {
    container["name"].as_str().unwrap_or("?")
}

fn host_namespaces(pod: &Value) -> Vec<String> {
    ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|field| pod[*field] == true)
        .map(|field| format!("{field}: true"))
        .collect()
}

fn host_ports(pod: &Value) -> Vec<String> {
    containers(pod)
        .flat_map(|c| {
            c["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["hostPort"].as_i64())
                .map(move |port| format!("container {} hostPort {port}", name(c)))
        })
        .collect()
}

fn volumes(pod: &Value) -> Vec<String> {
    pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let kind = v
                .as_object()?
                .keys()
                .find(|k| !VOLUME_FIELDS.contains(&k.as_str()))?;
            (!VOLUMES.contains(&kind.as_str()))
                .then(|| format!("volume {} is {kind}", v["name"].as_str().unwrap_or("?")))
        })
        .collect()
}

fn privileged(pod: &Value) -> Vec<String> {
    containers(pod)
        .filter(|c| c["securityContext"]["privileged"] == true)
        .map(|c| format!("container {} is privileged", name(c)))
        .collect()
}

fn escalation(pod: &Value) -> Vec<String> {
    containers(pod)
        .filter(|c| c["securityContext"]["allowPrivilegeEscalation"] != false)
        .map(|c| {
            format!(
                "container {} does not set allowPrivilegeEscalation: false",
                name(c)
            )
        })
        .collect()
}

fn capabilities(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in containers(pod) {
        let caps = &c["securityContext"]["capabilities"];
        let drops_all = caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            out.push(format!("container {} does not drop ALL", name(c)));
        }
        for add in caps["add"].as_array().into_iter().flatten() {
            if add != "NET_BIND_SERVICE" {
                out.push(format!(
                    "container {} adds {}",
                    name(c),
                    add.as_str().unwrap_or("?")
                ));
            }
        }
    }
    out
}

fn fixed_ids(pod: &Value) -> Vec<String> {
    let pod_level = ["runAsUser", "runAsGroup", "fsGroup"]
        .into_iter()
        .filter(|f| !pod["securityContext"][*f].is_null())
        .map(|f| format!("pod sets {f}"));
    let container_level = containers(pod).flat_map(|c| {
        ["runAsUser", "runAsGroup"]
            .into_iter()
            .filter(|f| !c["securityContext"][*f].is_null())
            .map(move |f| format!("container {} sets {f}", name(c)))
    });
    pod_level.chain(container_level).collect()
}

/// Root, or a pod that says it may run as root (nonroot-v2 requires a
/// non-zero uid and sets `runAsNonRoot` itself only when nothing says
/// otherwise).
fn root_ids(pod: &Value) -> Vec<String> {
    let pod_level = ROOT_FIELDS
        .into_iter()
        .filter(|f| is_root(&pod["securityContext"], f))
        .map(|f| format!("pod sets {f} to root"));
    let container_level = containers(pod).flat_map(|c| {
        ROOT_FIELDS
            .into_iter()
            .filter(|f| is_root(&c["securityContext"], f))
            .map(move |f| format!("container {} sets {f} to root", name(c)))
    });
    pod_level.chain(container_level).collect()
}

const ROOT_FIELDS: [&str; 2] = ["runAsUser", "runAsNonRoot"];

fn is_root(context: &Value, field: &str) -> bool {
    match field {
        "runAsUser" => context[field] == 0,
        _ => context[field] == false,
    }
}

fn selinux(pod: &Value) -> Vec<String> {
    let pod_level = (!pod["securityContext"]["seLinuxOptions"].is_null())
        .then(|| "pod sets seLinuxOptions".to_owned());
    pod_level
        .into_iter()
        .chain(
            containers(pod)
                .filter(|c| !c["securityContext"]["seLinuxOptions"].is_null())
                .map(|c| format!("container {} sets seLinuxOptions", name(c))),
        )
        .collect()
}

fn seccomp(pod: &Value) -> Vec<String> {
    let pod_type = pod["securityContext"]["seccompProfile"]["type"].as_str();
    containers(pod)
        .filter_map(|c| {
            let own = c["securityContext"]["seccompProfile"]["type"].as_str();
            match own.or(pod_type) {
                Some("RuntimeDefault") => None,
                Some(other) => Some(format!("container {} has seccomp profile {other}", name(c))),
                None => Some(format!(
                    "container {} has no seccomp profile (RuntimeDefault)",
                    name(c)
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}, {"name": "tmp", "emptyDir": {}}],
        })
    }

    #[test]
    fn a_restricted_pod_passes() {
        assert_eq!(violations(&good()), Vec::<String>::new());
    }

    #[test]
    fn every_rule_names_what_breaks_it() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "/hostNetwork",
                json!(true),
                "allowHostNetwork/PID/IPC: hostNetwork: true",
            ),
            (
                "/containers/0/ports",
                json!([{"containerPort": 9100, "hostPort": 9100}]),
                "allowHostPorts: container app hostPort 9100",
            ),
            (
                "/volumes/0",
                json!({"name": "root", "hostPath": {"path": "/"}}),
                "volumes: volume root is hostPath",
            ),
            (
                "/containers/0/securityContext/privileged",
                json!(true),
                "allowPrivilegedContainer: container app is privileged",
            ),
            (
                "/containers/0/securityContext/allowPrivilegeEscalation",
                json!(true),
                "allowPrivilegeEscalation: container app does not set allowPrivilegeEscalation: false",
            ),
            (
                "/containers/0/securityContext/capabilities",
                json!({"add": ["SYS_ADMIN"]}),
                "requiredDropCapabilities/allowedCapabilities: container app does not drop ALL",
            ),
            (
                "/securityContext/fsGroup",
                json!(1000),
                "runAsUser/fsGroup: pod sets fsGroup",
            ),
            (
                "/containers/0/securityContext/seLinuxOptions",
                json!({"level": "s0:c1"}),
                "seLinuxContext: container app sets seLinuxOptions",
            ),
            (
                "/securityContext/seccompProfile",
                json!({"type": "Unconfined"}),
                "seccompProfiles: container app has seccomp profile Unconfined",
            ),
        ];
        for (path, value, expected) in cases {
            let mut pod = good();
            let (parent, key) = path.rsplit_once('/').unwrap();
            let target = if parent.is_empty() {
                &mut pod
            } else {
                pod.pointer_mut(parent).unwrap()
            };
            match target {
                Value::Array(items) => items[key.parse::<usize>().unwrap()] = value.clone(),
                other => other[key] = value.clone(),
            }
            let got = violations(&pod);
            assert!(got.contains(&expected.to_string()), "{path}: {got:?}");
        }
    }

    #[test]
    fn nonroot_v2_admits_a_fixed_non_root_uid_and_nothing_else_more() {
        let mut pod = good();
        pod["securityContext"]["runAsUser"] = json!(1000);
        pod["securityContext"]["fsGroup"] = json!(1000);
        assert_eq!(violations(&pod).len(), 2);
        assert_eq!(violations_under(&pod, Scc::NonrootV2), Vec::<String>::new());
        pod["containers"][0]["securityContext"]["runAsUser"] = json!(0);
        pod["hostNetwork"] = json!(true);
        assert_eq!(
            violations_under(&pod, Scc::NonrootV2),
            [
                "allowHostNetwork/PID/IPC: hostNetwork: true",
                "runAsUser: MustRunAsNonRoot: container app sets runAsUser to root"
            ]
        );
    }
}
