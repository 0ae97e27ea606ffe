//! When to send a request again: 429 (honouring `Retry-After`, capped), the
//! 5xx statuses an API server gives while it or etcd is briefly unwell, and a
//! connection that failed, with exponential backoff and a bounded number of
//! attempts (about 23 s of waiting in all). Every request cnvrgctl
//! sends is idempotent (reads, server-side apply, deletes, access reviews), so
//! retrying is safe.
//! Each attempt's result is also reported to the cluster's [`Health`].

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::retry::Policy;

use super::health::Health;

/// Attempts after the first.
const MAX_RETRIES: u32 = 8;
/// First backoff; doubles each time.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// No single wait is longer than this, whatever `Retry-After` says.
const MAX_DELAY: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct RetryPolicy {
    attempt: u32,
    health: Arc<Health>,
}

impl RetryPolicy {
    pub fn new(health: Arc<Health>) -> RetryPolicy {
        RetryPolicy { attempt: 0, health }
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The wait before retry number `attempt` (0-based).
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = FIRST_DELAY.saturating_mul(1 << attempt.min(16));
    retry_after.unwrap_or(exponential).min(MAX_DELAY)
}

impl<Res> Policy<Request<Body>, Response<Res>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        self.health.record(result);
        if self.attempt >= MAX_RETRIES {
            return None;
        }
        let retry_after = match result {
            Ok(response) if retryable(response.status()) => response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            Ok(_) => return None,
            // The connection failed: the server is restarting or out of reach.
            Err(_) => None,
        };
        let delay = backoff(self.attempt, retry_after);
        self.attempt += 1;
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        let body = req.body().try_clone()?;
        let mut copy = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after_up_to_a_cap() {
        assert_eq!(backoff(0, None), Duration::from_millis(100));
        assert_eq!(backoff(3, None), Duration::from_millis(800));
        assert_eq!(backoff(10, None), MAX_DELAY);
        assert_eq!(
            backoff(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(backoff(0, Some(Duration::from_secs(3600))), MAX_DELAY);
    }

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        for code in [429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 410, 422] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
