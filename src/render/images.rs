//! The images cnvrgctl deploys, pinned, and the `imageHub` rewrite that points
//! every one of them at a private registry for air-gapped clusters.
//!
//! PostgreSQL is a Debian tag (uid 999, which the template runs as); Prefect
//! 3.9.1 is the release current on PyPI (`-kubernetes` adds prefect-kubernetes
//! for the workers).

/// Image key (as templates name it) → pinned reference.
pub const IMAGES: &[(&str, &str)] = &[
    ("busybox", "docker.io/library/busybox:1.37.0"),
    (
        "local-path-provisioner",
        "docker.io/rancher/local-path-provisioner:v0.0.31",
    ),
    ("postgres", "docker.io/library/postgres:17.6-bookworm"),
    ("prefect", "docker.io/prefecthq/prefect:3.9.1-python3.12"),
    (
        "prefect-kubernetes",
        "docker.io/prefecthq/prefect:3.9.1-python3.12-kubernetes",
    ),
];

/// The reference for `key`, rewritten under `hub` when one is set:
/// `docker.io/library/postgres:17.6` becomes `registry.local/cnvrg/library/postgres:17.6`.
pub fn resolve(key: &str, hub: Option<&str>) -> Option<String> {
    let image = IMAGES.iter().find(|(k, _)| *k == key)?.1;
    Some(match hub {
        Some(hub) => format!("{hub}/{}", strip_registry(image)),
        None => image.to_string(),
    })
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
