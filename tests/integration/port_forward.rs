//! `cnvrgctl port-forward` against the test API server, whose
//! `pods/{name}/portforward` greets each forwarded connection with
//! `pod=<name> port=<port>\n` and then echoes: the binary runs as a child
//! process, the test connects to its local port as a user's browser would,
//! deletes pods under it, and stops it with SIGINT. The refusals (unknown
//! tenant, a component of the other tenant type, a local port in use) need no
//! installed tenant.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;
use testserver::{Behavior, PodTrouble, Target};

use crate::common::cluster::{Env, SMALL};

/// Generous: the child builds nothing, but CI machines are slow and shared.
const PATIENCE: Duration = Duration::from_secs(20);

const SERVICE: &str = "research/research-orion-server";

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `cnvrgctl port-forward`, killed if the test fails before it
/// stops it; its stderr lines collected as they come.
struct Forwarder {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Forwarder {
    fn spawn(env: &Env, args: &[&str]) -> Forwarder {
        let mut child = env
            .process(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                eprintln!("port-forward: {line}");
                lines.lock().unwrap().push(line);
            }
        });
        Forwarder { child, stderr }
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until a stderr line satisfies `wanted`, returning it.
    fn wait_for_line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.stderr().into_iter().find(|l| wanted(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no stderr line {what}; got {:#?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, as Ctrl-C sends; the exit status once the process has ended.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        crate::common::cluster::ctrl_c(self.child.id());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to the forwarder, once its port accepts.
fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => {
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                return stream;
            }
            Err(e) => assert!(Instant::now() < deadline, "port {port} never accepted: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The greeting line of the pod that answered, or `None` when the forwarder
/// closed the connection without one.
fn greeting(stream: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if byte[0] == b'\n' => return Some(String::from_utf8(line).unwrap()),
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("reading the greeting: {e}"),
        }
    }
}

/// Sends `size` bytes and reads them back.
fn echoes(stream: &mut TcpStream, size: usize) {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = payload.clone();
    let write = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut echoed = vec![0u8; size];
    stream.read_exact(&mut echoed).unwrap();
    write.join().unwrap();
    assert!(echoed == payload, "the echo differs from what was sent");
}

/// The names of the orion server's pods on the server, Ready or not.
fn orion_pods(env: &Env) -> Vec<(String, bool)> {
    env.server
        .list("v1", "Pod", Some("research"))
        .into_iter()
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("research-orion-server-"))
        })
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (p["metadata"]["name"].as_str().unwrap().to_string(), ready)
        })
        .collect()
}

/// Opens connections until one is answered by a pod other than `old`
/// (connections closed for want of a ready pod are retried).
fn answered_by_another_pod(port: u16, old: &str) -> (TcpStream, String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut stream = connect(port);
        if let Some(line) = greeting(&mut stream) {
            let pod = line
                .strip_prefix("pod=")
                .and_then(|rest| rest.strip_suffix(" port=4200"))
                .unwrap_or_else(|| panic!("unexpected greeting {line:?}"))
                .to_string();
            if pod != old {
                return (stream, pod);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no connection answered by a pod other than {old}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_connection_gets_a_ready_pod_across_pod_restarts_until_ctrl_c() {
    let env = Env::new(SMALL);
    env.install();
    let port = free_port().to_string();
    let mut forwarder = Forwarder::spawn(
        &env,
        &[
            "port-forward",
            "orion",
            "--tenant",
            "research",
            "--port",
            &port,
            "-vv",
        ],
    );
    let port: u16 = port.parse().unwrap();

    // The first connection: the one ready pod answers on 4200, and echoes.
    let mut first = connect(port);
    let first_pod = greeting(&mut first).expect("a greeting");
    let pods = orion_pods(&env);
    let [(pod, true)] = pods.as_slice() else {
        panic!("one ready orion pod: {pods:?}");
    };
    let pod = pod.clone();
    assert_eq!(first_pod, format!("pod={pod} port=4200"));
    echoes(&mut first, 256 * 1024);
    forwarder.wait_for_line("announcing the forward", |l| {
        l == format!(
            "Forwarding http://127.0.0.1:{port} -> service {SERVICE}:4200 (Ctrl-C to stop)"
        )
    });

    // The pod goes: its connection ends; the ReplicaSet makes a new pod, and
    // the next connection is carried by it, with the same process running.
    env.server.delete("v1", "Pod", Some("research"), &pod);
    let mut rest = Vec::new();
    first.read_to_end(&mut rest).unwrap();
    let (mut second, new_pod) = answered_by_another_pod(port, &pod);
    assert!(
        orion_pods(&env).contains(&(new_pod.clone(), true)),
        "the controller replaced {pod} with a ready {new_pod}: {:?}",
        orion_pods(&env)
    );
    echoes(&mut second, 64 * 1024);
    // Two connections at once, on the same pod.
    let mut third = connect(port);
    assert_eq!(
        greeting(&mut third),
        Some(format!("pod={new_pod} port=4200"))
    );
    echoes(&mut third, 1024);
    echoes(&mut second, 1024);
    drop((second, third));
    for pod in [&pod, &new_pod] {
        forwarder.wait_for_line("naming the pod of a connection", |l| {
            l.ends_with(&format!("-> pod research/{pod}:4200"))
        });
    }
    // The second connection: its greeting, then the echo of what it sent.
    let sent = 64 * 1024 + 1024;
    let received = format!("pod={new_pod} port=4200\n").len() + sent;
    forwarder.wait_for_line("counting the bytes of a closed connection", |l| {
        l.ends_with(&format!(
            "-> pod research/{new_pod}:4200: closed ({sent} bytes sent, {received} received)"
        ))
    });

    // No ready pod: a connection is closed at once, with a warning naming the
    // Service and why.
    env.server.behave(
        Target::kind("Pod")
            .in_namespace("research")
            .named("research-orion-server-*"),
        Behavior::NeverReady(PodTrouble::CrashLoopBackOff),
    );
    env.server.delete("v1", "Pod", Some("research"), &new_pod);
    let deadline = Instant::now() + PATIENCE;
    let warning = loop {
        let mut stream = connect(port);
        assert_eq!(greeting(&mut stream), None, "no pod is ready to answer");
        let found = forwarder.stderr().into_iter().find(|l| {
            l.contains(&format!(
                ": connection closed: no ready pod behind Service {SERVICE}: pod research-orion-server-"
            )) && l.contains(": not ready (CrashLoopBackOff: ")
        });
        if let Some(line) = found {
            break line;
        }
        assert!(Instant::now() < deadline, "{:#?}", forwarder.stderr());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(warning.starts_with("warning: 127.0.0.1:"), "{warning}");

    // Ctrl-C stops it cleanly.
    let status = forwarder.interrupt();
    assert_eq!(status.code(), Some(0), "{:#?}", forwarder.stderr());

    // Started with no ready pod: a cluster error, exit 3.
    env.cnvrgctl(&[
        "port-forward",
        "orion",
        "--tenant",
        "research",
        "--port",
        "0",
    ])
    .assert()
    .code(3)
    .stderr(predicate::str::contains(format!(
        "error: no ready pod behind Service {SERVICE}: pod research-orion-server-"
    )))
    .stderr(predicate::str::contains(": not ready (CrashLoopBackOff: "));
}

#[test]
fn an_unknown_tenant_is_a_usage_error_naming_the_spec_tenants() {
    let env = Env::new(SMALL);
    env.cnvrgctl(&["port-forward", "orion", "--tenant", "vision"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: --tenant: no tenant `vision` in the spec (tenants: research)",
        ));
    assert!(env.server.requests().is_empty());
}

#[test]
fn a_component_of_the_other_tenant_type_is_a_usage_error_listing_the_ones_it_has() {
    let env = Env::new(SMALL);
    env.cnvrgctl(&["port-forward", "webapp", "--tenant", "research"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: `webapp` is not a component of tenant `research` (type workspace); a workspace tenant has: orion",
        ));
    env.cnvrgctl(&["port-forward", "jupyter", "--tenant", "research"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: orion, webapp, grafana, kibana, minio]",
        ));
    assert!(env.server.requests().is_empty());
}

#[test]
fn a_local_port_in_use_is_refused_naming_the_address() {
    let env = Env::new(SMALL);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    env.cnvrgctl(&[
        "port-forward",
        "orion",
        "--tenant",
        "research",
        "--port",
        &port,
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains(format!(
        "error: cannot listen on 127.0.0.1:{port}: "
    )))
    .stderr(predicate::str::contains(
        "; choose another local port with --port",
    ));
    assert!(env.server.requests().is_empty());
}

#[test]
fn every_component_names_a_service_port_the_templates_render() {
    let (spec, manifests) = crate::common::render_example("multi-tenant");
    let mut checked = 0;
    for tenant in &spec.tenants {
        for component in cnvrgctl::engine::forward::COMPONENT_NAMES {
            let Ok(wanted) =
                cnvrgctl::engine::forward::service_port(component, &tenant.name, tenant.kind)
            else {
                continue;
            };
            let service: &Value = &manifests
                .iter()
                .find(|m| {
                    m.kind() == "Service"
                        && m.namespace() == Some(tenant.namespace.as_str())
                        && m.name() == wanted.service
                })
                .unwrap_or_else(|| panic!("{}: no Service {}", tenant.name, wanted.service))
                .object;
            assert!(
                cnvrgctl::engine::forward::target_port(service, wanted.port).is_ok(),
                "{}: Service {} has no port {}",
                tenant.name,
                wanted.service,
                wanted.port
            );
            checked += 1;
        }
    }
    // orion of research and vision; the four of team-a.
    assert_eq!(checked, 6);
}
