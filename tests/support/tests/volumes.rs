//! The test server's PersistentVolumes against a real client (kube 5), as
//! kube-controller-manager's persistentvolume controller keeps them: a
//! provisioned volume per bound claim, released (and deleted under
//! `Delete`) with its claim, kept under `Retain`, and re-bound to a new
//! claim by hand the way an admin moves data to a claim of another name.

mod common;

use std::time::Duration;

use common::{client, eventually};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testserver::TestServer;

/// A claim on an immediate class (`fast`, reclaim `policy`), in `default`.
fn claim(name: &str, class: &str, volume: Option<&str>) -> PersistentVolumeClaim {
    let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                 "resources": {"requests": {"storage": "2Gi"}}}});
    if let Some(v) = volume {
        c["spec"]["volumeName"] = json!(v);
    }
    serde_json::from_value(c).unwrap()
}

fn class(server: &TestServer, name: &str, policy: Option<&str>) {
    let mut c = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name}, "provisioner": "example.com/disk",
        "volumeBindingMode": "Immediate"});
    if let Some(p) = policy {
        c["reclaimPolicy"] = json!(p);
    }
    server.create(c);
}

fn pv(server: &TestServer, name: &str) -> Option<Value> {
    server.get("v1", "PersistentVolume", None, name)
}

fn bound_volume(server: &TestServer, claim: &str) -> Option<String> {
    let c = server.get("v1", "PersistentVolumeClaim", Some("default"), claim)?;
    (c["status"]["phase"] == "Bound").then(|| c["spec"]["volumeName"].as_str().unwrap().into())
}

/// Claim `name` on the class `keep` (reclaim `Retain`), bound, then deleted: its
/// volume, `Released`.
async fn released(server: &TestServer, claims: &Api<PersistentVolumeClaim>, name: &str) -> String {
    claims
        .create(&PostParams::default(), &claim(name, "keep", None))
        .await
        .unwrap();
    let volume = eventually("bound", || bound_volume(server, name)).await;
    eventually("volume", || pv(server, &volume)).await;
    claims.delete(name, &DeleteParams::default()).await.unwrap();
    eventually("released", || {
        pv(server, &volume).filter(|v| v["status"]["phase"] == "Released")
    })
    .await;
    volume
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_claim_gets_its_volume_and_takes_it_along_under_delete() {
    let server = TestServer::start();
    class(&server, "fast", None);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client(&server).await, "default");
    let made = claims
        .create(&PostParams::default(), &claim("data", "fast", None))
        .await
        .unwrap();
    let uid = made.metadata.uid.unwrap();
    let name = eventually("bound", || bound_volume(&server, "data")).await;
    assert_eq!(name, format!("pvc-{uid}"));
    let volume = eventually("volume", || pv(&server, &name)).await;
    assert_eq!(volume["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(volume["spec"]["storageClassName"], "fast");
    assert_eq!(volume["spec"]["capacity"]["storage"], "2Gi");
    assert_eq!(volume["spec"]["claimRef"]["uid"], uid.as_str());
    assert_eq!(volume["spec"]["claimRef"]["name"], "data");
    assert_eq!(volume["status"]["phase"], "Bound");
    assert_eq!(
        server.volume_data(&name).as_deref(),
        Some("written by default/data")
    );
    claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    eventually("deleted", || pv(&server, &name).is_none().then_some(())).await;
    assert_eq!(server.volume_data(&name), None, "the data went with it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retained_volume_is_released_then_rebound_to_a_claim_of_another_name() {
    let server = TestServer::start();
    class(&server, "keep", Some("Retain"));
    let client = client(&server).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(client);
    let name = released(&server, &claims, "old").await;
    let kept = pv(&server, &name).unwrap();
    assert!(kept["spec"]["claimRef"]["uid"].is_string(), "{kept}");

    // A claim naming the volume while it still points at the old claim stays Pending.
    claims
        .create(&PostParams::default(), &claim("new", "keep", Some(&name)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(bound_volume(&server, "new"), None);

    // Pointed at the new claim by name only, it binds to it, data and all.
    let patch = json!({"spec": {"claimRef": {"namespace": "default", "name": "new", "uid": null, "resourceVersion": null}}});
    volumes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        eventually("rebound", || bound_volume(&server, "new")).await,
        name
    );
    let volume = pv(&server, &name).unwrap();
    assert_eq!(volume["status"]["phase"], "Bound");
    assert_eq!(volume["spec"]["claimRef"]["name"], "new");
    assert_eq!(
        server.volume_data(&name).as_deref(),
        Some("written by default/old")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_naming_an_available_volume_binds_to_it() {
    let server = TestServer::start();
    class(&server, "keep", Some("Retain"));
    let client = client(&server).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let name = released(&server, &claims, "first").await;
    let volumes: Api<PersistentVolume> = Api::all(client);
    let patch = json!({"spec": {"claimRef": null}});
    volumes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually("available", || {
        pv(&server, &name).filter(|v| v["status"]["phase"] == "Available")
    })
    .await;
    claims
        .create(
            &PostParams::default(),
            &claim("second", "keep", Some(&name)),
        )
        .await
        .unwrap();
    assert_eq!(
        eventually("bound", || bound_volume(&server, "second")).await,
        name
    );
}
