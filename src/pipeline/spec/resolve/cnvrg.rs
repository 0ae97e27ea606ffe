//! A cnvrg tenant's body (`cnvrg`): its DNS domain and application image, the
//! webapp and its autoscaler, the sidekiq workers, the data stores (PostgreSQL,
//! Redis, MinIO, Elasticsearch) with the sizes derived from them (shared
//! memory, JVM heap), Kibana and the tenant's monitoring. Every component is
//! sized over the profile through `size`; nothing here names a Kubernetes
//! object (that is the templates').

use super::size::MAX_REPLICAS;
use super::{Around, Declared, Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{self, CnvrgSpec, Mode, Sizing, TenantType};
use crate::pipeline::spec::names;
use crate::pipeline::spec::profile::{Slot, slots};
use crate::pipeline::spec::quantity::Quantity;
use crate::pipeline::spec::resolved::{
    Cnvrg, CnvrgPostgres, Component, Elasticsearch, Hpa, Sidekiq, TenantMonitoring,
    TenantPrometheus, Webapp,
};

/// The HPA's target CPU utilization unless the spec says otherwise, percent.
const DEFAULT_CPU_UTILIZATION: u32 = 80;

impl Resolver {
    /// The control plane of a tenant of type `cnvrg`; `None` for other tenants.
    pub(super) fn cnvrg(&mut self, d: &Declared, around: &Around, at: &Origin) -> Option<Cnvrg> {
        if d.spec.kind != TenantType::Cnvrg {
            return None;
        }
        let empty = CnvrgSpec::default();
        let c = d.spec.cnvrg.as_ref().unwrap_or(&empty);
        let base = d.path.field("cnvrg");
        let domain = self.tenant_domain(d, c, around, &base);
        let app_image = match &c.app_image {
            Some(image) => {
                let checked = names::image_reference(image);
                self.check_in(&d.source, &base.field("appImage"), checked);
                crate::pipeline::images::rewrite(image, around.image_hub)
            }
            None => crate::pipeline::images::resolve("cnvrg-app", around.image_hub)
                .expect("built-in image"),
        };
        let webapp = self.webapp(c.webapp.as_ref(), &base.field("webapp"), at);
        let sidekiq = self.sidekiq(c.sidekiq.as_ref(), &base.field("sidekiq"), at);
        let mut stateful = |slot: &Slot, key: &str, own: Option<&Sizing>| {
            self.size(at, slot, &base.field(key), own).stateful()
        };
        let pg = stateful(&slots::POSTGRES, "postgres", c.postgres.as_ref());
        let redis = stateful(&slots::REDIS, "redis", c.redis.as_ref());
        let minio = stateful(&slots::MINIO, "minio", c.minio.as_ref());
        let es = stateful(
            &slots::ELASTICSEARCH,
            "elasticsearch",
            c.elasticsearch.as_ref(),
        );
        let shm = mebibytes(pg.resources.limits.memory.as_ref(), 4.0, 64);
        let heap = mebibytes(es.resources.requests.memory.as_ref(), 2.0, 256);
        let kibana = self
            .size(at, &slots::KIBANA, &base.field("kibana"), c.kibana.as_ref())
            .component();
        let monitoring = self.tenant_monitoring(c.monitoring.as_ref(), &base, around, at);
        Some(Cnvrg {
            domain,
            app_image,
            webapp,
            sidekiq,
            postgres: CnvrgPostgres {
                replicas: pg.replicas,
                storage: pg.storage,
                resources: pg.resources,
                database: "cnvrg_production".into(),
                user: "cnvrg".into(),
                shared_memory: format!("{shm}Mi"),
            },
            redis,
            minio,
            elasticsearch: Elasticsearch {
                replicas: es.replicas,
                storage: es.storage,
                resources: es.resources,
                heap: format!("{heap}m"),
            },
            kibana,
            monitoring,
        })
    }

    /// The tenant's DNS domain: its own, or derived from the cluster's.
    fn tenant_domain(
        &mut self,
        d: &Declared,
        c: &CnvrgSpec,
        around: &Around,
        base: &FieldPath,
    ) -> String {
        match (&c.cluster_domain, around.domain, around.mode) {
            (Some(own), _, _) => {
                let checked = names::dns1123_subdomain(own);
                self.check_in(&d.source, &base.field("clusterDomain"), checked);
                own.clone()
            }
            (None, Some(cluster), Mode::SingleNamespace) => cluster.to_string(),
            (None, Some(cluster), Mode::MultiTenant) => format!("{}.{cluster}", d.spec.name),
            (None, None, _) => {
                self.diags.push(
                    d.source.at(&d.path, "a cnvrg tenant needs a DNS domain for its hostnames")
                        .help("set `spec.clusterDomain` in the cluster spec, or `cnvrg.clusterDomain` for this tenant"),
                );
                String::new()
            }
        }
    }

    /// The webapp at `path` and its autoscaler, whose bounds must hold its
    /// replicas.
    fn webapp(
        &mut self,
        spec: Option<&model::WebappSpec>,
        path: &FieldPath,
        at: &Origin,
    ) -> Webapp {
        let own = spec.map(|w| Sizing {
            replicas: w.replicas,
            storage: None,
            resources: w.resources.clone(),
        });
        let size = self.size(at, &slots::WEBAPP, path, own.as_ref());
        let replicas = size.replicas;
        let hpa = spec.and_then(|w| w.hpa.as_ref());
        let hpa_path = path.field("hpa");
        let max_replicas = hpa
            .and_then(|h| h.max_replicas)
            .unwrap_or(replicas.max(1).saturating_mul(3).min(MAX_REPLICAS));
        let max_path = hpa_path.field("maxReplicas");
        if max_replicas > MAX_REPLICAS {
            self.diags.push(at.src.at(
                &max_path,
                format!(
                    "maxReplicas {max_replicas} is more than Kubernetes accepts ({MAX_REPLICAS})"
                ),
            ));
        } else if max_replicas < replicas && replicas <= MAX_REPLICAS {
            self.diags.push(at.src.at(
                &max_path,
                format!("maxReplicas {max_replicas} is less than the webapp's {replicas} replicas"),
            ));
        }
        let cpu_utilization = hpa
            .and_then(|h| h.cpu_utilization)
            .unwrap_or(DEFAULT_CPU_UTILIZATION);
        if !(1..=100).contains(&cpu_utilization) {
            self.diags.push(at.src.at(
                &hpa_path.field("cpuUtilization"),
                format!("{cpu_utilization} is not a percentage between 1 and 100"),
            ));
        }
        Webapp {
            replicas,
            resources: size.resources,
            hpa: Hpa {
                enabled: hpa.and_then(|h| h.enabled).unwrap_or(false),
                max_replicas,
                cpu_utilization,
            },
        }
    }

    /// The three sidekiq workers at `path`.
    fn sidekiq(
        &mut self,
        spec: Option<&model::SidekiqSpec>,
        path: &FieldPath,
        at: &Origin,
    ) -> Sidekiq {
        let mut worker = |slot: &Slot, key: &str, own: Option<&Sizing>| -> Component {
            self.size(at, slot, &path.field(key), own).component()
        };
        Sidekiq {
            split: spec.and_then(|s| s.split).unwrap_or(true),
            sidekiq: worker(
                &slots::SIDEKIQ,
                "sidekiq",
                spec.and_then(|s| s.sidekiq.as_ref()),
            ),
            searchkiq: worker(
                &slots::SEARCHKIQ,
                "searchkiq",
                spec.and_then(|s| s.searchkiq.as_ref()),
            ),
            systemkiq: worker(
                &slots::SYSTEMKIQ,
                "systemkiq",
                spec.and_then(|s| s.systemkiq.as_ref()),
            ),
        }
    }

    /// The tenant's Prometheus and Grafana, under `base.monitoring`; they run
    /// only with the infra monitoring stack (whose CRDs they need).
    fn tenant_monitoring(
        &mut self,
        spec: Option<&model::TenantMonitoringSpec>,
        base: &FieldPath,
        around: &Around,
        at: &Origin,
    ) -> TenantMonitoring {
        let path = base.field("monitoring");
        let prom = spec.and_then(|m| m.prometheus.as_ref());
        let prom_path = path.field("prometheus");
        let own_retention = prom.and_then(|p| p.retention.clone());
        let retention = self.retention(&at.src, &prom_path, own_retention);
        let own_prom = prom.map(|p| Sizing {
            replicas: p.replicas,
            storage: p.storage.clone(),
            resources: p.resources.clone(),
        });
        let prometheus = self
            .size(at, &slots::TENANT_PROMETHEUS, &prom_path, own_prom.as_ref())
            .stateful();
        let grafana = self.size(
            at,
            &slots::GRAFANA,
            &path.field("grafana"),
            spec.and_then(|m| m.grafana.as_ref()),
        );
        TenantMonitoring {
            enabled: around.monitoring,
            prometheus: TenantPrometheus {
                enabled: around.monitoring && around.mode == Mode::MultiTenant,
                replicas: prometheus.replicas,
                resources: prometheus.resources,
                storage: prometheus.storage,
                retention,
            },
            grafana: grafana.component(),
        }
    }
}

/// Whole mebibytes in `q` divided by `div`, at least `floor`.
fn mebibytes(q: Option<&Quantity>, div: f64, floor: u64) -> u64 {
    q.map(|q| (q.value() / div / 1048576.0) as u64)
        .unwrap_or(floor)
        .max(floor)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        DOMAIN, cluster, cnvrg_tenant, fields, problems, problems_with, spec, tenant,
    };

    #[test]
    fn a_cnvrg_tenant_gets_its_defaults() {
        let s = spec(&cnvrg_tenant(DOMAIN, "        {}\n"));
        let c = s.tenants[0].cnvrg.as_ref().unwrap();
        assert!(s.tenants[0].workspace.is_none());
        assert_eq!(c.domain, "a.ml.example.com");
        assert!(c.app_image.contains("cnvrg"), "{}", c.app_image);
        assert_eq!((c.webapp.replicas, c.webapp.hpa.max_replicas), (1, 3));
        assert_eq!(c.webapp.hpa.cpu_utilization, 80);
        assert!(!c.webapp.hpa.enabled);
        assert!(c.sidekiq.split);
        assert_eq!(c.postgres.database, "cnvrg_production");
        assert_eq!(
            c.postgres.shared_memory, "256Mi",
            "a quarter of dev's 1Gi limit"
        );
        assert_eq!(c.elasticsearch.heap, "1024m", "half of dev's 2Gi request");
        assert_eq!(c.monitoring.prometheus.retention, "15d");
        assert!(c.monitoring.enabled && c.monitoring.prometheus.enabled);
    }

    #[test]
    fn the_domain_follows_the_mode_unless_the_tenant_sets_one() {
        let single = format!("  mode: single-namespace\n{DOMAIN}");
        let s = spec(&cnvrg_tenant(&single, "        {}\n"));
        let c = s.tenants[0].cnvrg.as_ref().unwrap();
        assert_eq!(c.domain, "ml.example.com");
        assert!(
            !c.monitoring.prometheus.enabled,
            "the infra Prometheus serves it"
        );
        let s = spec(&cnvrg_tenant(
            DOMAIN,
            "        clusterDomain: a.example.org\n",
        ));
        assert_eq!(s.tenants[0].cnvrg.as_ref().unwrap().domain, "a.example.org");
    }

    #[test]
    fn a_cnvrg_tenant_without_a_domain_is_refused() {
        assert_eq!(
            problems(&cnvrg_tenant("", "        {}\n")),
            ["cluster.yaml: spec.tenants[0]: a cnvrg tenant needs a DNS domain for its hostnames"]
        );
    }

    #[test]
    fn cnvrg_fields_are_checked_at_their_paths() {
        let found = problems(&cnvrg_tenant(
            DOMAIN,
            "        clusterDomain: Bad_Domain\n        appImage: Cnvrg/App\n        webapp:\n          replicas: 4\n          hpa: {maxReplicas: 2, cpuUtilization: 150}\n        monitoring:\n          prometheus: {retention: soon}\n",
        ));
        assert_eq!(
            fields(&found),
            [
                "spec.tenants[0].cnvrg.clusterDomain",
                "spec.tenants[0].cnvrg.appImage",
                "spec.tenants[0].cnvrg.webapp.hpa.maxReplicas",
                "spec.tenants[0].cnvrg.webapp.hpa.cpuUtilization",
                "spec.tenants[0].cnvrg.monitoring.prometheus.retention",
            ]
        );
        assert!(found[2].ends_with("maxReplicas 2 is less than the webapp's 4 replicas"));
    }

    #[test]
    fn every_component_is_blamed_at_its_own_path() {
        let file = tenant(
            "a",
            "  type: cnvrg\n  cnvrg:\n    sidekiq:\n      searchkiq: {replicas: 4294967295}\n    redis: {replicas: 2}\n    monitoring:\n      grafana: {replicas: 2}\n",
        );
        let found = problems_with(&cluster(DOMAIN), &[("a", &file)]);
        assert_eq!(
            fields(&found),
            [
                "spec.cnvrg.sidekiq.searchkiq.replicas",
                "spec.cnvrg.redis.replicas",
                "spec.cnvrg.monitoring.grafana.replicas",
            ]
        );
    }
}
