//! Injected faults: a request matching a fault's target (method, path
//! substring, verb) gets the fault instead of (or before) its normal answer,
//! `times` times, then the fault is gone. Only matching and the error bodies
//! live here; the server applies the resulting actions.

use std::time::Duration;

use serde_json::json;

use crate::Verb;
use crate::errors::ApiError;

/// Which requests a fault hits; unset parts match anything.
#[derive(Debug, Clone, Default)]
pub struct FaultTarget {
    pub method: Option<String>,
    pub path: Option<String>,
    pub verb: Option<Verb>,
}

impl FaultTarget {
    /// Every request.
    pub fn any() -> FaultTarget {
        FaultTarget::default()
    }
    pub fn verb(verb: Verb) -> FaultTarget {
        FaultTarget {
            verb: Some(verb),
            ..FaultTarget::default()
        }
    }
    pub fn path(substring: &str) -> FaultTarget {
        FaultTarget {
            path: Some(substring.into()),
            ..FaultTarget::default()
        }
    }
    pub fn method(method: &str) -> FaultTarget {
        FaultTarget {
            method: Some(method.to_uppercase()),
            ..FaultTarget::default()
        }
    }
    pub fn and_verb(mut self, verb: Verb) -> FaultTarget {
        self.verb = Some(verb);
        self
    }
    pub fn and_path(mut self, substring: &str) -> FaultTarget {
        self.path = Some(substring.into());
        self
    }
    pub fn and_method(mut self, method: &str) -> FaultTarget {
        self.method = Some(method.to_uppercase());
        self
    }

    fn matches(&self, method: &str, path: &str, verb: Verb) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| path.contains(p))
            && self.verb.is_none_or(|v| v == verb)
    }
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this code and a Status body (500 `InternalError`, 503 `ServiceUnavailable`, ...).
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait before answering normally.
    Delay(Duration),
    /// Close a matching watch stream after this many events.
    DropWatch { after_events: u32 },
    /// Any denial: admission webhook (`admission webhook "x" denied the request: ...`), RBAC 403, ...
    Reject {
        code: u16,
        reason: String,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub target: FaultTarget,
    pub kind: FaultKind,
    pub times: u32,
}

impl Fault {
    /// A fault that fires once.
    pub fn new(target: FaultTarget, kind: FaultKind) -> Fault {
        Fault {
            target,
            kind,
            times: 1,
        }
    }
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// What the server does about the faults a request hit.
#[derive(Debug, Default)]
pub struct Actions {
    pub delay: Duration,
    pub respond: Option<ApiError>,
    pub drop_watch_after: Option<u32>,
}

fn status_error(code: u16) -> ApiError {
    let (reason, message) = match code {
        400 => (
            "BadRequest",
            "the server rejected our request for an unknown reason",
        ),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "forbidden: injected fault"),
        404 => (
            "NotFound",
            "the server could not find the requested resource",
        ),
        409 => ("Conflict", "the server reported a conflict"),
        410 => ("Expired", "the resource version is too old"),
        422 => (
            "Invalid",
            "the server rejected our request due to an error in our request",
        ),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request",
        ),
        _ => ("InternalError", "Internal error occurred: injected fault"),
    };
    ApiError::new(code, reason, message)
}

/// Consumes the faults matching a request and says what to do.
pub fn take(faults: &mut Vec<Fault>, method: &str, path: &str, verb: Verb) -> Actions {
    let mut actions = Actions::default();
    for f in faults
        .iter_mut()
        .filter(|f| f.times > 0 && f.target.matches(method, path, verb))
    {
        if actions.respond.is_some() && !matches!(f.kind, FaultKind::Delay(_)) {
            continue;
        }
        match &f.kind {
            FaultKind::Delay(d) => actions.delay += *d,
            FaultKind::DropWatch { after_events } => {
                if verb != Verb::Watch {
                    continue;
                }
                actions.drop_watch_after = Some(*after_events);
            }
            FaultKind::Status(code) => actions.respond = Some(status_error(*code)),
            FaultKind::TooManyRequests { retry_after_secs } => {
                let mut e = status_error(429)
                    .with_details(json!({ "retryAfterSeconds": retry_after_secs }));
                e.headers
                    .push(("Retry-After".into(), retry_after_secs.to_string()));
                actions.respond = Some(e);
            }
            FaultKind::Reject {
                code,
                reason,
                message,
            } => {
                actions.respond = Some(ApiError::new(*code, reason, message.clone()));
            }
        }
        f.times -= 1;
    }
    faults.retain(|f| f.times > 0);
    actions
}
