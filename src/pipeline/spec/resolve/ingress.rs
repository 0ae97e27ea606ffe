//! How services are exposed (`spec.ingress`): the ingress type, the controller's
//! namespace (type `ingress` only) and HTTPS. It checks that the settings fit
//! the type; which objects each type renders is the templates' business.

use super::Resolver;
use crate::pipeline::spec::field_path::FieldPath;
use crate::pipeline::spec::model::{self, IngressType, Platform};
use crate::pipeline::spec::names;
use crate::pipeline::spec::resolved::{Https, IngressSettings, LoadBalancer};

/// Where ingress-nginx installs itself by default.
const DEFAULT_INGRESS_NAMESPACE: &str = "ingress-nginx";

impl Resolver {
    pub(super) fn ingress(
        &mut self,
        ingress: Option<model::Ingress>,
        platform: Platform,
    ) -> IngressSettings {
        let at = FieldPath::spec().field("ingress");
        let ingress = ingress.unwrap_or_default();
        let kind = ingress.kind.unwrap_or(match platform {
            Platform::Openshift => IngressType::Openshift,
            _ => IngressType::Istio,
        });
        let load_balancer = self.load_balancer(ingress.load_balancer, &at, platform);
        let ns_path = at.field("controllerNamespace");
        let controller_namespace = match (kind, ingress.controller_namespace) {
            (IngressType::Ingress, Some(ns)) => {
                self.check(&ns_path, names::dns1123_label(&ns, 63));
                Some(ns)
            }
            (IngressType::Ingress, None) => Some(DEFAULT_INGRESS_NAMESPACE.into()),
            (_, Some(_)) => {
                self.diags.push(
                    self.src
                        .at(
                            &ns_path,
                            "`controllerNamespace` is only used with `type: ingress`",
                        )
                        .help("remove it, or set `type: ingress`"),
                );
                None
            }
            (_, None) => None,
        };
        let https = ingress.https.unwrap_or_default();
        let enabled = https.enabled.unwrap_or(false);
        if enabled && https.cert_secret.is_none() {
            self.diags.push(
                self.src
                    .at(
                        &at.field("https"),
                        "https is enabled but `certSecret` is not set",
                    )
                    .help("name the TLS Secret that holds the certificate for the cluster domain"),
            );
        }
        IngressSettings {
            kind,
            class_name: ingress.class_name,
            controller_namespace,
            https: Https {
                enabled,
                cert_secret: https.cert_secret,
            },
            load_balancer,
        }
    }

    /// The gateway's load balancer; asking for an internal one where no cloud
    /// annotation exists is worth a warning.
    fn load_balancer(
        &mut self,
        spec: Option<model::LoadBalancerSpec>,
        at: &FieldPath,
        platform: Platform,
    ) -> LoadBalancer {
        let spec = spec.unwrap_or_default();
        let internal = spec.internal.unwrap_or(false);
        let cloud = matches!(platform, Platform::Eks | Platform::Aks | Platform::Gke);
        if internal && !cloud {
            self.warnings.push(
                self.src
                    .at(
                        &at.field("loadBalancer").field("internal"),
                        format!(
                            "an internal load balancer is a cloud's annotation; platform `{}` has none",
                            platform.as_str()
                        ),
                    )
                    .help("set `spec.platform` to eks, aks or gke, or give the annotations your load balancer needs in `annotations`"),
            );
        }
        LoadBalancer {
            internal,
            annotations: spec.annotations.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cluster, problems, spec};
    use crate::pipeline::spec::IngressType;

    #[test]
    fn type_ingress_gets_the_ingress_nginx_namespace() {
        let s = spec(&cluster("  ingress: {type: ingress}\n"));
        assert_eq!(s.cluster.ingress.kind, IngressType::Ingress);
        assert_eq!(
            s.cluster.ingress.controller_namespace.as_deref(),
            Some("ingress-nginx")
        );
        assert!(!s.cluster.ingress.https.enabled);
        assert!(!s.infra.istio.enabled, "istio is on only for `type: istio`");
    }

    #[test]
    fn ingress_settings_that_do_not_fit_the_type_are_errors_at_their_paths() {
        assert_eq!(
            problems(&cluster(
                "  ingress:\n    type: nodeport\n    controllerNamespace: nginx\n"
            )),
            [
                "cluster.yaml: spec.ingress.controllerNamespace: `controllerNamespace` is only used with `type: ingress`"
            ]
        );
        assert_eq!(
            problems(&cluster("  ingress:\n    https: {enabled: true}\n")),
            ["cluster.yaml: spec.ingress.https: https is enabled but `certSecret` is not set"]
        );
        let found = problems(&cluster(
            "  ingress:\n    type: ingress\n    controllerNamespace: Nginx_NS\n",
        ));
        assert!(found[0].starts_with("cluster.yaml: spec.ingress.controllerNamespace: "));
    }
}
