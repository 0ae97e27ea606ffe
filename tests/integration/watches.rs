//! The waits' watches on a busy API server: a watch ends (the server's
//! timeout) while the objects it follows change no more but others keep
//! changing, and the server's bounded history moves on. A well-behaved
//! client resumes from the resourceVersion of the server's last bookmark
//! (sent just before the watch ends, as kube-apiserver's watch cache does),
//! and lists again only on 410 Gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use testserver::{Behavior, Target, TestServer, Verb};

use crate::common::cluster::{Env, SMALL};

/// One Deployment in another namespace, applied again with a new
/// annotation every 100 ms until `stop`.
fn churn(server: &TestServer, stop: &AtomicBool) {
    server.create(json!({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "noise"}}));
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        server.apply_as(
            "someone-else",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "noise", "namespace": "noise",
                                "annotations": {"n": n.to_string()}},
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "noise"}},
                            "template": {"metadata": {"labels": {"app": "noise"}},
                                         "spec": {"containers": [{"name": "c", "image": "noise"}]}}}}),
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_watch_that_ends_on_a_busy_server_resumes_without_listing_again() {
    // History holds 5 s of the churn; watches end after 8 s; the tenant's
    // Deployments take 10 s, so their wait outlives a watch.
    let server = TestServer::start_with(testserver::Options {
        history: 50,
        watch_timeout: Some(Duration::from_secs(8)),
        ..testserver::Options::default()
    });
    server.behave(
        Target::kind("Deployment").in_namespace("research"),
        Behavior::Ready {
            after: Duration::from_secs(10),
        },
    );
    let env = Env::with_server(SMALL, server);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| churn(&env.server, &stop));
        env.apply(&[]).assert().success();
        stop.store(true, Ordering::Relaxed);
    });
    let requests = env.server.requests();
    // A request covers the namespace when made in it or cluster-wide (as
    // observe lists a kind once for every scope).
    let deployments_in_research = |verb| {
        requests
            .iter()
            .filter(|r| {
                r.verb == verb
                    && r.resource.as_deref() == Some("deployments")
                    && matches!(r.namespace.as_deref(), None | Some("research"))
            })
            .count()
    };
    assert!(
        deployments_in_research(Verb::Watch) >= 2,
        "the wait outlived a watch, which resumed"
    );
    assert_eq!(
        deployments_in_research(Verb::List),
        2,
        "observe's list and the wait's: no list again"
    );
}
