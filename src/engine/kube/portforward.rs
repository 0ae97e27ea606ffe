//! Port-forward: the bytes of one local connection to and from one port of
//! one pod, through the API server's `pods/{name}/portforward` WebSocket
//! (kube's `Portforwarder`, one upgrade per connection). Which pod, and when,
//! is the caller's choice; this only moves bytes and says how it ended.
//!
//! The port's error channel (`take_error()`) is the source of truth for a
//! forward that failed: kube's `join()` also fails ("Sending after closing is
//! not allowed") when the pod side closed first, which is a normal end, so its
//! result is never looked at. The v4 WebSocket protocol has no half-close: when
//! the local side stops sending, kube ends the whole connection.

use std::pin::Pin;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Cluster, ClusterError};

/// How long kube's background task may take to close the WebSocket after a
/// connection ended before it is aborted.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// What one forwarded connection moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// Bytes from the local side to the pod.
    pub sent: u64,
    /// Bytes from the pod to the local side.
    pub received: u64,
}

/// How a forwarded connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The stream could not be opened: the pod is gone, access is denied, the
    /// API server is out of reach.
    #[error(transparent)]
    Open(#[from] ClusterError),
    /// The pod side reported an error on the port's error channel (nothing
    /// listens on the port, the pod stopped running).
    #[error("Pod/{namespace}/{pod} port {port}: {message}")]
    Pod {
        namespace: String,
        pod: String,
        port: u16,
        message: String,
        forwarded: Forwarded,
    },
    /// Reading or writing a side failed (the local client reset the
    /// connection, the stream to the pod broke).
    #[error("connection broke after {} bytes sent, {} received: {error}", .forwarded.sent, .forwarded.received)]
    Broken {
        error: std::io::Error,
        forwarded: Forwarded,
    },
}

impl Cluster {
    /// Forwards `local` to `port` of pod `namespace/pod` until either side
    /// closes (or the pod reports an error). Opening the stream counts as one
    /// call (retried and timed like every other); the connection itself has
    /// no time limit.
    pub async fn port_forward<L>(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        local: L,
    ) -> Result<Forwarded, ForwardError>
    where
        L: AsyncRead + AsyncWrite + Unpin,
    {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut forwarder = self
            .call(
                &format!("Pod/{namespace}/{pod}"),
                "port-forward to",
                api.portforward(pod, &[port]),
            )
            .await?;
        let remote = forwarder
            .take_stream(port)
            .expect("kube gives a stream for each port asked for");
        let mut error = std::pin::pin!(
            forwarder
                .take_error(port)
                .expect("kube gives an error channel for each port asked for")
        );
        let (outcome, resolved) = pump(local, remote, error.as_mut()).await;
        // The stream to the pod is dropped: kube closes the WebSocket and its
        // task ends, which resolves the error channel (with `None`). After an
        // error the port is unusable: no need to wait. (A resolved channel
        // must not be polled again.)
        let ended = match (&outcome, resolved) {
            (Outcome::Pod(..), _) => false,
            (_, true) => true,
            (_, false) => tokio::time::timeout(WIND_DOWN, error).await.is_ok(),
        };
        if !ended {
            forwarder.abort();
        }
        match outcome {
            Outcome::Done(forwarded) => Ok(forwarded),
            Outcome::Pod(message, forwarded) => Err(ForwardError::Pod {
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                port,
                message,
                forwarded,
            }),
            Outcome::Broken(error, forwarded) => Err(ForwardError::Broken { error, forwarded }),
        }
    }
}

enum Outcome {
    Done(Forwarded),
    Pod(String, Forwarded),
    Broken(std::io::Error, Forwarded),
}

/// Copies both ways until the pod's side ends (after the local side ended,
/// kube ends it too), the pod reports an error, or a side breaks. Also says
/// whether the error channel resolved (with an error, or with `None` once
/// kube's task has ended).
async fn pump<L, R, E>(local: L, remote: R, mut error: Pin<&mut E>) -> (Outcome, bool)
where
    L: AsyncRead + AsyncWrite + Unpin,
    R: AsyncRead + AsyncWrite + Unpin,
    E: Future<Output = Option<String>>,
{
    let (mut local_read, mut local_write) = tokio::io::split(local);
    let (mut remote_read, mut remote_write) = tokio::io::split(remote);
    let (mut sent, mut received) = (0, 0);
    let mut up_done = false;
    let mut task_ended = false;
    // Ok(Some(message)): the pod reported an error; Ok(None): the pod's side
    // ended; Err: a side broke.
    let end: std::io::Result<Option<String>> = {
        let up = copy(&mut local_read, &mut remote_write, &mut sent);
        let down = copy(&mut remote_read, &mut local_write, &mut received);
        tokio::pin!(up, down);
        loop {
            tokio::select! {
                result = &mut up, if !up_done => {
                    up_done = true;
                    if let Err(e) = result {
                        break Err(e);
                    }
                }
                result = &mut down => break result.map(|()| None),
                message = error.as_mut(), if !task_ended => match message {
                    Some(message) => break Ok(Some(message)),
                    // kube's task ended; what it wrote is still to be read.
                    None => task_ended = true,
                },
            }
        }
    };
    let forwarded = Forwarded { sent, received };
    let broke = match end {
        Ok(Some(message)) => return (Outcome::Pod(message, forwarded), true),
        Ok(None) => None,
        Err(e) => Some(e),
    };
    // kube hands an error over before it ends the stream, so an error that
    // ended it is here by now.
    if !task_ended && let Some(resolved) = error.as_mut().now_or_never() {
        match resolved {
            Some(message) => return (Outcome::Pod(message, forwarded), true),
            None => task_ended = true,
        }
    }
    let outcome = match broke {
        Some(e) => Outcome::Broken(e, forwarded),
        None => Outcome::Done(forwarded),
    };
    (outcome, task_ended)
}

/// Copies `from` into `to` until `from` ends, then shuts `to` down; counts
/// the bytes in `moved`.
async fn copy<R, W>(from: &mut R, to: &mut W, moved: &mut u64) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        *moved += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod side that greets, echoes one read, then closes.
    async fn echo_once(mut pod: tokio::io::DuplexStream) {
        pod.write_all(b"hello\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = pod.read(&mut buf).await.unwrap();
        pod.write_all(&buf[..n]).await.unwrap();
    }

    #[tokio::test]
    async fn bytes_go_both_ways_and_are_counted() {
        let (local, mut user) = tokio::io::duplex(1024);
        let (remote, pod) = tokio::io::duplex(1024);
        let never = std::pin::pin!(futures::future::pending::<Option<String>>());
        let server = tokio::spawn(echo_once(pod));
        let client = tokio::spawn(async move {
            let mut got = vec![0u8; 6];
            user.read_exact(&mut got).await.unwrap();
            user.write_all(b"ping").await.unwrap();
            let mut rest = Vec::new();
            user.read_to_end(&mut rest).await.unwrap();
            (got, rest)
        });
        let (outcome, ended) = pump(local, remote, never).await;
        server.await.unwrap();
        let (greeting, echoed) = client.await.unwrap();
        assert_eq!(greeting, b"hello\n");
        assert_eq!(echoed, b"ping");
        assert!(!ended);
        match outcome {
            Outcome::Done(f) => assert_eq!(
                f,
                Forwarded {
                    sent: 4,
                    received: 10
                }
            ),
            _ => panic!("expected a clean end"),
        }
    }

    #[tokio::test]
    async fn an_error_on_the_error_channel_wins_over_a_clean_end() {
        let (local, _user) = tokio::io::duplex(1024);
        let (remote, pod) = tokio::io::duplex(1024);
        // The pod side ends at once, its error already handed over.
        drop(pod);
        let error = std::pin::pin!(async { Some("connection refused".to_string()) });
        let (outcome, ended) = pump(local, remote, error).await;
        assert!(ended);
        assert!(matches!(outcome, Outcome::Pod(m, _) if m == "connection refused"));
    }
}
