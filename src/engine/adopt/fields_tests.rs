use serde_json::{Value, json};

use super::*;

fn entry(manager: &str, operation: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1",
           "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn env_item(name: &str) -> String {
    format!("k:{{\"name\":\"{name}\"}}")
}

/// An operator-made Deployment: `manager` set the labels and two env vars,
/// kubectl an annotation, the controller its status.
fn live() -> Value {
    let operator = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:extra": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
            ".": {}, "f:name": {}, "f:env": {
                env_item("A"): {".": {}, "f:name": {}, "f:value": {}},
                env_item("EXTRA"): {".": {}, "f:name": {}, "f:value": {}}}}}}}}
    });
    json!({
        "metadata": {"name": "d", "uid": "u1", "resourceVersion": "7",
            "labels": {"app": "x", "extra": "y"},
            "annotations": {"note": "keep"},
            "managedFields": [
                entry("manager", "Update", operator),
                entry("kubectl", "Update", json!({"f:metadata": {"f:annotations": {"f:note": {}}}})),
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                 "subresource": "status", "fieldsV1": {"f:status": {"f:replicas": {}}}},
            ]},
        "spec": {"template": {"spec": {"containers": [{"name": "app",
            "env": [{"name": "A", "value": "1"}, {"name": "EXTRA", "value": "2"}]}]}}}
    })
}

#[test]
fn the_operators_entries_become_ours_and_the_others_stay() {
    let fields = taken_over(&live()).unwrap();
    let managers: Vec<(&str, &str)> = fields
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap(),
                e["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        [
            ("cnvrgctl", "Apply"),
            ("kubectl", "Update"),
            ("kube-controller-manager", "Update")
        ]
    );
    assert_eq!(
        fields[0]["fieldsV1"],
        live()["metadata"]["managedFields"][0]["fieldsV1"]
    );
}

#[test]
fn an_existing_entry_of_ours_takes_the_operators_fields_of_its_api_version() {
    let mut object = live();
    let entries = object["metadata"]["managedFields"].as_array_mut().unwrap();
    entries.push(entry(
        "cnvrgctl",
        "Apply",
        json!({"f:spec": {"f:replicas": {}}}),
    ));
    let mut old = entry(
        "cnvrg-operator",
        "Update",
        json!({"f:spec": {"f:paused": {}}}),
    );
    old["apiVersion"] = json!("apps/v1beta1");
    entries.push(old);
    let fields = taken_over(&object).unwrap();
    let managers: Vec<&str> = fields
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl", "kube-controller-manager", "cnvrgctl"]);
    let ours = &fields[2]["fieldsV1"];
    assert!(ours["f:spec"]["f:replicas"].is_object());
    assert!(ours["f:metadata"]["f:labels"]["f:extra"].is_object());
    assert!(ours["f:spec"].get("f:paused").is_none(), "{ours}");
}

#[test]
fn nothing_to_take_over_without_the_operators() {
    let mut object = live();
    object["metadata"]["managedFields"][0]["manager"] = json!("helm");
    assert!(taken_over(&object).is_none());
    assert!(takeover_patch(&object).is_none());
}

#[test]
fn the_patch_tests_what_was_read_and_frees_the_references_too() {
    let mut object = live();
    object["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "mlops.aigency.com/v1alpha1", "kind": "Workspace", "name": "w"}]);
    let patch = takeover_patch(&object).unwrap();
    let ops: Vec<(&str, &str)> = patch
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["op"].as_str().unwrap(), o["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        [
            ("test", "/metadata/uid"),
            ("test", "/metadata/resourceVersion"),
            ("test", "/metadata/ownerReferences"),
            ("remove", "/metadata/ownerReferences"),
            ("replace", "/metadata/managedFields"),
        ]
    );
    let mut patched = object.clone();
    json_patch::patch(
        &mut patched,
        &serde_json::from_value::<json_patch::Patch>(patch).unwrap(),
    )
    .unwrap();
    assert_eq!(
        patched["metadata"]["managedFields"][0]["manager"],
        "cnvrgctl"
    );
}

#[test]
fn the_preview_drops_what_the_operator_alone_held() {
    let object = live();
    // The dry run of our forced apply: our label and env var A; the
    // operator's entry still holds the rest.
    let mut after = object.clone();
    after["metadata"]["labels"]["mine"] = json!("z");
    let ours = json!({"f:metadata": {"f:labels": {"f:app": {}, "f:mine": {}}},
        "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
            ".": {}, "f:name": {}, "f:env": {env_item("A"): {".": {}, "f:name": {}, "f:value": {}}}}}}}}});
    after["metadata"]["managedFields"]
        .as_array_mut()
        .unwrap()
        .push(entry("cnvrgctl", "Apply", ours));
    let shown = preview(&object, &after);
    assert_eq!(
        shown["metadata"]["labels"],
        json!({"app": "x", "mine": "z"})
    );
    assert_eq!(shown["metadata"]["annotations"], json!({"note": "keep"}));
    assert_eq!(
        shown["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
}
