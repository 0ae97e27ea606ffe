//! NetworkPolicy enforcement: tenant isolation and the infra namespace's
//! default deny are NetworkPolicies, which the API server stores whatever the
//! cluster does with them; only the network plugin enforces them, and some
//! (flannel alone, the EKS VPC CNI with its policy agent off, a GKE cluster
//! without Dataplane V2 or network policy) do not. The plugins show as
//! DaemonSets: [`ENFORCERS`] names the ones that enforce, and the fix says
//! how to turn enforcement on for the spec's platform. A cluster without a
//! known enforcer is a warning, not a failure: an unknown plugin may enforce.

use serde_json::Value;

use super::{Context, Read, Row};
use crate::pipeline::spec::Platform;

const CHECK: &str = "network-policy";

/// A DaemonSet that enforces NetworkPolicy: its name, and when more than
/// its presence is needed, what must hold of it.
struct Enforcer {
    daemonset: &'static str,
    what: &'static str,
    enforces: fn(&Value) -> bool,
}

const ENFORCERS: &[Enforcer] = &[
    Enforcer {
        daemonset: "calico-node",
        what: "Calico",
        enforces: always,
    },
    Enforcer {
        daemonset: "canal",
        what: "Canal (Calico's policy engine)",
        enforces: always,
    },
    Enforcer {
        daemonset: "cilium",
        what: "Cilium",
        enforces: always,
    },
    Enforcer {
        daemonset: "anetd",
        what: "GKE Dataplane V2",
        enforces: always,
    },
    Enforcer {
        daemonset: "azure-npm",
        what: "Azure Network Policy Manager",
        enforces: always,
    },
    Enforcer {
        daemonset: "aws-node",
        what: "the Amazon VPC CNI's network policy agent",
        enforces: eks_policy_agent_on,
    },
    Enforcer {
        daemonset: "antrea-agent",
        what: "Antrea",
        enforces: always,
    },
    Enforcer {
        daemonset: "kube-router",
        what: "kube-router",
        enforces: always,
    },
    Enforcer {
        daemonset: "weave-net",
        what: "Weave Net",
        enforces: always,
    },
    Enforcer {
        daemonset: "kube-network-policies",
        what: "kube-network-policies (kind v0.24 and later)",
        enforces: always,
    },
    Enforcer {
        daemonset: "ovnkube-node",
        what: "OVN-Kubernetes",
        enforces: always,
    },
];

/// How to turn enforcement on, per platform.
const FIXES: &[(Platform, &str)] = &[
    (
        Platform::Eks,
        "turn on the Amazon VPC CNI add-on's network policy agent (configuration `enableNetworkPolicy: \"true\"`, VPC CNI 1.14 or later), or install Calico or Cilium",
    ),
    (
        Platform::Gke,
        "use GKE Dataplane V2, or turn on network policy enforcement (`gcloud container clusters update CLUSTER --enable-network-policy`)",
    ),
    (
        Platform::Aks,
        "AKS chooses its network policy engine when the cluster is created (`az aks create --network-policy azure|calico|cilium`)",
    ),
    (
        Platform::Openshift,
        "OpenShift's OVN-Kubernetes enforces NetworkPolicy: check the cluster network's type (`oc get network.config cluster`)",
    ),
    (
        Platform::Generic,
        "install a network plugin that enforces NetworkPolicy (Calico, Cilium, Antrea, kube-router), or on kind use v0.24 or later with its default network",
    ),
];

fn always(_: &Value) -> bool {
    true
}

/// The VPC CNI ships its policy agent (container `aws-eks-nodeagent`) off
/// unless `--enable-network-policy=true`.
fn eks_policy_agent_on(daemonset: &Value) -> bool {
    daemonset["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == "aws-eks-nodeagent")
        .flat_map(|c| c["args"].as_array().into_iter().flatten())
        .any(|arg| arg == "--enable-network-policy=true")
}

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let policies = cx
        .manifests
        .iter()
        .filter(|m| m.kind() == "NetworkPolicy")
        .count();
    if policies == 0 {
        return Vec::new();
    }
    let daemonsets = match cx.list("apps/v1", "DaemonSet", None).await {
        Read::Found(list) => list,
        Read::NotServed => return Vec::new(),
        Read::Refused(reason) => return vec![Row::refused(CHECK, "daemonsets", &reason)],
    };
    vec![judge(&daemonsets, policies, cx.spec.cluster.platform)]
}

/// The row: the enforcers found, or a warning with the platform's fix.
fn judge(daemonsets: &[Value], policies: usize, platform: Platform) -> Row {
    let found: Vec<String> = daemonsets
        .iter()
        .filter_map(|ds| {
            let name = ds["metadata"]["name"].as_str()?;
            let enforcer = ENFORCERS.iter().find(|e| e.daemonset == name)?;
            (enforcer.enforces)(ds).then(|| {
                let namespace = ds["metadata"]["namespace"].as_str().unwrap_or("-");
                format!("{} (DaemonSet {namespace}/{name})", enforcer.what)
            })
        })
        .collect();
    if found.is_empty() {
        let fix = FIXES
            .iter()
            .find(|(p, _)| *p == platform)
            .map_or(FIXES[FIXES.len() - 1].1, |(_, fix)| *fix);
        return Row::warn(
            CHECK,
            "-",
            format!(
                "no known NetworkPolicy enforcer runs here: the render's {policies} NetworkPolicies (tenant isolation, the infra namespace's default deny) would be stored but may not be enforced"
            ),
            fix,
        );
    }
    Row::pass(
        CHECK,
        "-",
        format!(
            "{policies} NetworkPolicies, enforced by {}",
            found.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;
    use serde_json::json;

    fn daemonset(namespace: &str, name: &str, containers: Value) -> Value {
        json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": {"containers": containers}}},
        })
    }

    #[test]
    fn a_known_enforcer_passes_and_names_itself() {
        let row = judge(
            &[
                daemonset("kube-system", "kube-proxy", json!([])),
                daemonset("calico-system", "calico-node", json!([])),
            ],
            12,
            Platform::Generic,
        );
        assert_eq!(row.level, Level::Pass);
        assert_eq!(
            row.detail,
            "12 NetworkPolicies, enforced by Calico (DaemonSet calico-system/calico-node)"
        );
    }

    #[test]
    fn the_vpc_cni_enforces_only_with_its_policy_agent_on() {
        let aws_node = |flag: &str| {
            daemonset(
                "kube-system",
                "aws-node",
                json!([{"name": "aws-node"}, {"name": "aws-eks-nodeagent", "args": [flag]}]),
            )
        };
        let off = judge(
            &[aws_node("--enable-network-policy=false")],
            3,
            Platform::Eks,
        );
        assert_eq!(off.level, Level::Warn);
        assert!(
            off.fix.as_deref().unwrap().contains("enableNetworkPolicy"),
            "{off:?}"
        );
        let on = judge(
            &[aws_node("--enable-network-policy=true")],
            3,
            Platform::Eks,
        );
        assert_eq!(on.level, Level::Pass, "{on:?}");
    }

    #[test]
    fn no_enforcer_is_a_warning_with_the_platforms_fix() {
        let row = judge(
            &[daemonset("kube-system", "kube-flannel-ds", json!([]))],
            5,
            Platform::Gke,
        );
        assert_eq!(row.level, Level::Warn);
        assert!(row.detail.contains("5 NetworkPolicies"), "{row:?}");
        assert!(
            row.fix
                .as_deref()
                .unwrap()
                .contains("--enable-network-policy"),
            "{row:?}"
        );
    }
}
