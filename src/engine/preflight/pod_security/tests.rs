//! Judging namespaces and workloads, and every example's pods against the
//! levels the render labels their namespaces with.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::engine::preflight::Level as RowLevel;
use crate::pipeline::manifest::{Origin, Scope};
use crate::pipeline::render::{SecretInputs, Templates};

fn manifest(object: Value) -> Manifest {
    Manifest {
        object,
        origin: Origin {
            scope: Scope::Tenant("research".into()),
            component: "c".into(),
            template: "t".into(),
        },
    }
}

fn orion() -> Manifest {
    manifest(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "research-orion-server", "namespace": "research"},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "orion"}]}}}}))
}

fn namespace(name: &str, level: Option<&str>) -> Value {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if let Some(level) = level {
        ns["metadata"]["labels"] = json!({ENFORCE: level, ENFORCE_VERSION: "v1.33"});
    }
    ns
}

#[test]
fn a_live_restricted_namespace_fails_the_workload_naming_the_controls() {
    let live = [namespace("research", Some("restricted"))];
    let rows = judge(&[orion()], &enforced(&[orion()], &live));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].level, RowLevel::Fail);
    assert_eq!(rows[0].subject, "Deployment/research/research-orion-server");
    assert!(
        rows[0].detail.starts_with(
            "namespace research enforces restricted (v1.33) (pod-security.kubernetes.io/enforce on the cluster): allowPrivilegeEscalation != false (container orion), runAsNonRoot"
        ),
        "{}",
        rows[0].detail
    );
    assert!(rows[0].detail.contains("seccompProfile"));
    assert!(
        rows[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("relabel namespace research")
    );
}

#[test]
fn the_render_label_wins_and_unlabelled_namespaces_enforce_nothing() {
    let mut rendered = vec![orion(), manifest(namespace("research", Some("baseline")))];
    let live = [namespace("research", Some("restricted"))];
    let rows = judge(&rendered, &enforced(&rendered, &live));
    assert_eq!(rows[0].level, RowLevel::Pass, "baseline admits the pod");

    rendered[1] = manifest(namespace("research", Some("restricted")));
    let rows = judge(
        &rendered,
        &enforced(&rendered, &[namespace("research", None)]),
    );
    assert_eq!(
        rows[0].level,
        RowLevel::Fail,
        "the render's own label is judged"
    );
    assert!(rows[0].detail.contains("on the render"));

    let rows = judge(
        &[orion()],
        &enforced(&[orion()], &[namespace("research", None)]),
    );
    assert_eq!(rows[0].level, RowLevel::Pass);
}

/// Every pod of every example, against the level its namespace is labelled
/// with by the render: none may be refused.
#[test]
fn every_example_meets_the_levels_it_labels_its_namespaces_with() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut examples: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path().join("cluster.yaml"))
        .filter(|p| p.exists())
        .collect();
    examples.sort();
    assert!(examples.len() >= 3);
    let mut judged = 0;
    for example in examples {
        let spec = crate::pipeline::spec::load(&example).unwrap();
        let manifests = crate::pipeline::render::render(
            &spec,
            &Templates::built_in(),
            &SecretInputs::default(),
        )
        .unwrap();
        let levels = enforced(&manifests, &[]);
        for row in judge(&manifests, &levels) {
            assert_eq!(row.level, RowLevel::Pass, "{}: {row:?}", example.display());
            assert!(
                !row.detail.starts_with("0 "),
                "{}: {}",
                example.display(),
                row.detail
            );
            judged += 1;
        }
    }
    assert!(judged > 0);
}
