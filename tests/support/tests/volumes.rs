//! The test server's PersistentVolumes against a real client (kube 5), as
//! kube-controller-manager's persistentvolume controller keeps them: a
//! provisioned volume per bound claim, released (and deleted under
//! `Delete`) with its claim, kept under `Retain`, and re-bound to a new
//! claim by hand the way an admin moves data to a claim of another name.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use testserver::TestServer;

async fn client(server: &TestServer) -> Client {
    let kc = Kubeconfig::read_from(server.kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Polls until `f` returns Some, failing after 10 s.
async fn eventually<T, F: FnMut() -> Option<T>>(what: &str, mut f: F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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
    claims
        .create(&PostParams::default(), &claim("old", "keep", None))
        .await
        .unwrap();
    let name = eventually("bound", || bound_volume(&server, "old")).await;
    eventually("volume", || pv(&server, &name)).await;
    claims
        .delete("old", &DeleteParams::default())
        .await
        .unwrap();
    let released = eventually("released", || {
        pv(&server, &name).filter(|v| v["status"]["phase"] == "Released")
    })
    .await;
    assert!(
        released["spec"]["claimRef"]["uid"].is_string(),
        "{released}"
    );

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
    claims
        .create(&PostParams::default(), &claim("first", "keep", None))
        .await
        .unwrap();
    let name = eventually("bound", || bound_volume(&server, "first")).await;
    eventually("volume", || pv(&server, &name)).await;
    claims
        .delete("first", &DeleteParams::default())
        .await
        .unwrap();
    eventually("released", || {
        pv(&server, &name).filter(|v| v["status"]["phase"] == "Released")
    })
    .await;
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
