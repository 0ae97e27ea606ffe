//! One component's size: the spec's sizing merged over the profile's slot, key
//! by key, then checked (requests within limits, replicas within what
//! Kubernetes and the component accept), blaming the file that set the value.
//! A volume size the profile leaves out comes from the default profile
//! (`profile::default_volume`), the one home of volume sizes; no size is
//! written here.

use super::{Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{Resources, Sizing};
use crate::pipeline::spec::profile::{self, Slot};
use crate::pipeline::spec::quantity::Quantity;
use crate::pipeline::spec::resolved::{Component, Stateful};

/// Kubernetes counts replicas in 32-bit signed integers.
pub(super) const MAX_REPLICAS: u32 = i32::MAX as u32;

/// A component's size after merging the spec over the profile.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Size {
    pub replicas: u32,
    pub resources: Resources,
    /// Its volume, for a component that has one.
    pub storage: Option<Quantity>,
}

impl Size {
    /// The size of a component without a volume.
    pub fn component(self) -> Component {
        Component {
            replicas: self.replicas,
            resources: self.resources,
        }
    }

    /// The size of a component with a volume.
    pub fn stateful(self) -> Stateful {
        Stateful {
            replicas: self.replicas,
            storage: self
                .storage
                .expect("the default profile sizes every volume"),
            resources: self.resources,
        }
    }
}

impl Resolver {
    /// Merges a component's sizing (`own`, written at `path`) over the
    /// profile's slot, checks requests against limits and the replica rule of
    /// the slot, and returns the result.
    pub(super) fn size(
        &mut self,
        at: &Origin,
        slot: &Slot,
        path: &FieldPath,
        own: Option<&Sizing>,
    ) -> Size {
        let fallback = Sizing::default();
        let from_profile = at.profile.map(|p| slot.of(&p.spec)).unwrap_or(&fallback);
        let merged = profile::merge(own, from_profile);
        let resources = merged.resources.unwrap_or_default();
        let in_profile = FieldPath::spec().field(slot.key);
        // Blame the spec if it set the value here, the profile otherwise.
        let blame = |set_here: bool, key: &str| match (set_here, at.profile) {
            (false, Some(p)) => (p.source.clone(), in_profile.field(key)),
            _ => (at.src.clone(), path.field(key)),
        };
        let (blame_src, blame_path) = blame(
            own.and_then(|o| o.resources.as_ref()).is_some(),
            "resources",
        );
        for (what, req, lim) in [
            ("cpu", &resources.requests.cpu, &resources.limits.cpu),
            (
                "memory",
                &resources.requests.memory,
                &resources.limits.memory,
            ),
        ] {
            if let (Some(req), Some(lim)) = (req, lim)
                && req.value() > lim.value()
            {
                self.diags.push(
                    blame_src
                        .at(
                            &blame_path,
                            format!("{what} request {req} is more than its limit {lim}"),
                        )
                        .help("requests must not exceed limits (after merging the profile)"),
                );
            }
        }
        let replicas = merged.replicas.unwrap_or(1);
        let (blame_src, blame_path) = blame(own.and_then(|o| o.replicas).is_some(), "replicas");
        if replicas > MAX_REPLICAS {
            self.diags.push(blame_src.at(
                &blame_path,
                format!("{replicas} replicas requested; Kubernetes accepts at most {MAX_REPLICAS}"),
            ));
        } else if let Some(why) = slot.single
            && replicas > 1
        {
            self.diags.push(
                blame_src
                    .at(
                        &blame_path,
                        format!("{replicas} replicas requested; at most 1 is supported"),
                    )
                    .help(why),
            );
        }
        Size {
            replicas,
            resources,
            storage: merged.storage.or_else(|| profile::default_volume(slot)),
        }
    }

    /// A component of the cluster file sized by the profile alone.
    pub(super) fn component(&mut self, at: &Origin, slot: &Slot, path: &FieldPath) -> Component {
        self.size(at, slot, path, None).component()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        DOMAIN, cnvrg_tenant, load_in, problems, problems_in, spec, with_profile,
    };
    use crate::pipeline::spec::Quantity;
    use crate::pipeline::spec::profile::{default_volume, slots};

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn the_spec_wins_over_the_profile_key_by_key() {
        let s = spec(&cnvrg_tenant(
            DOMAIN,
            "        webapp:\n          replicas: 2\n          resources:\n            limits: {memory: 8Gi}\n",
        ));
        let webapp = &s.tenants[0].cnvrg.as_ref().unwrap().webapp;
        assert_eq!(webapp.replicas, 2);
        let r = &webapp.resources;
        assert_eq!(r.limits.memory, Some(q("8Gi")), "the spec's");
        assert_eq!(r.limits.cpu, Some(q("2")), "dev's");
        assert_eq!(r.requests.cpu, Some(q("500m")), "dev's");
        assert_eq!(r.requests.memory, Some(q("2Gi")), "dev's");
    }

    #[test]
    fn volumes_come_from_the_spec_then_the_profile() {
        let s = spec(&cnvrg_tenant(DOMAIN, "        minio: {storage: 1Ti}\n"));
        let c = s.tenants[0].cnvrg.as_ref().unwrap();
        assert_eq!(c.minio.storage, q("1Ti"));
        assert_eq!(c.postgres.storage, q("5Gi"), "dev's");
        assert_eq!(c.redis.storage, q("2Gi"), "dev's");
        assert_eq!(c.monitoring.prometheus.storage, q("5Gi"), "dev's");
    }

    #[test]
    fn the_default_profile_sizes_every_volume() {
        for slot in [
            slots::PROMETHEUS,
            slots::POSTGRES,
            slots::REDIS,
            slots::MINIO,
            slots::ELASTICSEARCH,
            slots::TENANT_PROMETHEUS,
        ] {
            assert!(default_volume(&slot).is_some(), "{}", slot.key);
        }
        assert_eq!(default_volume(&slots::WEBAPP), None);
    }

    #[test]
    fn a_volume_a_profile_leaves_out_is_the_default_profiles() {
        let dir = with_profile("bare", |dev| {
            dev.lines()
                .filter(|l| !l.starts_with("    storage: "))
                .map(|l| format!("{l}\n"))
                .collect()
        });
        let text = cnvrg_tenant(DOMAIN, "        redis: {storage: 3Gi}\n")
            .replace("  clusterDomain", "  profile: bare\n  clusterDomain");
        let s = load_in(dir.path(), &text, &[]).unwrap_or_else(|d| panic!("{d:#?}"));
        let c = s.tenants[0].cnvrg.as_ref().unwrap();
        assert_eq!(c.redis.storage, q("3Gi"), "the spec's");
        assert_eq!(c.postgres.storage, q("5Gi"));
        assert_eq!(c.minio.storage, q("20Gi"));
        assert_eq!(c.elasticsearch.storage, q("10Gi"));
        assert_eq!(c.monitoring.prometheus.storage, q("5Gi"));
        assert_eq!(s.infra.monitoring.prometheus.storage, q("10Gi"));
    }

    #[test]
    fn requests_above_limits_are_blamed_on_the_spec_that_set_them() {
        assert_eq!(
            problems(&cnvrg_tenant(
                DOMAIN,
                "        kibana:\n          resources:\n            requests: {cpu: \"3\"}\n"
            )),
            [
                "cluster.yaml: spec.tenants[0].cnvrg.kibana.resources: cpu request 3 is more than its limit 1"
            ]
        );
    }

    #[test]
    fn values_the_spec_did_not_set_are_blamed_on_the_profile() {
        let dir = with_profile("broken", |dev| {
            dev.replacen(
                "  kibana:\n    replicas: 1\n",
                "  kibana:\n    replicas: 4294967295\n",
                1,
            )
            .replacen(
                "  grafana:\n    replicas: 1\n    resources:\n      requests: {cpu: 50m",
                "  grafana:\n    replicas: 2\n    resources:\n      requests: {cpu: 900m",
                1,
            )
        });
        let text = cnvrg_tenant(DOMAIN, "        redis: {}\n")
            .replace("  clusterDomain", "  profile: broken\n  clusterDomain");
        assert_eq!(
            problems_in(dir.path(), &text, &[]),
            [
                "broken.yaml: spec.kibana.replicas: 4294967295 replicas requested; Kubernetes accepts at most 2147483647",
                "broken.yaml: spec.grafana.resources: cpu request 900m is more than its limit 500m",
                "broken.yaml: spec.grafana.replicas: 2 replicas requested; at most 1 is supported",
            ]
        );
    }

    #[test]
    fn components_that_must_not_run_twice_refuse_more_replicas() {
        assert_eq!(
            problems(&cnvrg_tenant(DOMAIN, "        postgres: {replicas: 2}\n")),
            [
                "cluster.yaml: spec.tenants[0].cnvrg.postgres.replicas: 2 replicas requested; at most 1 is supported"
            ]
        );
    }
}
