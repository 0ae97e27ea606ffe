//! The infra scope (`spec.infra`): its namespace, the monitoring stack (whose
//! cluster Prometheus the spec may size), logging and Istio, each switched on
//! or off with its default, every component sized by the profile. Storage
//! provisioners are resolved in `storage`; nothing here looks at tenants.

use super::{Origin, Resolver};
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{
    self, IngressType, Mode, MonitoringSpec, Platform, Sizing, Toggle,
};
use crate::pipeline::spec::names;
use crate::pipeline::spec::profile::slots;
use crate::pipeline::spec::resolved::{
    Infra, IngressSettings, Istio, Logging, Monitoring, NodeExporter, Prometheus, Sized, Storage,
};

/// node-exporter's usual port on the hosts.
const NODE_EXPORTER_PORT: u16 = 9100;
/// On OpenShift the cluster monitoring's node-exporter holds 9100 (and its
/// kube-rbac-proxy 9101 and up): ours takes one clear of them.
const OPENSHIFT_NODE_EXPORTER_PORT: u16 = 9110;

impl Resolver {
    pub(super) fn infra(
        &mut self,
        infra: Option<model::InfraSpec>,
        (mode, platform): (Mode, Platform),
        ingress: &IngressSettings,
        at: &Origin,
    ) -> Infra {
        let infra = infra.unwrap_or_default();
        let base = FieldPath::spec().field("infra");
        let namespace = infra.namespace.unwrap_or_else(|| match mode {
            Mode::MultiTenant => "cnvrg-infra".into(),
            Mode::SingleNamespace => "cnvrg".into(),
        });
        self.check(
            &base.field("namespace"),
            names::dns1123_label(&namespace, 63),
        );
        let on = |t: Option<Toggle>, default: bool| t.and_then(|t| t.enabled).unwrap_or(default);
        let storage = infra.storage.unwrap_or_default();
        let monitoring = self.monitoring(
            infra.monitoring.unwrap_or_default(),
            (&base.field("monitoring"), platform),
            at,
        );
        let logging = base.field("logging");
        let istio = base.field("istio");
        let storage_path = base.field("storage");
        Infra {
            namespace,
            monitoring,
            logging: Logging {
                enabled: on(infra.logging, true),
                fluentbit: Sized {
                    resources: self.component(at, &slots::FLUENTBIT, &logging).resources,
                },
            },
            istio: Istio {
                enabled: on(infra.istio, ingress.kind == IngressType::Istio),
                istiod: self.component(at, &slots::ISTIOD, &istio),
                gateway: self.component(at, &slots::ISTIO_GATEWAY, &istio),
            },
            storage: Storage {
                hostpath: self.hostpath(
                    storage.hostpath.unwrap_or_default(),
                    &storage_path.field("hostpath"),
                    at,
                ),
                nfs: self.nfs(
                    storage.nfs.unwrap_or_default(),
                    &storage_path.field("nfs"),
                    at,
                ),
            },
        }
    }

    /// The infra monitoring stack at `base` (`spec.infra.monitoring`).
    fn monitoring(
        &mut self,
        mon: MonitoringSpec,
        (base, platform): (&FieldPath, Platform),
        at: &Origin,
    ) -> Monitoring {
        let retention = self.retention(&at.src, base, mon.retention);
        let own_prometheus = Sizing {
            replicas: None,
            storage: mon.storage,
            resources: None,
        };
        let prometheus = self
            .size(at, &slots::PROMETHEUS, base, Some(&own_prometheus))
            .stateful();
        Monitoring {
            enabled: mon.enabled.unwrap_or(true),
            operator: self.component(at, &slots::PROMETHEUS_OPERATOR, base),
            prometheus: Prometheus {
                replicas: prometheus.replicas,
                resources: prometheus.resources,
                storage: prometheus.storage,
                retention,
            },
            node_exporter: {
                let spec = mon.node_exporter.unwrap_or_default();
                let openshift = platform == Platform::Openshift;
                NodeExporter {
                    enabled: spec.enabled.unwrap_or(!openshift),
                    port: spec.port.unwrap_or(if openshift {
                        OPENSHIFT_NODE_EXPORTER_PORT
                    } else {
                        NODE_EXPORTER_PORT
                    }),
                    resources: self.component(at, &slots::NODE_EXPORTER, base).resources,
                }
            },
            kube_state_metrics: self.component(at, &slots::KUBE_STATE_METRICS, base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cluster, fields, problems, spec};
    use crate::pipeline::spec::Quantity;

    #[test]
    fn the_infra_namespace_follows_the_mode() {
        // Multi-tenant mode's `cnvrg-infra` is checked with the other defaults.
        let s = spec(&cluster(
            "  mode: single-namespace\n  clusterDomain: ml.example.com\n  tenants:\n    - {name: a, type: cnvrg}\n",
        ));
        assert_eq!(s.infra.namespace, "cnvrg");
    }

    #[test]
    fn the_cluster_prometheus_takes_the_spec_volume_over_the_profile() {
        let s = spec(&cluster(
            "  profile: prod\n  infra:\n    monitoring: {retention: 30d, storage: 7Gi}\n    logging: {enabled: false}\n",
        ));
        let prom = &s.infra.monitoring.prometheus;
        assert_eq!(prom.storage, Quantity::parse("7Gi").unwrap());
        assert_eq!(prom.retention, "30d");
        assert_eq!(prom.replicas, 2, "prod's replicas");
        assert_eq!(s.infra.istio.istiod.replicas, 2);
        assert!(!s.infra.logging.enabled);
        let s = spec(&cluster("  profile: prod\n"));
        assert_eq!(
            s.infra.monitoring.prometheus.storage,
            Quantity::parse("100Gi").unwrap()
        );
    }

    #[test]
    fn infra_fields_are_checked_at_their_paths() {
        let found = problems(&cluster(
            "  infra:\n    namespace: Infra\n    monitoring:\n      retention: forever\n",
        ));
        assert_eq!(
            fields(&found),
            ["spec.infra.namespace", "spec.infra.monitoring.retention"]
        );
    }
}
