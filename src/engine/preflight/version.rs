//! The API server's version against the range cnvrgctl supports (the README
//! states it): outside it, a warning. The server's answer to `/version` is
//! also what the platform check reads (`-eks-`, `-gke.` builds).

use super::{Context, Row};

const CHECK: &str = "version";

/// The Kubernetes minor versions cnvrgctl is tested against (inclusive).
pub const SUPPORTED: (u32, u32) = (28, 34);

pub(super) async fn check(cx: &Context<'_>) -> Vec<Row> {
    match cx.version().await {
        Ok(info) => vec![judge(
            info["major"].as_str().unwrap_or_default(),
            info["minor"].as_str().unwrap_or_default(),
            info["gitVersion"].as_str().unwrap_or_default(),
        )],
        Err(reason) => vec![Row::refused(CHECK, "/version", &reason)],
    }
}

/// The row for a server reporting `major`.`minor` (a minor may carry a `+`,
/// as managed clouds' builds do: `30+`).
fn judge(major: &str, minor: &str, git_version: &str) -> Row {
    let minor_number = minor.trim_end_matches('+').parse::<u32>().ok();
    let (low, high) = SUPPORTED;
    let range = format!("1.{low} to 1.{high}");
    match (major, minor_number) {
        ("1", Some(m)) if (low..=high).contains(&m) => Row::pass(
            CHECK,
            git_version,
            format!("Kubernetes {git_version} (supported: {range})"),
        ),
        _ => Row::warn(
            CHECK,
            git_version,
            format!("Kubernetes {git_version} is outside the supported range {range}"),
            format!("use a cluster running Kubernetes {range}; other versions are untested"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::preflight::Level;

    #[test]
    fn a_supported_version_passes_and_others_warn() {
        assert_eq!(judge("1", "31", "v1.31.2").level, Level::Pass);
        assert_eq!(judge("1", "30+", "v1.30.4-eks-a737599").level, Level::Pass);
        let old = judge("1", "25", "v1.25.16");
        assert_eq!(old.level, Level::Warn);
        assert_eq!(
            old.detail,
            "Kubernetes v1.25.16 is outside the supported range 1.28 to 1.34"
        );
        assert!(old.fix.is_some());
    }
}
