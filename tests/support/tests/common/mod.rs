//! What the test server's client tests share: a kube client through the
//! server's kubeconfig, and polling for an outcome the controller reaches.
#![allow(dead_code)] // each test binary uses its part

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use testserver::TestServer;

pub async fn client(server: &TestServer) -> Client {
    let kc = Kubeconfig::read_from(server.kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Polls until `f` returns Some, failing after 10 s.
pub async fn eventually<T, F: FnMut() -> Option<T>>(what: &str, mut f: F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
