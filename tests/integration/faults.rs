//! Faults during apply against the test API server, and what a plain re-run
//! does afterwards: a forbidden kind (RBAC 403), an admission webhook's
//! denial, a namespace stuck terminating, the API server failing for a
//! while or restarting mid-wait, Ctrl-C at different points. Each run must stop or survive with a
//! message naming the object and the API's reason, and the re-run must
//! converge with nothing lost: generated Secrets keep their values, volumes
//! keep their identity, nothing is deleted that was not pruned on purpose.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testserver::{Behavior, Fault, FaultKind, FaultTarget, PodTrouble, Target, Verb};

use crate::common::cluster::{Env, SMALL, ctrl_c, stderr_of};

/// What must survive any fault: Secret data and PVC uids, by name.
fn kept(env: &Env) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for ns in ["cnvrg-infra", "research"] {
        for s in env.server.list("v1", "Secret", Some(ns)) {
            out.insert(
                format!("Secret/{ns}/{}", s["metadata"]["name"].as_str().unwrap()),
                s["data"].to_string(),
            );
        }
        for c in env.server.list("v1", "PersistentVolumeClaim", Some(ns)) {
            out.insert(
                format!("PVC/{ns}/{}", c["metadata"]["name"].as_str().unwrap()),
                c["metadata"]["uid"].to_string(),
            );
        }
    }
    out
}

/// Everything in `before` is still there, unchanged.
fn nothing_lost(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    for (key, value) in before {
        assert_eq!(after.get(key), Some(value), "{key} changed or went away");
    }
}

/// A re-run converges and `diff` then has nothing to say.
fn converges(env: &Env) {
    env.apply(&[]).assert().success();
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn a_forbidden_kind_names_the_object_and_the_reason_and_a_rerun_converges() {
    let env = Env::new(SMALL);
    env.server.inject(Fault::new(
        FaultTarget::method("PATCH").and_path("/rolebindings/research-agent-default"),
        FaultKind::Reject {
            code: 403,
            reason: "Forbidden".into(),
            message: "rolebindings.rbac.authorization.k8s.io \"research-agent-default\" is forbidden: User \"ops\" cannot patch resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"research\"".into(),
        },
    ));
    let out = env.apply(&[]).assert().failure().get_output().clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("RoleBinding/research/research-agent-default"),
        "{stderr}"
    );
    assert!(stderr.contains("forbidden"), "{stderr}");
    assert!(stderr.contains("re-run to continue"), "{stderr}");
    // The agents need their RoleBinding: not started.
    assert!(
        env.deployment("research", "research-agent-default")
            .is_none()
    );
    let before = kept(&env);
    assert!(before.keys().any(|k| k.starts_with("Secret/research/")));
    converges(&env);
    nothing_lost(&before, &kept(&env));
}

#[test]
fn an_admission_webhook_denial_is_reported_with_its_message() {
    let env = Env::new(SMALL);
    env.server.inject(Fault::new(
        FaultTarget::method("PATCH").and_path("/statefulsets/research-postgres"),
        FaultKind::Reject {
            code: 400,
            reason: "BadRequest".into(),
            message: "admission webhook \"images.policy.example.com\" denied the request: image docker.io/postgres is not from registry.internal".into(),
        },
    ));
    let out = env.apply(&[]).assert().failure().get_output().clone();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("StatefulSet/research/research-postgres"),
        "{stderr}"
    );
    assert!(
        stderr.contains("admission webhook \"images.policy.example.com\" denied the request"),
        "{stderr}"
    );
    assert!(
        env.deployment("research", "research-orion-server")
            .is_none()
    );
    let before = kept(&env);
    converges(&env);
    nothing_lost(&before, &kept(&env));
}

#[test]
fn a_namespace_stuck_terminating_is_a_clear_error_until_it_is_gone() {
    let env = Env::new(SMALL);
    env.apply(&[]).assert().success();
    env.server.stick_namespace("research");
    env.server.delete("v1", "Namespace", None, "research");
    let out = env
        .apply(&["--object-timeout", "5s"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("Namespace/research"), "{stderr}");
    assert!(stderr.contains("terminating"), "{stderr}");
    // Infra was not touched by the failed run.
    assert!(
        env.deployment("cnvrg-infra", "hostpath-provisioner")
            .is_some()
    );
    env.server.unstick_namespace("research");
    let until = Instant::now() + Duration::from_secs(30);
    while env
        .server
        .get("v1", "Namespace", None, "research")
        .is_some()
    {
        assert!(Instant::now() < until, "the namespace never went away");
        std::thread::sleep(Duration::from_millis(50));
    }
    converges(&env);
    assert!(
        env.deployment("research", "research-orion-server")
            .is_some()
    );
}

#[test]
fn an_api_server_failing_for_a_while_is_ridden_out() {
    let env = Env::new(SMALL);
    // Every kind of call fails a few times: reads, lists, watches, writes.
    for (target, n) in [
        (FaultTarget::verb(Verb::Apply), 4),
        (FaultTarget::verb(Verb::List), 3),
        (FaultTarget::verb(Verb::Watch), 3),
        (FaultTarget::any(), 3),
    ] {
        env.server
            .inject(Fault::new(target, FaultKind::Status(503)).times(n));
    }
    env.apply(&[]).assert().success();
    let failed = env
        .server
        .requests()
        .iter()
        .filter(|r| r.status == 503)
        .count();
    assert_eq!(failed, 13, "every injected failure was met and retried");
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn ctrl_c_at_any_point_loses_nothing_and_a_rerun_converges() {
    let env = Env::new(SMALL);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for delay_ms in [30u64, 150, 400, 900, 1600] {
        let child = env
            .process(&["apply", "--yes"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        ctrl_c(child.id());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code();
        // Before it starts writing, SIGINT simply ends the process.
        let killed = std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(2);
        assert!(
            killed || matches!(code, Some(0) | Some(130)),
            "after {delay_ms} ms: {:?}\n{stderr}",
            out.status
        );
        if code == Some(130) {
            assert!(stderr.contains("interrupted"), "{stderr}");
        }
        let now = kept(&env);
        nothing_lost(&seen, &now);
        seen = now;
    }
    converges(&env);
    nothing_lost(&seen, &kept(&env));
}

/// A local port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Forwards every connection on `listener` to `to` (a plain TCP proxy).
fn proxy(listener: std::net::TcpListener, to: std::net::SocketAddr) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(to) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c, mut s) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
                let _ = s2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

#[test]
fn an_api_server_unreachable_for_a_while_is_waited_for() {
    let env = Env::new(SMALL);
    // A kubeconfig for an address where nothing listens yet.
    let port = free_port();
    let kubeconfig = env.kubeconfig_at(port);
    let real = env.server.url();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("cnvrgctl"))
        .env_remove("KUBECONFIG")
        .args(["apply", "--yes", "-f"])
        .arg(env.dir.path().join("cluster.yaml"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Connections are refused for two seconds, then the server is back.
    std::thread::sleep(Duration::from_secs(2));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let to = real.trim_start_matches("http://").parse().unwrap();
    proxy(listener, to);
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        env.deployment("research", "research-agent-default")
            .is_some()
    );
    env.cnvrgctl(&["diff"]).assert().code(0);
}

#[test]
fn an_api_server_that_never_comes_back_is_a_cluster_error_naming_it() {
    let env = Env::new(SMALL);
    let port = free_port();
    let kubeconfig = env.kubeconfig_at(port);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("cnvrgctl"))
        .env_remove("KUBECONFIG")
        .args(["diff", "-f"])
        .arg(env.dir.path().join("cluster.yaml"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

/// The JSON events of a run in the background, line by line.
fn events(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<serde_json::Value> {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(event) = serde_json::from_str(&line) {
                let _ = tx.send(event);
            }
        }
    });
    rx
}

#[test]
fn an_api_server_restarting_mid_wait_pauses_the_failure_grace() {
    let env = Env::new(SMALL);
    let postgres = Target::kind("StatefulSet").named("research-postgres");
    env.server.behave(
        postgres.clone(),
        Behavior::NeverReady(PodTrouble::ImagePullBackOff),
    );
    let mut child = env
        .process(&["apply", "--yes", "-o", "json", "--failure-grace", "3s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let events = events(&mut child);
    let mut seen = Vec::new();
    let troubled = |e: &serde_json::Value| {
        e["event"] == "waiting"
            && e["object"] == "StatefulSet/research/research-postgres"
            && e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("ImagePullBackOff")
    };
    while !seen.iter().any(troubled) {
        let event = events
            .recv_timeout(Duration::from_secs(60))
            .expect("the pod's trouble is shown");
        seen.push(event);
    }
    // The API server restarts for longer than the grace; while it is down
    // the pull succeeds and the pod becomes ready.
    let restart = env
        .server
        .restart(Duration::from_millis(500), Duration::from_secs(4));
    restart.until_down();
    env.server.behave(
        postgres,
        Behavior::Ready {
            after: Duration::from_millis(50),
        },
    );
    restart.until_back();
    seen.extend(events.iter());
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{seen:#?}");
    assert!(!seen.iter().any(|e| e["event"] == "failed"), "{seen:#?}");
    let unreachable: Vec<&serde_json::Value> = seen
        .iter()
        .filter(|e| e["event"] == "waiting")
        .filter(|e| e["object"] == "StatefulSet/research/research-postgres")
        .filter(|e| {
            e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("API server")
        })
        .collect();
    assert!(!unreachable.is_empty(), "{seen:#?}");
    assert!(
        unreachable.iter().all(|e| {
            let detail = e["detail"].as_str().unwrap_or_default();
            detail.contains("unreachable") || detail.contains("shutting down")
        }),
        "{unreachable:#?}"
    );
    env.cnvrgctl(&["diff"]).assert().code(0);
}
