//! Turns the parsed files into the effective [`Spec`]: fills defaults (spec over
//! profile over code), and checks what the types alone cannot — names, duplicates,
//! requests against limits, mode rules — collecting every problem with the file
//! and field it is about, so the user sees them all at once. This file holds the
//! cluster-wide fields and hands each family (registry, ingress, infra, storage,
//! tenants, workspace, cnvrg) to a resolver of its own; `size` merges one
//! component's size over the profile. Resolvers never read files other than
//! through the profile loader, never stop at the first problem, and name every
//! field through [`FieldPath`], never by a hand-assembled string.

mod cnvrg;
mod infra;
mod ingress;
mod registry;
mod size;
mod storage;
mod tenants;
mod workspace;

#[cfg(test)]
mod testing;

use std::path::Path;
use std::sync::Arc;

use super::error::{Diagnostic, Source};
use super::field_path::FieldPath;
use super::model::{ClusterFile, IngressType, Mode, Platform, TenantSpec};
use super::names;
use super::profile::{self, Profile};
use super::resolved::{ClusterSettings, Infra, IngressSettings, PasswordSource, Spec};

/// How long a Prometheus keeps samples unless the spec says otherwise.
const DEFAULT_RETENTION: &str = "15d";

/// A tenant as declared, with the file and path it was declared at.
pub struct Declared {
    pub spec: TenantSpec,
    pub source: Arc<Source>,
    /// Path of the tenant's body in its file: `spec.tenants[2]` or `spec`.
    pub path: FieldPath,
    /// Path of its name: `spec.tenants[2].name` or `metadata.name`.
    pub name_path: FieldPath,
}

pub fn resolve(
    cluster_src: &Arc<Source>,
    cluster: ClusterFile,
    declared: Vec<Declared>,
    spec_dir: &Path,
) -> Result<Spec, Vec<Diagnostic>> {
    let mut r = Resolver {
        src: cluster_src.clone(),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let spec = cluster.spec;
    let top = FieldPath::spec();
    r.check(
        &FieldPath::metadata_name(),
        names::dns1123_subdomain(&cluster.metadata.name),
    );
    let profile_name = spec
        .profile
        .clone()
        .unwrap_or_else(|| profile::DEFAULT.into());
    let profile = r.profile(&profile_name, spec_dir);

    let mode = spec.mode.unwrap_or(Mode::MultiTenant);
    // Routes exist only on OpenShift: `ingress.type: openshift` alone says
    // which platform this is.
    let routes = spec.ingress.as_ref().and_then(|i| i.kind) == Some(IngressType::Openshift);
    let platform = spec.platform.unwrap_or(if routes {
        Platform::Openshift
    } else {
        Platform::Generic
    });
    if let Some(domain) = &spec.cluster_domain {
        r.check(
            &top.field("clusterDomain"),
            names::dns1123_subdomain(domain),
        );
    }
    if let Some(hub) = &spec.image_hub {
        r.check(&top.field("imageHub"), image_hub(hub));
    }
    if let Some(class) = &spec.storage_class {
        r.check(&top.field("storageClass"), names::dns1123_subdomain(class));
    }
    let registry = r.registry(spec.registry);
    let ingress = r.ingress(spec.ingress, platform);

    let cluster_file = Origin {
        src: r.src.clone(),
        profile: profile.as_ref(),
    };
    let infra = r.infra(spec.infra, (mode, platform), &ingress, &cluster_file);
    r.platform_fits(platform, &ingress, &infra);
    let around = Around {
        mode,
        infra_ns: &infra.namespace,
        domain: spec.cluster_domain.as_deref(),
        image_hub: spec.image_hub.as_deref(),
        monitoring: infra.monitoring.enabled,
    };
    let tenants = r.tenants(declared, &around, profile.as_ref());

    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    let (registry, pull_secret) = match registry {
        Some(found) => (Some(found.settings), Some(found.pull_secret)),
        None => (None, None),
    };
    let manage_pull_secret = registry
        .as_ref()
        .is_some_and(|r| !matches!(r.password, PasswordSource::Existing));
    Ok(Spec {
        cluster: ClusterSettings {
            name: cluster.metadata.name,
            platform,
            profile: profile_name,
            mode,
            domain: spec.cluster_domain,
            image_hub: spec.image_hub,
            registry,
            manage_pull_secret,
            pull_secret,
            storage_class: spec.storage_class,
            ingress,
        },
        infra,
        tenants,
        warnings: r.warnings,
    })
}

impl Resolver {
    /// Settings the platform cannot honour: Istio ingress on OpenShift with
    /// Istio turned off (OpenShift brings no Istio of its own).
    fn platform_fits(&mut self, platform: Platform, ingress: &IngressSettings, infra: &Infra) {
        if platform == Platform::Openshift
            && ingress.kind == IngressType::Istio
            && !infra.istio.enabled
        {
            self.diags.push(
                self.src
                    .at(
                        &FieldPath::spec().field("ingress").field("type"),
                        "`spec.ingress.type: istio` on `spec.platform: openshift` needs Istio, and `spec.infra.istio.enabled` is false",
                    )
                    .help("use `type: openshift` (Routes), or set `spec.infra.istio.enabled: true`"),
            );
        }
    }
}

fn image_hub(hub: &str) -> Result<(), String> {
    if hub.contains("://")
        || hub.ends_with('/')
        || hub.is_empty()
        || hub.contains(char::is_whitespace)
    {
        Err(format!(
            "`{}` is not a registry prefix (write it like `registry.local/cnvrg`, without a scheme or trailing `/`)",
            names::short(hub)
        ))
    } else if hub.len() > 200 {
        Err(format!(
            "`{}` is {} characters long; image names are at most 255 characters, so a registry prefix may have 200",
            names::short(hub),
            hub.len()
        ))
    } else {
        Ok(())
    }
}

/// What a tenant's defaults depend on besides the tenant itself.
struct Around<'a> {
    mode: Mode,
    infra_ns: &'a str,
    domain: Option<&'a str>,
    image_hub: Option<&'a str>,
    monitoring: bool,
}

/// Where a family's fields come from: the file they are written in and the
/// profile merged under them.
struct Origin<'a> {
    src: Arc<Source>,
    profile: Option<&'a Profile>,
}

/// A Prometheus duration (`15d`, `12h`, `1w`): digits and a unit, repeated.
fn duration(text: &str) -> Result<(), String> {
    let units = ["ms", "s", "m", "h", "d", "w", "y"];
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let after = &rest[digits..];
        let Some(unit) = units
            .iter()
            .filter(|u| after.starts_with(**u))
            .max_by_key(|u| u.len())
        else {
            parts = 0;
            break;
        };
        if digits == 0 {
            parts = 0;
            break;
        }
        rest = &after[unit.len()..];
        parts += 1;
    }
    if parts > 0 {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a duration (expected a number and a unit: ms, s, m, h, d, w or y, as in `15d`)"
        ))
    }
}

struct Resolver {
    /// The cluster spec file, where most fields live.
    src: Arc<Source>,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Resolver {
    /// Records `result`'s problem, if any, at `field` of the cluster file.
    fn check(&mut self, field: &FieldPath, result: Result<(), String>) {
        self.check_in(&self.src.clone(), field, result);
    }

    /// Records `result`'s problem, if any, at `field` of `src`.
    fn check_in(&mut self, src: &Source, field: &FieldPath, result: Result<(), String>) {
        if let Err(message) = result {
            self.diags.push(src.at(field, message));
        }
    }

    /// Loads the profile `name`, recording why when it cannot be used.
    fn profile(&mut self, name: &str, spec_dir: &Path) -> Option<Profile> {
        let unknown = self.src.at(
            &FieldPath::spec().field("profile"),
            format!("unknown profile `{name}`"),
        );
        match profile::load(name, spec_dir, unknown) {
            Ok(p) => {
                self.diags.extend(profile::check_quotas(&p));
                Some(p)
            }
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// A Prometheus retention at `path` (the field holding `retention`): the
    /// spec's, checked, or the default.
    fn retention(&mut self, src: &Source, path: &FieldPath, own: Option<String>) -> String {
        let retention = own.unwrap_or_else(|| DEFAULT_RETENTION.into());
        self.check_in(src, &path.field("retention"), duration(&retention));
        retention
    }
}

#[cfg(test)]
mod tests {
    use super::duration;
    use super::testing::{cluster, fields, problems, spec};
    use crate::pipeline::spec::{IngressType, Mode};

    #[test]
    fn an_empty_spec_gets_the_code_defaults_and_the_dev_profile() {
        let s = spec(&cluster("  {}\n"));
        assert_eq!(s.cluster.profile, "dev");
        assert_eq!(s.cluster.mode, Mode::MultiTenant);
        assert_eq!(s.cluster.ingress.kind, IngressType::Istio);
        assert!(s.cluster.registry.is_none() && s.cluster.pull_secret.is_none());
        assert!(!s.cluster.manage_pull_secret);
        assert_eq!(s.infra.namespace, "cnvrg-infra");
        assert_eq!(s.infra.monitoring.prometheus.retention, "15d");
        assert!(s.infra.monitoring.enabled && s.infra.logging.enabled);
        assert!(s.infra.istio.enabled, "istio follows `ingress.type: istio`");
        assert!(s.tenants.is_empty());
    }

    #[test]
    fn cluster_wide_fields_are_checked_at_their_paths() {
        let found = problems(&cluster(
            "  profile: tiny\n  clusterDomain: Not_A_Domain\n  imageHub: https://registry.local/\n  storageClass: Fast_SSD\n",
        ));
        assert_eq!(
            fields(&found),
            [
                "spec.profile",
                "spec.clusterDomain",
                "spec.imageHub",
                "spec.storageClass"
            ]
        );
        assert_eq!(
            found[0],
            "cluster.yaml: spec.profile: unknown profile `tiny`"
        );
    }

    #[test]
    fn an_invalid_cluster_name_is_blamed_on_metadata_name() {
        let text = cluster("  {}\n").replace("name: acme", "name: Acme_Corp");
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("cluster.yaml: metadata.name: "),
            "{found:?}"
        );
    }

    #[test]
    fn durations_are_numbers_with_units() {
        for ok in ["15d", "12h", "1h30m", "500ms", "2w", "1y"] {
            assert_eq!(duration(ok), Ok(()), "{ok}");
        }
        for bad in ["", "15", "d", "15days", "1.5h", "-1d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
