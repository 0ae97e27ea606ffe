//! Whether the API server is answering, as the requests find it. Every
//! attempt (each retry included) reports here through the retry policy: a
//! connection that fails, or a 502/503 (a server shutting down answers 503
//! "apiserver is shutting down"; a load balancer with no server behind it,
//! 502 or 503), makes it unreachable; any other answer makes it answering
//! again. Watches listen to it, so a wait can tell "the API server is away"
//! from "nothing changed". Knows nothing of what is waited on.

use http::{Response, StatusCode};
use tokio::sync::watch;
use tower::BoxError;

/// What the last request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Answering,
    /// A sentence naming the server and what happened.
    Unreachable(String),
}

/// The API server's reachability, shared by the client's retry policy (which
/// reports) and the watches (which listen).
#[derive(Debug)]
pub struct Health {
    server: String,
    reach: watch::Sender<Reach>,
}

impl Health {
    pub fn new(server: &str) -> Health {
        Health {
            server: server.trim_end_matches('/').to_string(),
            reach: watch::Sender::new(Reach::Answering),
        }
    }

    /// Takes in one attempt's result; listeners hear only changes.
    pub fn record<B>(&self, result: &Result<Response<B>, BoxError>) {
        let now = match unreachable(result) {
            None => Reach::Answering,
            Some(why) => Reach::Unreachable(format!("the API server at {} {why}", self.server)),
        };
        self.reach.send_if_modified(|reach| {
            let changed = *reach != now;
            *reach = now;
            changed
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<Reach> {
        self.reach.subscribe()
    }
}

/// Why an attempt's result means the server is away, `None` when it answered.
fn unreachable<B>(result: &Result<Response<B>, BoxError>) -> Option<String> {
    match result {
        Ok(response) => match response.status() {
            status @ (StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE) => Some(format!(
                "is unavailable ({status}): it may be shutting down or restarting"
            )),
            _ => None,
        },
        Err(e) => Some(format!("is unreachable: {}", super::error_chain(&**e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(code).body(()).unwrap())
    }

    #[test]
    fn refused_connections_and_503s_make_it_unreachable_and_any_answer_answering() {
        let health = Health::new("https://10.0.0.1:6443/");
        let mut heard = health.subscribe();
        health.record(&answer(200));
        assert!(!heard.has_changed().unwrap(), "no change, nothing heard");
        health.record(&answer(503));
        assert_eq!(
            *heard.borrow_and_update(),
            Reach::Unreachable(
                "the API server at https://10.0.0.1:6443 is unavailable (503 Service Unavailable): it may be shutting down or restarting".into()
            )
        );
        let refused: Result<Response<()>, BoxError> =
            Err("tcp connect error: Connection refused".into());
        health.record(&refused);
        assert_eq!(
            *heard.borrow_and_update(),
            Reach::Unreachable(
                "the API server at https://10.0.0.1:6443 is unreachable: tcp connect error: Connection refused".into()
            )
        );
        health.record(&answer(404));
        assert_eq!(*heard.borrow_and_update(), Reach::Answering);
        health.record(&answer(429));
        assert!(!heard.has_changed().unwrap(), "throttled is answering");
    }
}
