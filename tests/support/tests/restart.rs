//! The test server restarting as kube-apiserver does in a control-plane
//! upgrade, seen over plain HTTP: 503 "apiserver is shutting down" with
//! `Retry-After` while watches still run, then open connections cut and new
//! ones refused, then serving again from the same store, changed meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use testserver::TestServer;

/// The address of `server` (`127.0.0.1:PORT`).
fn address(server: &TestServer) -> String {
    server.url().trim_start_matches("http://").to_string()
}

/// Sends a GET and returns the connection, for reading the answer.
fn get(server: &TestServer, path: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address(server))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: testserver\r\nConnection: close\r\n\r\n"
    )?;
    Ok(stream)
}

/// A GET's whole answer, headers and body.
fn answer(server: &TestServer, path: &str) -> String {
    let mut text = String::new();
    get(server, path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// Polls until `f` holds, failing after 10 s.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_restart_turns_requests_away_then_refuses_connections_then_serves_what_changed() {
    let server = TestServer::start();
    let configmaps = "/api/v1/namespaces/default/configmaps";
    let mut watch = get(&server, &format!("{configmaps}?watch=true")).unwrap();
    let mut head = [0u8; 12];
    watch.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let restart = server.restart(Duration::from_secs(1), Duration::from_secs(1));
    let shutting_down = answer(&server, configmaps);
    assert!(shutting_down.starts_with("HTTP/1.1 503"), "{shutting_down}");
    assert!(
        shutting_down.to_lowercase().contains("retry-after: 1\r\n"),
        "{shutting_down}"
    );
    assert!(
        shutting_down.contains(r#""reason":"ServiceUnavailable""#)
            && shutting_down.contains("apiserver is shutting down"),
        "{shutting_down}"
    );
    let watching = answer(
        &server,
        &format!("{configmaps}?watch=true&timeoutSeconds=1"),
    );
    assert!(watching.starts_with("HTTP/1.1 200"), "watches still run");

    restart.until_down();
    eventually(
        "connections refused",
        || matches!(get(&server, configmaps), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
    );
    let mut rest = Vec::new();
    let cut = watch.read_to_end(&mut rest);
    assert!(
        !matches!(&cut, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "the open watch was cut: {cut:?}"
    );
    // Meanwhile the cluster carries on.
    server.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "made-while-down", "namespace": "default"}}));

    restart.until_back();
    eventually("serving again", || get(&server, configmaps).is_ok());
    let back = answer(&server, configmaps);
    assert!(back.starts_with("HTTP/1.1 200"), "{back}");
    assert!(back.contains("made-while-down"), "{back}");
}
