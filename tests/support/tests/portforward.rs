//! The test server's `pods/{name}/portforward` WebSocket against kube 5's own
//! port-forward client: the greeting and echo behind a declared port, the
//! error channel for an undeclared port and for a pod that is not Running, a
//! 404 for a missing pod, and the stream closing when the pod is deleted.

mod common;

use std::time::Duration;

use common::client;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::{Value, json};
use testserver::{Behavior, PodTrouble, Target, TestServer, Verb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "echo:1",
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}},
    })
}

/// The name of the deployment's pod once it has reached `phase`.
async fn pod_in_phase(server: &TestServer, app: &str, phase: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = server
            .list("v1", "Pod", Some("default"))
            .into_iter()
            .find(|p| p["metadata"]["labels"]["app"] == app && p["status"]["phase"] == phase);
        if let Some(pod) = found {
            return pod["metadata"]["name"].as_str().unwrap().to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {phase} pod for {app}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn read_until(stream: &mut (impl AsyncReadExt + Unpin), wanted: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains(wanted) {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("read in time")
            .unwrap();
        assert!(
            n > 0,
            "EOF before {wanted:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn a_declared_port_greets_with_the_pod_name_and_echoes() {
    let server = TestServer::start();
    server.create(deployment("echo"));
    let pod = pod_in_phase(&server, "echo", "Running").await;
    let pods: Api<Pod> = Api::namespaced(client(&server).await, "default");
    let mut forwarder = pods.portforward(&pod, &[8080]).await.unwrap();
    let mut stream = forwarder.take_stream(8080).unwrap();
    let greeting = read_until(&mut stream, "\n").await;
    assert_eq!(greeting, format!("pod={pod} port=8080\n"));
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let sent = payload.clone();
    let write = tokio::spawn(async move { writer.write_all(&sent).await.unwrap() });
    let mut echoed = vec![0u8; payload.len()];
    tokio::time::timeout(Duration::from_secs(10), reader.read_exact(&mut echoed))
        .await
        .expect("echo in time")
        .unwrap();
    write.await.unwrap();
    assert_eq!(echoed, payload);
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.verb == Verb::PortForward)
        .unwrap();
    assert_eq!(request.status, 101);
    assert_eq!(request.name.as_deref(), Some(pod.as_str()));
    assert!(request.query.contains("ports=8080"), "{}", request.query);
}

#[tokio::test]
async fn an_undeclared_port_is_refused_on_the_error_channel() {
    let server = TestServer::start();
    server.create(deployment("echo"));
    let pod = pod_in_phase(&server, "echo", "Running").await;
    let pods: Api<Pod> = Api::namespaced(client(&server).await, "default");
    let mut forwarder = pods.portforward(&pod, &[9999]).await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(5), forwarder.take_error(9999).unwrap())
        .await
        .unwrap()
        .expect("an error message");
    assert!(error.contains("connection refused"), "{error}");
    assert!(error.contains("localhost:9999"), "{error}");
}

#[tokio::test]
async fn a_pod_that_is_not_running_answers_on_the_error_channel() {
    let server = TestServer::start();
    server.behave(
        Target::kind("Deployment").named("stuck"),
        Behavior::NeverReady(PodTrouble::ImagePullBackOff),
    );
    server.create(deployment("stuck"));
    let pod = pod_in_phase(&server, "stuck", "Pending").await;
    let pods: Api<Pod> = Api::namespaced(client(&server).await, "default");
    let mut forwarder = pods.portforward(&pod, &[8080]).await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(5), forwarder.take_error(8080).unwrap())
        .await
        .unwrap()
        .expect("an error message");
    assert!(error.contains("is not running"), "{error}");
}

#[tokio::test]
async fn a_missing_pod_is_404() {
    let server = TestServer::start();
    let pods: Api<Pod> = Api::namespaced(client(&server).await, "default");
    match pods.portforward("nope", &[80]).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404, "{status:?}"),
        Err(other) => panic!("expected a 404, got {other}"),
        Ok(_) => panic!("expected a 404"),
    }
}

#[tokio::test]
async fn deleting_the_pod_closes_the_stream_and_a_new_pod_takes_over() {
    let server = TestServer::start();
    server.create(deployment("echo"));
    let pod = pod_in_phase(&server, "echo", "Running").await;
    let pods: Api<Pod> = Api::namespaced(client(&server).await, "default");
    let mut forwarder = pods.portforward(&pod, &[8080]).await.unwrap();
    let mut stream = forwarder.take_stream(8080).unwrap();
    read_until(&mut stream, "\n").await;
    server.delete("v1", "Pod", Some("default"), &pod);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the stream ends once the pod is gone")
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let next = pod_in_phase(&server, "echo", "Running").await;
        if next != pod {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no replacement pod");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
