//! Platform: which kind of cluster this is, from what it serves, its nodes'
//! labels and its version string: OpenShift (its config and route groups),
//! EKS, AKS, GKE (the labels their node pools carry, the `-eks-`/`-gke.`
//! builds), otherwise generic. A spec whose `platform` says otherwise is a
//! warning naming the field.

use serde_json::Value;

use super::{Context, Read, Row};

const CHECK: &str = "platform";

/// Node labels each managed cloud puts on its nodes.
const NODE_LABELS: &[(&str, &str)] = &[
    ("eks.amazonaws.com/nodegroup", "eks"),
    ("eks.amazonaws.com/compute-type", "eks"),
    ("kubernetes.azure.com/cluster", "aks"),
    ("kubernetes.azure.com/agentpool", "aks"),
    ("cloud.google.com/gke-nodepool", "gke"),
];

/// Version-string markers of managed builds.
const VERSION_MARKERS: &[(&str, &str)] = &[("-eks-", "eks"), ("-gke.", "gke")];

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let openshift = matches!(
        cx.cluster
            .resource("config.openshift.io/v1", "ClusterVersion")
            .await,
        Ok(Some(_))
    );
    let version = cx
        .version()
        .await
        .ok()
        .and_then(|v| v["gitVersion"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let nodes = match cx.list("v1", "Node", None).await {
        Read::Found(nodes) => Some(nodes),
        _ => None,
    };
    let found = detect(
        openshift,
        &version,
        nodes.as_deref().map(Vec::as_slice).unwrap_or_default(),
    );
    let how = if nodes.is_none() {
        " (nodes not readable: from the API groups and version only)"
    } else {
        ""
    };
    vec![Row::pass(CHECK, found, format!("detected {found}{how}"))]
}

/// The platform the cluster looks like.
fn detect(openshift: bool, version: &str, nodes: &[Value]) -> &'static str {
    if openshift {
        return "openshift";
    }
    let by_label = nodes.iter().find_map(|node| {
        NODE_LABELS
            .iter()
            .find(|(label, _)| node["metadata"]["labels"].get(label).is_some())
            .map(|(_, platform)| *platform)
    });
    let by_version = VERSION_MARKERS
        .iter()
        .find(|(marker, _)| version.contains(marker))
        .map(|(_, platform)| *platform);
    by_label.or(by_version).unwrap_or("generic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn platforms_are_told_apart() {
        let node = |label: &str| json!({"metadata": {"labels": {label: "x"}}});
        assert_eq!(detect(true, "v1.30.0", &[]), "openshift");
        assert_eq!(detect(false, "v1.30.4-eks-a737599", &[]), "eks");
        assert_eq!(
            detect(false, "v1.31.1", &[node("kubernetes.azure.com/cluster")]),
            "aks"
        );
        assert_eq!(detect(false, "v1.31.1-gke.100", &[]), "gke");
        assert_eq!(
            detect(false, "v1.31.1", &[node("kubernetes.io/hostname")]),
            "generic"
        );
    }
}
