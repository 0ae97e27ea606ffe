//! Counts every request the client sends (each retry included), by what it
//! does, so `-v` can say how many calls a command cost and tests and benches can
//! hold the engine to its request budget. A tower layer; knows nothing else.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::{Method, Request};
use tower::{Layer, Service};

/// What a request did, read off its method and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Get,
    List,
    Watch,
    DryRun,
    Apply,
    Create,
    Delete,
    Other,
}

const CALLS: [Call; 8] = [
    Call::Get,
    Call::List,
    Call::Watch,
    Call::DryRun,
    Call::Apply,
    Call::Create,
    Call::Delete,
    Call::Other,
];

impl Call {
    fn of<B>(req: &Request<B>) -> Call {
        let query = req.uri().query().unwrap_or_default();
        let has = |p: &str| query.split('&').any(|kv| kv == p);
        if has("dryRun=All") {
            return Call::DryRun;
        }
        match *req.method() {
            Method::GET if has("watch=true") || has("watch=1") => Call::Watch,
            // A GET on a collection ends with the plural; on an object, with its name.
            // Lists are told apart by the caller's label/field selectors or by path
            // depth; discovery documents count as gets.
            Method::GET if is_collection(req.uri().path()) => Call::List,
            Method::GET => Call::Get,
            Method::PATCH | Method::PUT => Call::Apply,
            Method::POST => Call::Create,
            Method::DELETE => Call::Delete,
            _ => Call::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Call::Get => "get",
            Call::List => "list",
            Call::Watch => "watch",
            Call::DryRun => "dry-run",
            Call::Apply => "write",
            Call::Create => "create",
            Call::Delete => "delete",
            Call::Other => "other",
        }
    }
}

/// `/api/v1/namespaces/ns/pods` or `/apis/g/v/plural`: a collection (list).
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return false,
    };
    matches!(rest, [_] | ["namespaces", _, _])
}

/// Request counts, shared between the client's layer and whoever reports them.
#[derive(Debug, Default)]
pub struct Counter {
    counts: [AtomicU64; CALLS.len()],
}

impl Counter {
    pub fn record(&self, call: Call) {
        let i = CALLS.iter().position(|c| *c == call).expect("listed");
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Counts {
        Counts(std::array::from_fn(|i| {
            (CALLS[i], self.counts[i].load(Ordering::Relaxed))
        }))
    }
}

/// A snapshot of [`Counter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts([(Call, u64); CALLS.len()]);

impl Counts {
    pub fn get(&self, call: Call) -> u64 {
        self.0
            .iter()
            .find(|(c, _)| *c == call)
            .map_or(0, |(_, n)| *n)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} API requests", self.total())?;
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// The tower layer that feeds a [`Counter`].
#[derive(Clone)]
pub struct CountLayer(pub Arc<Counter>);

impl<S> Layer<S> for CountLayer {
    type Service = CountService<S>;
    fn layer(&self, inner: S) -> CountService<S> {
        CountService {
            inner,
            counter: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct CountService<S> {
    inner: S,
    counter: Arc<Counter>,
}

impl<S, B> Service<Request<B>> for CountService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.counter.record(Call::of(&req));
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, uri: &str) -> Call {
        Call::of(&Request::builder().method(method).uri(uri).body(()).unwrap())
    }

    #[test]
    fn requests_are_told_apart_by_method_path_and_query() {
        assert_eq!(call(Method::GET, "/api/v1/namespaces/a/pods"), Call::List);
        assert_eq!(call(Method::GET, "/apis/apps/v1/deployments"), Call::List);
        assert_eq!(
            call(Method::GET, "/apis/apps/v1/namespaces/a/deployments/x"),
            Call::Get
        );
        assert_eq!(
            call(Method::GET, "/api/v1/namespaces/a/pods?watch=true&rv=1"),
            Call::Watch
        );
        assert_eq!(
            call(
                Method::PATCH,
                "/api/v1/namespaces/a/secrets/s?fieldManager=cnvrgctl&dryRun=All"
            ),
            Call::DryRun
        );
        assert_eq!(
            call(Method::PATCH, "/api/v1/namespaces/a/secrets/s"),
            Call::Apply
        );
        assert_eq!(call(Method::GET, "/apis/apps/v1"), Call::Get);
    }
}
