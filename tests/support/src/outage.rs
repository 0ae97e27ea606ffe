//! The API server restarting, as in a control-plane upgrade. First it is
//! shutting down: it takes no new requests but watches (long-running ones)
//! and health checks, answering 503 `ServiceUnavailable` "apiserver is
//! shutting down" with `Retry-After: 1`, as kube-apiserver's `WithWaitGroup`
//! filter does. Then it is gone: every open connection is closed (watches
//! are cut) and connections are refused. Then it serves again on the same
//! port from the same store; the controller (kubelet, scheduler...) carried
//! on meanwhile, so the state has moved on. Only the phases and the answer
//! live here; the listener and connections are the server's.

use std::time::Duration;

use tokio::sync::watch;

use crate::Verb;
use crate::errors::ApiError;

/// Where the server is in a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Serving,
    /// New requests are turned away with a 503; watches still run.
    ShuttingDown,
    /// Nothing listens; open connections are closed.
    Down,
}

/// The answer to a request while shutting down, `None` when it is served:
/// watches, port-forwards and health checks always are.
pub fn turned_away(phase: Phase, verb: Verb, health: bool) -> Option<ApiError> {
    if phase != Phase::ShuttingDown || health || matches!(verb, Verb::Watch | Verb::PortForward) {
        return None;
    }
    let mut e = ApiError::new(503, "ServiceUnavailable", "apiserver is shutting down");
    e.headers.push(("Retry-After".into(), "1".into()));
    Some(e)
}

/// Resolves once the server is down: a connection must close then.
pub async fn gone(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.wait_for(|p| *p == Phase::Down).await;
}

/// A restart under way, played on its own thread.
pub struct Restart {
    down: std::sync::mpsc::Receiver<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Restart {
    /// Starts playing a restart on `phase`: shutting down, down, serving again.
    pub(crate) fn start(
        phase: watch::Sender<Phase>,
        shutting_down: Duration,
        down: Duration,
    ) -> Restart {
        let (tx, rx) = std::sync::mpsc::channel();
        // Shutting down from the moment this returns, not once the thread runs.
        phase.send_replace(Phase::ShuttingDown);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(shutting_down);
            phase.send_replace(Phase::Down);
            let _ = tx.send(());
            std::thread::sleep(down);
            phase.send_replace(Phase::Serving);
        });
        Restart { down: rx, thread }
    }

    /// Blocks until the server is down (connections refused).
    pub fn until_down(&self) {
        let _ = self.down.recv();
    }

    /// Blocks until the server serves again.
    pub fn until_back(self) {
        self.thread
            .join()
            .expect("the restart thread does not panic");
    }
}

/// Listens on `port` again (the old socket is closed; the address may take
/// a moment to be free).
pub async fn listen_again(port: u16) -> tokio::net::TcpListener {
    let mut tries = 0;
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(_) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("testserver: cannot listen on port {port} again: {e}"),
        }
    }
}
