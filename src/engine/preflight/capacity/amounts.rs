//! Amounts of node resources as the scheduler counts them: CPU in millicores
//! (a quantity's `MilliValue`, rounded up), everything else (memory, `pods`,
//! `nvidia.com/gpu` and any other extended resource) in whole units. A pod's
//! requests follow Kubernetes' effective-request rule
//! (`resourcehelper.PodRequests`): the larger of the app containers' sum and
//! the largest init container, sidecars (init containers with
//! `restartPolicy: Always`) adding to both, plus the pod's `overhead`. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::pipeline::spec::Quantity;

/// The CPU resource: the only one counted in millicores.
pub(super) const CPU: &str = "cpu";
pub(super) const MEMORY: &str = "memory";
/// The pod slots of a node (`status.allocatable.pods`); every pod takes one.
pub(super) const PODS: &str = "pods";

/// Resource name → amount (millicores for CPU, units for the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Amounts(pub(super) BTreeMap<String, u64>);

impl Amounts {
    /// A resource list (`requests`, `allocatable`, `overhead`); values that
    /// are not quantities are left out (the API server refuses them anyway).
    pub(super) fn parse(list: &Value) -> Amounts {
        let mut out = Amounts::default();
        for (name, v) in list.as_object().into_iter().flatten() {
            if let Some(amount) = amount(name, v) {
                out.0.insert(name.clone(), amount);
            }
        }
        out
    }

    pub(super) fn get(&self, resource: &str) -> u64 {
        self.0.get(resource).copied().unwrap_or(0)
    }

    pub(super) fn add(&mut self, other: &Amounts) {
        for (name, v) in &other.0 {
            let slot = self.0.entry(name.clone()).or_default();
            *slot = slot.saturating_add(*v);
        }
    }

    /// `self - other` per resource, never below 0.
    pub(super) fn minus(&self, other: &Amounts) -> Amounts {
        let mut out = self.clone();
        for (name, v) in &other.0 {
            let slot = out.0.entry(name.clone()).or_default();
            *slot = slot.saturating_sub(*v);
        }
        out
    }

    pub(super) fn times(&self, n: u64) -> Amounts {
        Amounts(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_mul(n)))
                .collect(),
        )
    }

    /// The larger of the two, per resource.
    pub(super) fn max(&self, other: &Amounts) -> Amounts {
        let mut out = self.clone();
        for (name, v) in &other.0 {
            let slot = out.0.entry(name.clone()).or_default();
            *slot = (*slot).max(*v);
        }
        out
    }

    /// The resources with a non-zero amount, in name order.
    pub(super) fn asked(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (k.as_str(), *v))
    }

    /// `cpu 4, memory 8Gi, nvidia.com/gpu 1` (CPU and memory first).
    pub(super) fn show(&self) -> String {
        let mut asked: Vec<(&str, u64)> = self.asked().collect();
        asked.sort_by_key(|(name, _)| (order(name), *name));
        asked
            .iter()
            .map(|(name, v)| format!("{name} {}", show(name, *v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// CPU, memory, then extended resources, then `pods`.
pub(super) fn order(resource: &str) -> u8 {
    match resource {
        CPU => 0,
        MEMORY => 1,
        PODS => 3,
        _ => 2,
    }
}

/// One quantity in the unit of `resource`.
fn amount(resource: &str, v: &Value) -> Option<u64> {
    let value = match v {
        Value::String(s) => Quantity::parse(s).ok()?.value(),
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    let scaled = if resource == CPU {
        value * 1000.0
    } else {
        value
    };
    // Quantities are decimal; the float in between must not turn 300m into
    // 301 millicores, so a value within rounding noise of a whole unit is it.
    let nearest = scaled.round();
    let whole = (scaled - nearest).abs() <= 1e-9 * nearest.max(1.0);
    Some(if whole { nearest } else { scaled.ceil() } as u64)
}

/// An amount as a user reads it: `3.2` cores, `9.5Gi`, `512Mi`, `1`.
pub(super) fn show(resource: &str, v: u64) -> String {
    const KI: u64 = 1024;
    const MI: u64 = KI * 1024;
    const GI: u64 = MI * 1024;
    let decimal = |v: u64, unit: u64, suffix: &str| {
        let text = format!("{:.2}", v as f64 / unit as f64);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text}{suffix}")
    };
    match resource {
        CPU if v.is_multiple_of(10) => decimal(v, 1000, ""),
        CPU => format!("{v}m"),
        MEMORY if v >= GI => decimal(v, GI, "Gi"),
        MEMORY if v >= MI => decimal(v, MI, "Mi"),
        MEMORY if v >= KI => decimal(v, KI, "Ki"),
        _ => v.to_string(),
    }
}

/// What one pod asks of the node it lands on: its effective requests, and
/// one pod slot.
pub(super) fn pod_requests(pod_spec: &Value) -> Amounts {
    let requests = |c: &Value| {
        // A request left out is the limit (the API server defaults it so).
        let limits = Amounts::parse(&c["resources"]["limits"]);
        let requests = Amounts::parse(&c["resources"]["requests"]);
        let mut out = limits;
        out.0.extend(requests.0);
        out
    };
    let mut sum = Amounts::default();
    for c in pod_spec["containers"].as_array().into_iter().flatten() {
        sum.add(&requests(c));
    }
    let mut sidecars = Amounts::default();
    let mut init = Amounts::default();
    for c in pod_spec["initContainers"].as_array().into_iter().flatten() {
        let r = requests(c);
        if c["restartPolicy"] == "Always" {
            sum.add(&r);
            sidecars.add(&r);
        } else {
            let mut with_sidecars = r;
            with_sidecars.add(&sidecars);
            init = init.max(&with_sidecars);
        }
    }
    let mut out = sum.max(&init);
    out.add(&Amounts::parse(&pod_spec["overhead"]));
    out.0.insert(PODS.into(), 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_are_counted_exactly_in_their_unit() {
        let a = Amounts::parse(&json!({
            "cpu": "300m", "memory": "1.5Gi", "nvidia.com/gpu": "1", "pods": 110,
            "ephemeral-storage": "1e3", "hugepages-2Mi": "2k"
        }));
        assert_eq!(a.get(CPU), 300);
        assert_eq!(a.get(MEMORY), 1536 * 1024 * 1024);
        assert_eq!(a.get("nvidia.com/gpu"), 1);
        assert_eq!(a.get(PODS), 110);
        assert_eq!(a.get("ephemeral-storage"), 1000);
        assert_eq!(a.get("hugepages-2Mi"), 2000);
        assert_eq!(Amounts::parse(&json!({"cpu": "0.1"})).get(CPU), 100);
        assert_eq!(Amounts::parse(&json!({"cpu": "1.0005"})).get(CPU), 1001);
        assert_eq!(
            Amounts::parse(&json!({"memory": "1M"})).get(MEMORY),
            1_000_000
        );
    }

    #[test]
    fn amounts_show_as_a_user_writes_them() {
        let a = Amounts::parse(&json!({"cpu": "3200m", "memory": "9.5Gi", "nvidia.com/gpu": 2}));
        assert_eq!(a.show(), "cpu 3.2, memory 9.5Gi, nvidia.com/gpu 2");
        assert_eq!(show(CPU, 250), "0.25");
        assert_eq!(show(CPU, 1), "1m");
        assert_eq!(show(MEMORY, 512 * 1024 * 1024), "512Mi");
    }

    #[test]
    fn a_pods_requests_follow_the_effective_request_rule() {
        let pod = json!({
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"resources": {"limits": {"cpu": "200m", "nvidia.com/gpu": 1}}},
            ],
            "initContainers": [
                {"resources": {"requests": {"cpu": "1", "memory": "32Mi"}}},
                {"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}},
            ],
            "overhead": {"cpu": "10m"},
        });
        let r = pod_requests(&pod);
        // cpu: max(1 (before the sidecar), 100m + 50m sidecar, 300m + 50m) + 10m.
        assert_eq!(r.get(CPU), 1010);
        // memory: the last init container (1Gi) beats 64Mi.
        assert_eq!(r.get(MEMORY), 1024 * 1024 * 1024);
        // A request left out is the limit.
        assert_eq!(r.get("nvidia.com/gpu"), 1);
        assert_eq!(r.get(PODS), 1);
    }
}
