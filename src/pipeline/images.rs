//! The images cnvrgctl deploys, pinned, and the `imageHub` rewrite that points
//! every one of them at a private registry for air-gapped clusters. Pure data
//! and string rewriting, shared by the spec (the cnvrg app image a tenant may
//! set) and the templates (`image(key)`).
//!
//! PostgreSQL and Redis are Debian tags (uid 999, which the templates run as);
//! Prefect 3.9.1 is the release current on PyPI (`-kubernetes` adds
//! prefect-kubernetes for the workers); the monitoring images are the ones
//! prometheus-operator v0.86 and kube-prometheus pair; Istio 1.28 is one
//! release (pilot and proxy must match).

/// Image key (as templates name it) → pinned reference.
pub const IMAGES: &[(&str, &str)] = &[
    ("busybox", "docker.io/library/busybox:1.37.0"),
    ("cnvrg-app", "docker.io/cnvrg/app:v4.8.2"),
    (
        "elasticsearch",
        "docker.elastic.co/elasticsearch/elasticsearch:8.19.7",
    ),
    (
        "elasticsearch-exporter",
        "quay.io/prometheuscommunity/elasticsearch-exporter:v1.10.0",
    ),
    ("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:4.1.1"),
    ("grafana", "docker.io/grafana/grafana:12.2.1"),
    ("istio-pilot", "docker.io/istio/pilot:1.28.0"),
    ("istio-proxy", "docker.io/istio/proxyv2:1.28.0"),
    ("kibana", "docker.elastic.co/kibana/kibana:8.19.7"),
    (
        "kube-state-metrics",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.17.0",
    ),
    (
        "local-path-provisioner",
        "docker.io/rancher/local-path-provisioner:v0.0.31",
    ),
    ("minio", "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"),
    (
        "nfs-provisioner",
        "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
    ),
    ("node-exporter", "quay.io/prometheus/node-exporter:v1.10.2"),
    ("postgres", "docker.io/library/postgres:17.6-bookworm"),
    (
        "postgres-exporter",
        "quay.io/prometheuscommunity/postgres-exporter:v0.18.1",
    ),
    ("prefect", "docker.io/prefecthq/prefect:3.9.1-python3.12"),
    (
        "prefect-kubernetes",
        "docker.io/prefecthq/prefect:3.9.1-python3.12-kubernetes",
    ),
    ("prometheus", "quay.io/prometheus/prometheus:v3.7.3"),
    (
        "prometheus-config-reloader",
        "quay.io/prometheus-operator/prometheus-config-reloader:v0.86.2",
    ),
    (
        "prometheus-operator",
        "quay.io/prometheus-operator/prometheus-operator:v0.86.2",
    ),
    ("redis", "docker.io/library/redis:7.4.6-bookworm"),
    (
        "redis-exporter",
        "docker.io/oliver006/redis_exporter:v1.80.0",
    ),
];

/// The reference for `key`, rewritten under `hub` when one is set:
/// `docker.io/library/postgres:17.6` becomes `registry.local/cnvrg/library/postgres:17.6`.
pub fn resolve(key: &str, hub: Option<&str>) -> Option<String> {
    let image = IMAGES.iter().find(|(k, _)| *k == key)?.1;
    Some(rewrite(image, hub))
}

/// Any image reference, rewritten under `hub` when one is set.
pub fn rewrite(image: &str, hub: Option<&str>) -> String {
    match hub {
        Some(hub) => format!("{hub}/{}", strip_registry(image)),
        None => image.to_string(),
    }
}

/// The repository path of an image without its registry host.
fn strip_registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_rewrites_registry_only() {
        assert_eq!(
            resolve("postgres", Some("registry.local/cnvrg")).unwrap(),
            "registry.local/cnvrg/library/postgres:17.6-bookworm"
        );
        assert_eq!(
            resolve("postgres", None).unwrap(),
            "docker.io/library/postgres:17.6-bookworm"
        );
        assert!(resolve("nope", None).is_none());
    }
}
