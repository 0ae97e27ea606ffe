//! Readiness of the cluster-level objects other objects depend on:
//! CustomResourceDefinition, Namespace and APIService.
//!
//! A CRD is Ready once `Established` and `NamesAccepted` are True. Its kinds
//! may still be missing from API discovery for a moment after that; the caller
//! re-runs discovery until they resolve before applying custom resources (DESIGN
//! §10). That is I/O and does not belong here — don't add it to this rule.
//!
//! A Namespace that is Terminating cannot take new objects and will not come
//! back, so it is Failed, not Progressing: the user must wait for it to be gone
//! and run again.

use serde_json::Value;

use super::{Facts, Readiness, condition, finalizers, str_at};

pub(super) fn custom_resource_definition(object: &Value, _: &Facts) -> Readiness {
    let names = condition(object, "NamesAccepted");
    if let Some(names) = names
        && names.is_false()
    {
        return Readiness::Failed(format!("names not accepted: {}", names.explain()));
    }
    let established = condition(object, "Established");
    match (established, names) {
        (Some(established), Some(names)) if established.is_true() && names.is_true() => {
            Readiness::Ready
        }
        (Some(established), _) if !established.is_true() && !established.explain().is_empty() => {
            Readiness::Progressing(format!("not established yet: {}", established.explain()))
        }
        _ => Readiness::Progressing("waiting for the API server to establish the CRD".to_owned()),
    }
}

pub(super) fn namespace(object: &Value, _: &Facts) -> Readiness {
    let terminating = str_at(object, &["metadata", "deletionTimestamp"]).is_some();
    match str_at(object, &["status", "phase"]) {
        _ if terminating => terminating_namespace(object),
        Some("Terminating") => terminating_namespace(object),
        Some("Active") => Readiness::Ready,
        Some(phase) => Readiness::Progressing(format!("namespace is {phase}")),
        None => Readiness::Progressing("waiting for the namespace to become active".to_owned()),
    }
}

fn terminating_namespace(object: &Value) -> Readiness {
    let finalizers = finalizers(object);
    let pending = if finalizers.is_empty() {
        String::new()
    } else {
        format!(" (finalizers: {})", finalizers.join(", "))
    };
    Readiness::Failed(format!(
        "namespace is terminating{pending}: wait until it is gone, then run again"
    ))
}

pub(super) fn api_service(object: &Value, _: &Facts) -> Readiness {
    match condition(object, "Available") {
        Some(available) if available.is_true() => Readiness::Ready,
        Some(available) if !available.explain().is_empty() => {
            Readiness::Progressing(format!("not available: {}", available.explain()))
        }
        _ => Readiness::Progressing("waiting for the API service to become available".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    #[test]
    fn established_crd_is_ready() {
        let got = check(
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheuses.monitoring.coreos.com, generation: 1}
status:
  conditions:
  - {type: NamesAccepted, status: "True", reason: NoConflicts}
  - {type: Established, status: "True", reason: InitialNamesAccepted}
"#,
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn crd_established_but_names_not_accepted_fails() {
        let got = check(
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions:
  - {type: Established, status: "True"}
  - type: NamesAccepted
    status: "False"
    reason: ListKindConflict
    message: '"WidgetList" is already in use'
"#,
        );
        assert_eq!(
            got,
            Readiness::Failed(
                r#"names not accepted: ListKindConflict: "WidgetList" is already in use"#.into()
            )
        );
    }

    #[test]
    fn crd_not_established_yet() {
        let got = check(
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions:
  - {type: NamesAccepted, status: "True"}
  - {type: Established, status: "False", reason: Installing, message: the initial names have been accepted}
"#,
        );
        assert_eq!(
            got,
            Readiness::Progressing(
                "not established yet: Installing: the initial names have been accepted".into()
            )
        );
        let fresh = check(
            "{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: w}}",
        );
        assert_eq!(
            fresh,
            Readiness::Progressing("waiting for the API server to establish the CRD".into())
        );
    }

    #[test]
    fn active_namespace_is_ready() {
        assert_eq!(
            check(
                "{apiVersion: v1, kind: Namespace, metadata: {name: cnvrg}, status: {phase: Active}}"
            ),
            Readiness::Ready
        );
    }

    #[test]
    fn terminating_namespace_fails() {
        let got = check(
            "
apiVersion: v1
kind: Namespace
metadata:
  name: cnvrg
  deletionTimestamp: '2024-01-01T00:00:00Z'
spec: {finalizers: [kubernetes]}
status: {phase: Terminating}
",
        );
        assert_eq!(
            got,
            Readiness::Failed(
                "namespace is terminating: wait until it is gone, then run again".into()
            )
        );
    }

    #[test]
    fn api_service_availability() {
        let base = r#"
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
status:
  conditions:
"#;
        assert_eq!(
            check(&format!("{base}  - {{type: Available, status: 'True'}}")),
            Readiness::Ready
        );
        assert_eq!(
            check(&format!(
                "{base}  - {{type: Available, status: 'False', reason: MissingEndpoints, message: endpoints for service/metrics-server in kube-system have no addresses}}"
            )),
            Readiness::Progressing(
                "not available: MissingEndpoints: endpoints for service/metrics-server in kube-system have no addresses".into()
            )
        );
    }
}
