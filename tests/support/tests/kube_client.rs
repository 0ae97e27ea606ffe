//! The test server against a real client: kube 5 (discovery, server-side
//! apply, dry-run, conflicts, watches, logs) plus the controller's readiness
//! simulation and injected faults.

mod common;

use std::time::Duration;

use common::{client, eventually};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Pod};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, PostParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use kube::runtime::watcher;
use serde_json::{Value, json};
use testserver::{
    Behavior, Fault, FaultKind, FaultTarget, Options, PodTrouble, Target, TestServer, Verb, WriteOp,
};

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}}},
    })
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}}]},
    })
}

fn ssa(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

#[tokio::test]
async fn discovery_finds_builtins_and_a_crd_only_after_established_and_lag() {
    let server = TestServer::start_with(Options {
        crd_discovery_lag: Duration::from_millis(300),
        ..Options::default()
    });
    let client = client(&server).await;
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let (deploy, caps) = d
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap();
    assert_eq!(deploy.plural, "deployments");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        d.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .is_some()
    );
    assert!(
        d.resolve_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition"
        ))
        .is_some()
    );

    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    crds.patch(
        "widgets.example.com",
        &ssa("cnvrgctl"),
        &Patch::Apply(crd()),
    )
    .await
    .unwrap();
    // The trap: applying a custom resource right after its CRD is a 404.
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        ),
    );
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1}});
    let err = widgets
        .patch("w1", &ssa("cnvrgctl"), &Patch::Apply(&w))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404),
        "{err:?}"
    );
    let d = Discovery::new(client.clone()).run().await.unwrap();
    assert!(
        d.resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
            .is_none()
    );

    let established = eventually("Established", || {
        let c = server.get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "widgets.example.com",
        )?;
        let conds = c["status"]["conditions"].as_array()?.clone();
        conds
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
            .then_some(conds)
    })
    .await;
    assert!(
        established
            .iter()
            .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True")
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let (ar, _) = d
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("Widget discoverable");
    assert_eq!(ar.plural, "widgets");
    let created = widgets
        .patch("w1", &ssa("cnvrgctl"), &Patch::Apply(&w))
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["size"], 1);
    assert!(created.data.get("status").is_none());

    // Deleting the CRD removes the kind and its objects.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    assert!(server.list("example.com/v1", "Widget", None).is_empty());
    let err = widgets.get("w1").await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404),
        "{err:?}"
    );
}

#[tokio::test]
async fn ssa_create_then_noop_then_update() {
    let server = TestServer::start();
    let api: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    let d = deployment("web", 2, "nginx:1.27");
    server.clear_log();
    let created = api
        .patch("web", &ssa("cnvrgctl"), &Patch::Apply(&d))
        .await
        .unwrap();
    let rv1 = created.metadata.resource_version.clone().unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let mf = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("cnvrgctl"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    assert_eq!(
        created.spec.as_ref().unwrap().revision_history_limit,
        Some(10)
    );
    let status = server.requests().last().unwrap().status;
    assert_eq!(status, 201);

    // Wait for the controller to settle so the status no longer moves.
    eventually("ready", || {
        let d = server.get("apps/v1", "Deployment", Some("default"), "web")?;
        (d["status"]["readyReplicas"] == 2
            && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    let rv_before = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap()["metadata"]["resourceVersion"]
        .clone();
    let again = api
        .patch("web", &ssa("cnvrgctl"), &Patch::Apply(&d))
        .await
        .unwrap();
    let after = server
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(
        json!(again.metadata.resource_version),
        rv_before,
        "a no-op apply must not bump the resourceVersion:\n{before:#}\n{after:#}"
    );
    assert_ne!(rv1, again.metadata.resource_version.clone().unwrap());
    assert_eq!(server.writes().len(), 1, "{:?}", server.writes());

    let changed = api
        .patch(
            "web",
            &ssa("cnvrgctl"),
            &Patch::Apply(deployment("web", 2, "nginx:1.28")),
        )
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    let writes = server.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].op, WriteOp::Create);
    assert_eq!(writes[1].op, WriteOp::Update);
    assert_eq!(writes[1].manager, "cnvrgctl");
    assert!(server.requests().iter().any(|r| r.verb == Verb::Apply));
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let server = TestServer::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let rv = server.resource_version();
    let out = api
        .patch("c", &ssa("cnvrgctl").dry_run(), &Patch::Apply(&cm))
        .await
        .unwrap();
    assert_eq!(out.data.unwrap()["a"], "1");
    assert!(
        server
            .get("v1", "ConfigMap", Some("default"), "c")
            .is_none()
    );
    assert_eq!(server.resource_version(), rv);
    assert!(server.writes().is_empty());
    assert!(server.requests().last().unwrap().dry_run);

    api.patch("c", &ssa("cnvrgctl"), &Patch::Apply(&cm))
        .await
        .unwrap();
    let cm2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    let out = api
        .patch("c", &ssa("cnvrgctl").dry_run(), &Patch::Apply(&cm2))
        .await
        .unwrap();
    assert_eq!(out.data.unwrap()["a"], "2");
    assert_eq!(
        server.get("v1", "ConfigMap", Some("default"), "c").unwrap()["data"]["a"],
        "1"
    );
    assert_eq!(server.writes().len(), 1);
}

#[tokio::test]
async fn conflict_names_the_other_manager_and_force_takes_over() {
    let server = TestServer::start();
    server.apply_as("helm", deployment("web", 3, "nginx:1.27"));
    let api: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    let err = api
        .patch(
            "web",
            &ssa("cnvrgctl"),
            &Patch::Apply(deployment("web", 2, "nginx:1.27")),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas"
    );
    let causes = status.details.unwrap().causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    // An applier is named without its apiVersion (the real identifier drops it).
    assert_eq!(causes[0].message, "conflict with \"helm\"");
    assert_eq!(causes[0].field, ".spec.replicas");

    // Same values do not conflict: shared ownership.
    api.patch(
        "web",
        &ssa("cnvrgctl"),
        &Patch::Apply(deployment("web", 3, "nginx:1.27")),
    )
    .await
    .unwrap();

    let forced = api
        .patch(
            "web",
            &ssa("cnvrgctl").force(),
            &Patch::Apply(deployment("web", 2, "nginx:1.27")),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(2));
    let helm = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("helm"))
        .unwrap();
    let fields = helm.fields_v1.unwrap().0;
    assert!(fields["f:spec"].get("f:replicas").is_none(), "{fields}");
}

/// The owners of a deployment's `.spec.replicas`, as `manager/operation/subresource`.
fn replicas_owners(d: &Deployment) -> Vec<String> {
    let entries = d.metadata.managed_fields.clone().unwrap_or_default();
    entries
        .into_iter()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0["f:spec"].get("f:replicas").is_some())
        })
        .map(|m| {
            format!(
                "{}/{}/{}",
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
                m.subresource.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_scale_update_takes_replicas_as_a_scale_subresource_manager() {
    let server = TestServer::start();
    let api: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    let apply = |replicas, force| {
        let params = if force {
            ssa("cnvrgctl").force()
        } else {
            ssa("cnvrgctl")
        };
        let api = api.clone();
        async move {
            api.patch(
                "web",
                &params,
                &Patch::Apply(deployment("web", replicas, "nginx:1.27")),
            )
            .await
        }
    };
    apply(1, false).await.unwrap();
    let scale = |replicas: i64| {
        let api = api.clone();
        async move {
            api.patch_scale(
                "web",
                &PatchParams {
                    field_manager: Some("kubectl".into()),
                    ..PatchParams::default()
                },
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .unwrap()
        }
    };
    // The same value changes no owner.
    scale(1).await;
    assert_eq!(
        replicas_owners(&api.get("web").await.unwrap()),
        ["cnvrgctl/Apply/"]
    );
    // Another value moves the field to the scale writer.
    scale(3).await;
    let live = api.get("web").await.unwrap();
    assert_eq!(live.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(replicas_owners(&live), ["kubectl/Update/scale"]);
    let entry = live
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("kubectl"))
        .unwrap();
    assert_eq!(entry.api_version.as_deref(), Some("apps/v1"));
    assert_eq!(
        entry.fields_v1.unwrap().0,
        json!({"f:spec": {"f:replicas": {}}})
    );

    let err = apply(1, false).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    let causes = status.details.unwrap().causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(
        causes[0].message,
        "conflict with \"kubectl\" with subresource \"scale\" using apps/v1"
    );
    assert_eq!(causes[0].field, ".spec.replicas");

    let forced = apply(1, true).await.unwrap();
    assert_eq!(forced.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(replicas_owners(&forced), ["cnvrgctl/Apply/"]);
}

#[tokio::test]
async fn a_field_no_longer_applied_is_pruned() {
    let server = TestServer::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1"}}, "data": data});
    api.patch(
        "c",
        &ssa("cnvrgctl"),
        &Patch::Apply(cm(json!({"a": "1", "b": "2"}))),
    )
    .await
    .unwrap();
    server.apply_as("other", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"c": "3"}}));
    let out = api
        .patch("c", &ssa("cnvrgctl"), &Patch::Apply(cm(json!({"a": "1"}))))
        .await
        .unwrap();
    let data = out.data.unwrap();
    assert_eq!(data.get("b"), None);
    assert_eq!(
        data.get("c").map(String::as_str),
        Some("3"),
        "fields owned by others stay"
    );
}

#[tokio::test]
async fn errors_have_real_status_shapes() {
    let server = TestServer::start();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let err = cms.get("missing").await.unwrap_err();
    let kube::Error::Api(s) = err else { panic!() };
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (404, "NotFound", "configmaps \"missing\" not found")
    );
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let kube::Error::Api(s) = cms.create(&PostParams::default(), &cm).await.unwrap_err() else {
        panic!()
    };
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
    // missing namespace
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let kube::Error::Api(s) = other
        .patch("c", &ssa("cnvrgctl"), &Patch::Apply(&body))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        (s.code, s.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );
    // Job template is immutable
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": image}]}}}})
    };
    jobs.patch("j", &ssa("cnvrgctl"), &Patch::Apply(job("a:1")))
        .await
        .unwrap();
    jobs.patch("j", &ssa("cnvrgctl"), &Patch::Apply(job("a:1")))
        .await
        .unwrap();
    let kube::Error::Api(s) = jobs
        .patch("j", &ssa("cnvrgctl"), &Patch::Apply(job("a:2")))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(s.message.contains("field is immutable"), "{}", s.message);
    // apply without a field manager
    let raw = client
        .request_text(
            http::Request::patch("/api/v1/namespaces/default/configmaps/c")
                .header("content-type", "application/apply-patch+yaml")
                .body(serde_json::to_vec(&body).unwrap())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(raw, kube::Error::Api(s) if s.code == 400));
}

#[tokio::test]
async fn watcher_sees_add_modify_delete_and_survives_a_dropped_watch() {
    let server = TestServer::start();
    let client = client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    server.inject(
        Fault::new(
            FaultTarget::verb(Verb::Watch),
            FaultKind::DropWatch { after_events: 1 },
        )
        .times(2),
    );
    let mut stream = watcher(api.clone(), watcher::Config::default().labels("app=w")).boxed();
    let cm = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "w"}}, "data": {"v": v}});
    let mut seen = vec![];
    let mut step = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, stream.try_next())
        .await
        .unwrap_or(Ok(None))
        .map(Some)
        .transpose()
        .transpose()
    {
        let ev = ev.unwrap();
        match ev {
            watcher::Event::InitDone if step == 0 => {
                step = 1;
                api.patch("c", &ssa("t"), &Patch::Apply(cm("1")))
                    .await
                    .unwrap();
            }
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                let v = o.data.unwrap()["v"].clone();
                seen.push(format!("apply {v}"));
                if v == "1" && step == 1 {
                    step = 2;
                    api.patch("c", &ssa("t"), &Patch::Apply(cm("2")))
                        .await
                        .unwrap();
                } else if v == "2" && step == 2 {
                    step = 3;
                    api.delete("c", &DeleteParams::default()).await.unwrap();
                }
            }
            watcher::Event::Delete(_) => {
                seen.push("delete".into());
                break;
            }
            _ => {}
        }
    }
    assert!(seen.contains(&"apply 1".to_string()), "{seen:?}");
    assert!(seen.contains(&"apply 2".to_string()), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("delete"), "{seen:?}");
    let watches = server
        .requests()
        .iter()
        .filter(|r| r.verb == Verb::Watch)
        .count();
    assert!(watches >= 2, "the watcher re-watched after the drop");
}

#[tokio::test]
async fn deployment_becomes_ready_with_real_status_fields() {
    let server = TestServer::start();
    let api: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    api.patch(
        "web",
        &ssa("cnvrgctl"),
        &Patch::Apply(deployment("web", 3, "nginx:1.27")),
    )
    .await
    .unwrap();
    let d = eventually("deployment ready", || {
        let d = server.get("apps/v1", "Deployment", Some("default"), "web")?;
        (d["status"]["readyReplicas"] == 3
            && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable")
            .then_some(d)
    })
    .await;
    let s = &d["status"];
    assert_eq!(s["observedGeneration"], 1);
    for k in ["replicas", "updatedReplicas", "availableReplicas"] {
        assert_eq!(s[k], 3, "{k}");
    }
    assert_eq!(s["conditions"][0]["type"], "Available");
    let pods = server.list("v1", "Pod", Some("default"));
    assert_eq!(pods.len(), 3);
    let pod = &pods[0];
    assert_eq!(pod["metadata"]["labels"]["app"], "web");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert!(pod["spec"]["nodeName"].is_string());
    assert_eq!(pod["status"]["containerStatuses"][0]["image"], "nginx:1.27");
    let rs = server.list("apps/v1", "ReplicaSet", Some("default"));
    assert_eq!(rs[0]["metadata"]["ownerReferences"][0]["name"], "web");
    assert!(
        server.writes().iter().all(|w| w.kind == "Deployment"),
        "controller writes are not client writes"
    );

    // A new template rolls out: new ReplicaSet, old pods go.
    api.patch(
        "web",
        &ssa("cnvrgctl"),
        &Patch::Apply(deployment("web", 3, "nginx:1.28")),
    )
    .await
    .unwrap();
    eventually("rollout", || {
        let d = server.get("apps/v1", "Deployment", Some("default"), "web")?;
        let pods = server.list("v1", "Pod", Some("default"));
        (d["status"]["observedGeneration"] == 2
            && d["status"]["updatedReplicas"] == 3
            && d["status"]["readyReplicas"] == 3
            && pods.len() == 3
            && pods
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"))
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn never_ready_pods_show_the_real_trouble() {
    let server = TestServer::start();
    server.behave(
        Target::kind("Deployment").named("bad-*"),
        Behavior::NeverReady(PodTrouble::ImagePullBackOff),
    );
    server.behave(
        Target::kind("Deployment").named("crash"),
        Behavior::Fail(PodTrouble::CrashLoopBackOff),
    );
    let api: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    api.patch(
        "bad-1",
        &ssa("cnvrgctl"),
        &Patch::Apply(deployment("bad-1", 1, "nope:404")),
    )
    .await
    .unwrap();
    api.patch(
        "crash",
        &ssa("cnvrgctl"),
        &Patch::Apply(deployment("crash", 1, "busybox")),
    )
    .await
    .unwrap();
    let waiting = eventually("image pull backoff", || {
        let p = server
            .list("v1", "Pod", Some("default"))
            .into_iter()
            .find(|p| p["metadata"]["labels"]["app"] == "bad-1")?;
        let w = p["status"]["containerStatuses"][0]["state"]["waiting"].clone();
        (w["reason"] == "ImagePullBackOff").then_some(w)
    })
    .await;
    assert_eq!(waiting["message"], "Back-off pulling image \"nope:404\"");
    eventually("crash loop restarts", || {
        let p = server
            .list("v1", "Pod", Some("default"))
            .into_iter()
            .find(|p| p["metadata"]["labels"]["app"] == "crash")?;
        let c = &p["status"]["containerStatuses"][0];
        (c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
            && c["restartCount"].as_u64()? >= 2
            && c["lastState"]["terminated"]["exitCode"] == 1)
            .then_some(())
    })
    .await;
    eventually("progress deadline", || {
        let d = server.get("apps/v1", "Deployment", Some("default"), "crash")?;
        (d["status"]["conditions"][1]["reason"] == "ProgressDeadlineExceeded").then_some(())
    })
    .await;
    let events = server.list("v1", "Event", Some("default"));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "Failed" && e["type"] == "Warning"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "BackOff" && e["type"] == "Warning")
    );
    let bad = server
        .get("apps/v1", "Deployment", Some("default"), "bad-1")
        .unwrap();
    assert_eq!(bad["status"].get("readyReplicas"), None);
}

#[tokio::test]
async fn a_failing_job_serves_its_log() {
    let server = TestServer::start();
    server.behave(
        Target::kind("Job").named("migrate"),
        Behavior::JobFails {
            log: vec!["connecting".into(), "ERROR: relation missing".into()],
        },
    );
    let client = client(&server).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = |name: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}}}})
    };
    jobs.patch("migrate", &ssa("cnvrgctl"), &Patch::Apply(job("migrate")))
        .await
        .unwrap();
    jobs.patch("ok", &ssa("cnvrgctl"), &Patch::Apply(job("ok")))
        .await
        .unwrap();
    let failed = eventually("job failed", || {
        let j = server.get("batch/v1", "Job", Some("default"), "migrate")?;
        j["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Failed" && c["status"] == "True")
            .cloned()
    })
    .await;
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("job-name=migrate"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let pod = &list.items[0];
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Failed")
    );
    let name = pod.metadata.name.clone().unwrap();
    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert_eq!(log, "connecting\nERROR: relation missing\n");
    let tail = pods
        .logs(
            &name,
            &LogParams {
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, "ERROR: relation missing\n");
    eventually("job complete", || {
        let j = server.get("batch/v1", "Job", Some("default"), "ok")?;
        let done = j["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True");
        (done && j["status"]["succeeded"] == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn namespace_delete_cascades_and_blocks_new_content() {
    let server = TestServer::start();
    server.stick_namespace("app");
    let client = client(&server).await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.patch(
        "app",
        &ssa("cnvrgctl"),
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        ),
    )
    .await
    .unwrap();
    let ns = nss.get("app").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "app");
    let mut d = deployment("web", 1, "nginx");
    d["metadata"]["namespace"] = json!("app");
    deploys
        .patch("web", &ssa("cnvrgctl"), &Patch::Apply(&d))
        .await
        .unwrap();
    eventually("pod", || {
        (!server.list("v1", "Pod", Some("app")).is_empty()).then_some(())
    })
    .await;
    nss.delete("app", &DeleteParams::default()).await.unwrap();
    eventually("content gone", || {
        (server.list("apps/v1", "Deployment", Some("app")).is_empty()
            && server.list("v1", "Pod", Some("app")).is_empty())
        .then_some(())
    })
    .await;
    let ns = server.get("v1", "Namespace", None, "app").unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");
    let kube::Error::Api(s) = deploys
        .patch("web", &ssa("cnvrgctl"), &Patch::Apply(&d))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(s.code, 403);
    assert_eq!(
        s.message,
        "deployments.apps \"web\" is forbidden: unable to create new content in namespace app because it is being terminated"
    );
    server.unstick_namespace("app");
    eventually("namespace gone", || {
        server
            .get("v1", "Namespace", None, "app")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_wait_for_first_consumer_pvc_stays_pending() {
    let server = TestServer::start();
    server.apply_as("setup", json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}));
    server.apply_as(
        "setup",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "fast"}, "provisioner": "x", "volumeBindingMode": "Immediate"}),
    );
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client(&server).await, "default");
    let pvc = |name: &str, class: Option<&str>| {
        let mut p = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        if let Some(c) = class {
            p["spec"]["storageClassName"] = json!(c);
        }
        p
    };
    pvcs.patch("data", &ssa("cnvrgctl"), &Patch::Apply(pvc("data", None)))
        .await
        .unwrap();
    pvcs.patch(
        "fast",
        &ssa("cnvrgctl"),
        &Patch::Apply(pvc("fast", Some("fast"))),
    )
    .await
    .unwrap();
    eventually("fast bound", || {
        (server.get("v1", "PersistentVolumeClaim", Some("default"), "fast")?["status"]["phase"]
            == "Bound")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let data = server
        .get("v1", "PersistentVolumeClaim", Some("default"), "data")
        .unwrap();
    assert_eq!(data["spec"]["storageClassName"], "local");
    assert_eq!(data["status"]["phase"], "Pending");
    assert!(
        server
            .list("v1", "Event", Some("default"))
            .iter()
            .any(|e| e["reason"] == "WaitForFirstConsumer")
    );
    // A pod using it gets scheduled: it binds.
    let mut d = deployment("db", 1, "postgres:16");
    d["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]);
    server.apply_as("cnvrgctl", d);
    eventually("data bound", || {
        (server.get("v1", "PersistentVolumeClaim", Some("default"), "data")?["status"]["phase"]
            == "Bound")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn injected_faults_answer_like_the_apiserver() {
    let server = TestServer::start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    server.inject(Fault::new(
        FaultTarget::verb(Verb::Get),
        FaultKind::Status(500),
    ));
    let kube::Error::Api(s) = cms.get("x").await.unwrap_err() else {
        panic!()
    };
    assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
    server.inject(Fault::new(FaultTarget::path("/configmaps/x"), FaultKind::Reject {
        code: 403,
        reason: "Forbidden".into(),
        message: "configmaps \"x\" is forbidden: User \"ci\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\"".into(),
    }));
    let kube::Error::Api(s) = cms.get("x").await.unwrap_err() else {
        panic!()
    };
    assert_eq!(s.code, 403);
    assert!(s.message.contains("cannot get resource"));
    // faults are used up
    let kube::Error::Api(s) = cms.get("x").await.unwrap_err() else {
        panic!()
    };
    assert_eq!(s.code, 404);
    server.inject(Fault::new(
        FaultTarget::verb(Verb::List),
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
    ));
    let raw = reqwest_like_get(&server.url(), "/api/v1/namespaces/default/configmaps").await;
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 403, 404, 429]);
}

/// A raw HTTP/1.1 GET, headers included.
async fn reqwest_like_get(url: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn statefulsets_and_daemonsets_report_real_status() {
    let server = TestServer::start_with(Options {
        nodes: 3,
        ..Options::default()
    });
    let client = client(&server).await;
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}});
    let api = |kind: &str, plural: &str| {
        Api::<DynamicObject>::namespaced_with(
            client.clone(),
            "default",
            &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("apps", "v1", kind), plural),
        )
    };
    api("StatefulSet", "statefulsets")
        .patch("db", &ssa("cnvrgctl"), &Patch::Apply(&sts))
        .await
        .unwrap();
    api("DaemonSet", "daemonsets")
        .patch("agent", &ssa("cnvrgctl"), &Patch::Apply(&ds))
        .await
        .unwrap();
    let s = eventually("statefulset ready", || {
        let s = server.get("apps/v1", "StatefulSet", Some("default"), "db")?;
        (s["status"]["readyReplicas"] == 2).then_some(s["status"].clone())
    })
    .await;
    assert_eq!(s["currentRevision"], s["updateRevision"]);
    assert_eq!(s["currentReplicas"], 2);
    assert_eq!(s["updatedReplicas"], 2);
    assert_eq!(s["availableReplicas"], 2);
    assert_eq!(s["observedGeneration"], 1);
    assert!(
        server
            .get("v1", "PersistentVolumeClaim", Some("default"), "data-db-1")
            .is_some()
    );
    assert!(server.get("v1", "Pod", Some("default"), "db-0").is_some());
    let d = eventually("daemonset ready", || {
        let d = server.get("apps/v1", "DaemonSet", Some("default"), "agent")?;
        (d["status"]["numberReady"] == 3).then_some(d["status"].clone())
    })
    .await;
    for k in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        assert_eq!(d[k], 3, "{k}");
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_gets_410() {
    let server = TestServer::start();
    let raw = reqwest_like_get(
        &server.url(),
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=5",
    )
    .await;
    assert!(raw.contains("\"type\":\"ERROR\""), "{raw}");
    assert!(
        raw.contains("\"code\":410") && raw.contains("\"reason\":\"Expired\""),
        "{raw}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    let list = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.metadata.resource_version,
        Some(server.resource_version().to_string())
    );
}
