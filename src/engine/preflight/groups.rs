//! API groups and kinds: every group/version/kind the render uses is served
//! by the cluster, or made by a CustomResourceDefinition in the same render.
//! A kind missing is a `fail` naming the objects that use it and what turns
//! them off or provides the kind (a table by group: the Prometheus CRDs come
//! with `spec.infra.monitoring`, Istio's with `spec.infra.istio`, Routes only
//! on OpenShift).

use std::collections::{BTreeMap, BTreeSet};

use super::{Context, Row};
use crate::pipeline::manifest::Manifest;

const CHECK: &str = "api";

/// What provides (or turns off) the kinds of a group the cluster lacks.
const PROVIDERS: &[(&str, &str)] = &[
    (
        "monitoring.coreos.com",
        "set spec.infra.monitoring.enabled: true (it installs the prometheus-operator CRDs), or install prometheus-operator first",
    ),
    (
        "networking.istio.io",
        "set spec.infra.istio.enabled: true, or install Istio first, or set spec.ingress.type: ingress or nodeport",
    ),
    (
        "security.istio.io",
        "set spec.infra.istio.enabled: true, or install Istio first",
    ),
    (
        "route.openshift.io",
        "Routes exist only on OpenShift: set spec.ingress.type: ingress or nodeport",
    ),
];

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let made = made_by_render(cx.manifests);
    let mut used: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for m in cx.manifests {
        used.entry((m.api_version(), m.kind()))
            .or_default()
            .push(m.id());
    }
    let mut rows = Vec::new();
    let mut served = 0;
    for ((api_version, kind), users) in &used {
        if made.contains(&(api_version.to_string(), kind.to_string())) {
            served += 1;
            continue;
        }
        match cx.cluster.resource(api_version, kind).await {
            Ok(Some(_)) => served += 1,
            Ok(None) => rows.push(missing(api_version, kind, users)),
            Err(e) => rows.push(Row::refused(
                CHECK,
                &format!("discovery of {api_version}"),
                &super::context::reason(&e),
            )),
        }
    }
    rows.insert(
        0,
        Row::pass(
            CHECK,
            "-",
            format!(
                "{served} of {} kinds the render uses are served or made by its CRDs",
                used.len()
            ),
        ),
    );
    rows
}

/// (apiVersion, kind) of every version the render's CRDs serve.
fn made_by_render(manifests: &[Manifest]) -> BTreeSet<(String, String)> {
    manifests
        .iter()
        .filter(|m| m.kind() == "CustomResourceDefinition")
        .flat_map(|crd| {
            let spec = &crd.object["spec"];
            let group = spec["group"].as_str().unwrap_or_default().to_owned();
            let kind = spec["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            spec["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["name"].as_str())
                .map(move |v| (format!("{group}/{v}"), kind.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn missing(api_version: &str, kind: &str, users: &[String]) -> Row {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let fix = PROVIDERS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, fix)| fix.to_string())
        .unwrap_or_else(|| format!("install what serves {api_version} {kind} first"));
    let more = match users.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Row::fail(
        CHECK,
        format!("{api_version} {kind}"),
        format!(
            "the cluster does not serve {kind} in {api_version}, and no CRD in the render makes it; used by {}{more}",
            users[0]
        ),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;

    #[test]
    fn a_missing_kind_names_its_users_and_the_spec_field() {
        let row = missing(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            &[
                "ServiceMonitor/ws/orion".into(),
                "ServiceMonitor/ws/agent".into(),
            ],
        );
        assert_eq!(row.level, Level::Fail);
        assert!(
            row.detail
                .ends_with("used by ServiceMonitor/ws/orion and 1 more"),
            "{}",
            row.detail
        );
        assert!(
            row.fix
                .unwrap()
                .contains("spec.infra.monitoring.enabled: true")
        );
    }
}
