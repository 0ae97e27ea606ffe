//! One pod's size as the scheduler and a ResourceQuota count it: each
//! container's requests and limits after Kubernetes' defaulting (a missing
//! request is the limit, then the LimitRange's default), summed over the
//! containers and compared with the largest init container (sidecars, init
//! containers with `restartPolicy: Always`, add to both), as
//! `resourcehelper.PodRequests` does. Pure; [`super`] does the counting per
//! namespace.

use serde_json::Value;

use super::{Amounts, LIMITS_CPU, LIMITS_MEMORY, REQUESTS_CPU, REQUESTS_MEMORY, RESOURCES};
use crate::pipeline::manifest::Manifest;

/// Millicores and bytes of CPU and memory, per requests and limits; `None`
/// where nothing (not even a LimitRange default) sets the value.
#[derive(Clone, Copy, Default)]
pub(super) struct Sizes {
    pub(super) requests: [Option<u64>; 2],
    pub(super) limits: [Option<u64>; 2],
}

/// The LimitRange defaults (`defaultRequest`, `default`) for containers in a
/// namespace; a missing `defaultRequest` is the `default`, as the API server
/// defaults it.
pub(super) fn limit_range_defaults(members: &[&Manifest]) -> Sizes {
    let mut out = Sizes::default();
    for m in members.iter().filter(|m| m.kind() == "LimitRange") {
        for item in m.object["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"] != "Container" {
                continue;
            }
            for (i, key) in ["cpu", "memory"].into_iter().enumerate() {
                let limit = amount(&item["default"][key], i);
                let request = amount(&item["defaultRequest"][key], i).or(limit);
                out.requests[i] = out.requests[i].or(request);
                out.limits[i] = out.limits[i].or(limit);
            }
        }
    }
    out
}

/// A CPU (`i` = 0, millicores) or memory (`i` = 1, bytes) quantity.
fn amount(v: &Value, i: usize) -> Option<u64> {
    let res = if i == 0 {
        &RESOURCES[REQUESTS_CPU]
    } else {
        &RESOURCES[REQUESTS_MEMORY]
    };
    res.parse(v)
}

/// One pod's requests and limits as the scheduler and the quota count them:
/// the larger of the containers' sum and the largest init container (init
/// containers that stay running, `restartPolicy: Always`, add to both).
pub(super) fn pod_sizes(
    pod: &Value,
    object: &str,
    defaults: &Sizes,
    messages: &mut Vec<String>,
) -> Amounts {
    let mut containers = Vec::new();
    for c in pod["containers"].as_array().into_iter().flatten() {
        let sizes = container_sizes(&c["resources"], defaults);
        missing(&sizes, object, c["name"].as_str().unwrap_or("?"), messages);
        containers.push(sizes);
    }
    let mut inits = Vec::new();
    for c in pod["initContainers"].as_array().into_iter().flatten() {
        let sizes = container_sizes(&c["resources"], defaults);
        missing(&sizes, object, c["name"].as_str().unwrap_or("?"), messages);
        inits.push((sizes, c["restartPolicy"] == "Always"));
    }
    scheduled(&containers, &inits)
}

/// Kubernetes' pod requests/limits rule (`resourcehelper.PodRequests`) over
/// sized containers and init containers (with whether each is a sidecar).
pub(super) fn scheduled(containers: &[Sizes], inits: &[(Sizes, bool)]) -> Amounts {
    let mut out = [0; 7];
    for (r, pick) in [
        (REQUESTS_CPU, (false, 0)),
        (REQUESTS_MEMORY, (false, 1)),
        (LIMITS_CPU, (true, 0)),
        (LIMITS_MEMORY, (true, 1)),
    ] {
        let of = |s: &Sizes| {
            let values = if pick.0 { s.limits } else { s.requests };
            values[pick.1].unwrap_or(0)
        };
        let mut sum = containers.iter().map(of).fold(0u64, u64::saturating_add);
        let mut sidecars = 0u64;
        let mut init_max = 0u64;
        for (s, sidecar) in inits {
            if *sidecar {
                sum = sum.saturating_add(of(s));
                sidecars = sidecars.saturating_add(of(s));
            } else {
                init_max = init_max.max(of(s).saturating_add(sidecars));
            }
        }
        out[r] = sum.max(init_max);
    }
    out
}

/// A container's requests and limits after Kubernetes' defaulting: a request
/// left out is the limit (API defaulting) or else the LimitRange's default
/// request; a limit left out is the LimitRange's default limit.
pub(super) fn container_sizes(resources: &Value, defaults: &Sizes) -> Sizes {
    let mut out = Sizes::default();
    for (i, key) in ["cpu", "memory"].into_iter().enumerate() {
        let limit = amount(&resources["limits"][key], i);
        let request = amount(&resources["requests"][key], i);
        out.requests[i] = request.or(limit).or(defaults.requests[i]);
        out.limits[i] = limit.or(defaults.limits[i]);
    }
    out
}

/// A quota that counts limits refuses pods with a container that has none;
/// and a default limit below a container's own request is refused as well.
pub(super) fn missing(sizes: &Sizes, object: &str, container: &str, messages: &mut Vec<String>) {
    for (i, what) in ["cpu", "memory"].into_iter().enumerate() {
        match (sizes.requests[i], sizes.limits[i]) {
            (_, None) => messages.push(format!(
                "{object} container `{container}` has no {what} limit and no LimitRange default gives it one: the quota's limits.{what} makes the API server refuse its pods"
            )),
            (Some(req), Some(lim)) if req > lim => messages.push(format!(
                "{object} container `{container}` requests more {what} than the LimitRange's default limit it gets"
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::MI;
    use super::*;

    fn sizes(cpu_req: u64, cpu_lim: u64) -> Sizes {
        Sizes {
            requests: [Some(cpu_req), Some(0)],
            limits: [Some(cpu_lim), Some(0)],
        }
    }

    #[test]
    fn init_containers_count_as_the_scheduler_counts_them() {
        // Two containers of 100m; an init container of 300m: the pod needs 300m.
        let pod = scheduled(
            &[sizes(100, 200), sizes(100, 200)],
            &[(sizes(300, 300), false)],
        );
        assert_eq!(pod[REQUESTS_CPU], 300);
        assert_eq!(pod[LIMITS_CPU], 400);
        // A sidecar (restartPolicy Always) adds to the containers and to the
        // init containers after it.
        let pod = scheduled(
            &[sizes(100, 100)],
            &[(sizes(50, 50), true), (sizes(200, 200), false)],
        );
        assert_eq!(pod[REQUESTS_CPU], 250);
    }

    #[test]
    fn a_missing_request_is_the_limit_then_the_default() {
        let defaults = Sizes {
            requests: [Some(100), Some(128 * MI)],
            limits: [Some(500), Some(512 * MI)],
        };
        let s = container_sizes(&serde_json::json!({"limits": {"cpu": "2"}}), &defaults);
        assert_eq!(s.requests, [Some(2000), Some(128 * MI)]);
        assert_eq!(s.limits, [Some(2000), Some(512 * MI)]);
    }
}
