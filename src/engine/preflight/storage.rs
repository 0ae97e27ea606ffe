//! Storage: every claim the render makes (PVCs and StatefulSets'
//! `volumeClaimTemplates`) can be served. The class `spec.storageClass` names
//! exists; where it names none, the cluster (or the render) has a default
//! class. Each class used is reported with its binding mode and provisioner.
//! A claim whose class is missing, or that has no class and no default, is a
//! `fail` naming the claim. Classes the render itself makes count as present.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Context, Read, Row};
use crate::pipeline::manifest::Manifest;

const CHECK: &str = "storage";

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    let claims = claims(cx.manifests);
    if claims.is_empty() {
        return vec![Row::pass(
            CHECK,
            "-",
            "the render makes no PersistentVolumeClaim",
        )];
    }
    let live = match cx.list("storage.k8s.io/v1", "StorageClass", None).await {
        Read::Found(list) => list.to_vec(),
        Read::NotServed => Vec::new(),
        Read::Refused(reason) => return vec![Row::refused(CHECK, "storageclasses", &reason)],
    };
    let rendered = cx
        .manifests
        .iter()
        .filter(|m| m.kind() == "StorageClass")
        .map(|m| m.object.clone());
    let classes: BTreeMap<String, Value> = live
        .into_iter()
        .chain(rendered)
        .map(|c| {
            (
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c,
            )
        })
        .collect();
    judge(&claims, &classes)
}

/// A claim of the render: who makes it and the class it names (`None`: the
/// default; `Some("")`: no class at all, bound by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    owner: String,
    class: Option<String>,
}

fn claims(manifests: &[Manifest]) -> Vec<Claim> {
    let mut out = Vec::new();
    for m in manifests {
        let specs: Vec<&Value> = match m.kind() {
            "PersistentVolumeClaim" => vec![&m.object["spec"]],
            "StatefulSet" => m.object["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| &t["spec"])
                .collect(),
            _ => continue,
        };
        for spec in specs {
            out.push(Claim {
                owner: m.id(),
                class: spec["storageClassName"].as_str().map(str::to_owned),
            });
        }
    }
    out
}

fn judge(claims: &[Claim], classes: &BTreeMap<String, Value>) -> Vec<Row> {
    let default = classes
        .iter()
        .find(|(_, c)| c["metadata"]["annotations"][DEFAULT_ANNOTATION] == "true")
        .map(|(name, _)| name.clone());
    let known = classes.keys().cloned().collect::<Vec<_>>().join(", ");
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for claim in claims {
        let class = match (&claim.class, &default) {
            (Some(class), _) if class.is_empty() => continue,
            (Some(class), _) => class.clone(),
            (None, Some(default)) => default.clone(),
            (None, None) => {
                rows.push(Row::fail(
                    CHECK,
                    &claim.owner,
                    "its claim names no storage class and the cluster has no default class",
                    format!("set spec.storageClass to one of the cluster's classes ({known}), or mark one as the default"),
                ));
                continue;
            }
        };
        if classes.contains_key(&class) {
            *used.entry(class).or_default() += 1;
        } else {
            rows.push(Row::fail(
                CHECK,
                &claim.owner,
                format!("its claim asks for storage class {class}, which is not on the cluster"),
                format!("set spec.storageClass to one of the cluster's classes ({known})"),
            ));
        }
    }
    for (name, count) in used {
        let class = &classes[&name];
        let mode = class["volumeBindingMode"].as_str().unwrap_or("Immediate");
        let provisioner = class["provisioner"].as_str().unwrap_or("-");
        let default = if Some(&name) == default.as_ref() {
            ", the default"
        } else {
            ""
        };
        rows.push(Row::pass(
            CHECK,
            format!("StorageClass/{name}"),
            format!("{count} claim(s); binding {mode}, provisioner {provisioner}{default}"),
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;
    use serde_json::json;

    fn classes(list: &[Value]) -> BTreeMap<String, Value> {
        list.iter()
            .map(|c| {
                (
                    c["metadata"]["name"].as_str().unwrap().to_owned(),
                    c.clone(),
                )
            })
            .collect()
    }

    fn claim(owner: &str, class: Option<&str>) -> Claim {
        Claim {
            owner: owner.into(),
            class: class.map(str::to_owned),
        }
    }

    #[test]
    fn claims_on_the_default_class_pass_with_its_binding_and_provisioner() {
        let classes = classes(&[
            json!({"metadata": {"name": "gp3", "annotations": {DEFAULT_ANNOTATION: "true"}},
                                      "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer"}),
        ]);
        let rows = judge(&[claim("StatefulSet/ws/db", None)], &classes);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].level, Level::Pass);
        assert_eq!(
            rows[0].detail,
            "1 claim(s); binding WaitForFirstConsumer, provisioner ebs.csi.aws.com, the default"
        );
    }

    #[test]
    fn a_missing_class_or_no_default_fails_naming_the_claim() {
        let classes = classes(&[json!({"metadata": {"name": "standard"}, "provisioner": "x"})]);
        let rows = judge(
            &[
                claim("StatefulSet/ws/db", Some("gold")),
                claim("PersistentVolumeClaim/ws/data", None),
            ],
            &classes,
        );
        assert_eq!(rows.iter().filter(|r| r.level == Level::Fail).count(), 2);
        assert_eq!(rows[0].subject, "StatefulSet/ws/db");
        assert!(
            rows[0]
                .detail
                .contains("storage class gold, which is not on the cluster")
        );
        assert!(
            rows[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("spec.storageClass")
        );
        assert!(rows[1].detail.contains("no default class"));
    }
}
