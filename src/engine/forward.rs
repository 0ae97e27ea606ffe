//! What `port-forward` forwards to, decided without a cluster: the table of
//! components per tenant type (which Service, which Service port), the
//! Service port's target (a number, or a container port name looked up in the
//! pod), and the choice of a ready pod behind the Service's selector for one
//! connection. Values in, values out: reading the cluster and moving bytes are
//! the command's (`commands/port_forward.rs`) and the kube layer's.

use serde_json::{Value, json};

use crate::engine::readiness::{self, Facts, Readiness};
use crate::pipeline::spec::TenantType;

/// How a component's Service is named in its tenant's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServiceName {
    /// The same in every tenant (`app`, `grafana`).
    Fixed(&'static str),
    /// The tenant's name, then this suffix (`research` + `-orion-server`).
    TenantSuffix(&'static str),
}

/// One row of [`COMPONENTS`].
#[derive(Debug, Clone, Copy)]
struct Component {
    name: &'static str,
    tenant: TenantType,
    service: ServiceName,
    /// The Service port forwarded (and the default local port).
    port: u16,
}

/// Every component `port-forward` reaches, as the templates name their
/// Services (`templates/workspace/orion-server.yaml.j2`,
/// `templates/cnvrg/{webapp,grafana,kibana,minio}.yaml.j2`). MinIO's Service
/// also has the console on 9001; the API on 9000 is what is forwarded.
const COMPONENTS: &[Component] = &[
    Component {
        name: "orion",
        tenant: TenantType::Workspace,
        service: ServiceName::TenantSuffix("-orion-server"),
        port: 4200,
    },
    Component {
        name: "webapp",
        tenant: TenantType::Cnvrg,
        service: ServiceName::Fixed("app"),
        port: 80,
    },
    Component {
        name: "grafana",
        tenant: TenantType::Cnvrg,
        service: ServiceName::Fixed("grafana"),
        port: 3000,
    },
    Component {
        name: "kibana",
        tenant: TenantType::Cnvrg,
        service: ServiceName::Fixed("kibana"),
        port: 5601,
    },
    Component {
        name: "minio",
        tenant: TenantType::Cnvrg,
        service: ServiceName::Fixed("minio"),
        port: 9000,
    },
];

/// The component names the command accepts, in table order.
pub const COMPONENT_NAMES: &[&str] = &["orion", "webapp", "grafana", "kibana", "minio"];

/// A Service port to forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// The Service's name in the tenant's namespace.
    pub service: String,
    /// The Service port.
    pub port: u16,
}

/// The Service of `component` in tenant `tenant` of type `kind`; an error
/// sentence naming the tenant type's components when it has no such one.
pub fn service_port(
    component: &str,
    tenant: &str,
    kind: TenantType,
) -> Result<ServicePort, String> {
    match COMPONENTS
        .iter()
        .find(|c| c.name == component && c.tenant == kind)
    {
        Some(c) => Ok(ServicePort {
            service: match c.service {
                ServiceName::Fixed(name) => name.to_string(),
                ServiceName::TenantSuffix(suffix) => format!("{tenant}{suffix}"),
            },
            port: c.port,
        }),
        None => {
            let type_name = type_name(kind);
            let has: Vec<&str> = COMPONENTS
                .iter()
                .filter(|c| c.tenant == kind)
                .map(|c| c.name)
                .collect();
            Err(format!(
                "`{component}` is not a component of tenant `{tenant}` (type {type_name}); a {type_name} tenant has: {}",
                has.join(", ")
            ))
        }
    }
}

fn type_name(kind: TenantType) -> &'static str {
    match kind {
        TenantType::Cnvrg => "cnvrg",
        TenantType::Workspace => "workspace",
    }
}

/// Where a Service port sends its traffic (`spec.ports[].targetPort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    /// A container port name, looked up in each pod.
    Named(String),
}

/// The target of Service port `port` of a live Service; an error sentence when
/// the Service has no such port.
pub fn target_port(service: &Value, port: u16) -> Result<TargetPort, String> {
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(entry) = ports
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
    else {
        let have: Vec<String> = ports
            .iter()
            .filter_map(|p| p["port"].as_u64())
            .map(|p| p.to_string())
            .collect();
        return Err(format!(
            "it has no port {port} (ports: {})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            }
        ));
    };
    // An absent targetPort is the port itself.
    match &entry["targetPort"] {
        Value::Null => Ok(TargetPort::Number(port)),
        Value::String(name) => match name.parse::<u16>() {
            Ok(n) => Ok(TargetPort::Number(n)),
            Err(_) => Ok(TargetPort::Named(name.clone())),
        },
        other => other
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(TargetPort::Number)
            .ok_or_else(|| format!("port {port} has an invalid targetPort {other}")),
    }
}

/// The pod and port one connection goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub pod: String,
    pub port: u16,
}

/// A ready pod behind the Service's selector for one connection (the first by
/// name: Running, `Ready` condition True, not being deleted, with the target
/// port), or a sentence saying why there is none: each selected pod and what
/// keeps it out ("pod web-1: not ready (waiting for containers to become
/// ready: web)").
pub fn pick(service: &Value, target: &TargetPort, pods: &[Value]) -> Result<Pick, String> {
    let selector = service
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "it has no selector, so no pod is behind it".to_string())?;
    // `readiness::selects` reads a workload's selector; a Service's is the
    // same map without `matchLabels` around it.
    let as_workload = json!({
        "metadata": {"namespace": service["metadata"]["namespace"]},
        "spec": {"selector": {"matchLabels": selector}},
    });
    let mut selected: Vec<&Value> = pods
        .iter()
        .filter(|pod| readiness::selects(&as_workload, pod))
        .collect();
    selected.sort_by_key(|pod| name_of(pod));
    if selected.is_empty() {
        let labels: Vec<String> = selector
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        return Err(format!("no pod matches its selector {}", labels.join(",")));
    }
    let mut why = Vec::new();
    for pod in selected {
        match usable(pod, target) {
            Ok(port) => {
                return Ok(Pick {
                    pod: name_of(pod).to_string(),
                    port,
                });
            }
            Err(reason) => why.push(format!("pod {}: {reason}", name_of(pod))),
        }
    }
    Err(why.join("; "))
}

/// The pod's port for `target` when the pod can take a connection.
fn usable(pod: &Value, target: &TargetPort) -> Result<u16, String> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    match readiness::readiness(pod, &Facts::default()) {
        Readiness::Ready if phase == "Running" => {}
        Readiness::Ready => return Err(format!("not running (phase {phase})")),
        other => return Err(format!("not ready ({})", other.message())),
    }
    match target {
        TargetPort::Number(n) => Ok(*n),
        TargetPort::Named(name) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("no container port named `{name}`")),
    }
}

fn name_of(pod: &Value) -> &str {
    pod.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `k=v,k2=v2`: the Service's selector as a label selector for a list.
pub fn label_selector(service: &Value) -> Option<String> {
    let selector = service.pointer("/spec/selector")?.as_object()?;
    if selector.is_empty() {
        return None;
    }
    Some(
        selector
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        crate::pipeline::yaml::from_str(text).expect("fixture is valid YAML")
    }

    const SERVICE: &str = "
apiVersion: v1
kind: Service
metadata: {name: research-orion-server, namespace: research}
spec:
  selector: {app.kubernetes.io/name: orion-server, app.kubernetes.io/instance: research}
  ports:
  - {name: http, port: 4200, targetPort: http}
";

    /// A pod behind [`SERVICE`]: `ready` sets its Ready condition.
    fn pod(name: &str, phase: &str, ready: bool) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "research",
                "labels": {"app.kubernetes.io/name": "orion-server", "app.kubernetes.io/instance": "research"}},
            "spec": {"containers": [{"name": "orion", "ports": [{"name": "http", "containerPort": 4200}]}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{"name": "orion", "ready": ready, "restartCount": 0, "state": {"running": {}}}]},
        })
    }

    #[test]
    fn components_map_to_their_services_per_tenant_type() {
        let got = |component, kind| service_port(component, "research", kind);
        assert_eq!(
            got("orion", TenantType::Workspace),
            Ok(ServicePort {
                service: "research-orion-server".into(),
                port: 4200
            })
        );
        for (component, service, port) in [
            ("webapp", "app", 80),
            ("grafana", "grafana", 3000),
            ("kibana", "kibana", 5601),
            ("minio", "minio", 9000),
        ] {
            assert_eq!(
                got(component, TenantType::Cnvrg),
                Ok(ServicePort {
                    service: service.into(),
                    port
                }),
                "{component}"
            );
        }
        let names: Vec<&str> = COMPONENTS.iter().map(|c| c.name).collect();
        assert_eq!(names, COMPONENT_NAMES);
    }

    #[test]
    fn a_component_of_the_other_tenant_type_names_the_ones_it_has() {
        assert_eq!(
            service_port("webapp", "research", TenantType::Workspace),
            Err("`webapp` is not a component of tenant `research` (type workspace); a workspace tenant has: orion".into())
        );
        assert_eq!(
            service_port("orion", "team-a", TenantType::Cnvrg),
            Err("`orion` is not a component of tenant `team-a` (type cnvrg); a cnvrg tenant has: webapp, grafana, kibana, minio".into())
        );
    }

    #[test]
    fn target_ports_are_numbers_names_or_the_port_itself() {
        let service = yaml(
            "
spec:
  ports:
  - {port: 80, targetPort: http}
  - {port: 81, targetPort: 8081}
  - {port: 82, targetPort: '8082'}
  - {port: 83}
",
        );
        assert_eq!(
            target_port(&service, 80),
            Ok(TargetPort::Named("http".into()))
        );
        assert_eq!(target_port(&service, 81), Ok(TargetPort::Number(8081)));
        assert_eq!(target_port(&service, 82), Ok(TargetPort::Number(8082)));
        assert_eq!(target_port(&service, 83), Ok(TargetPort::Number(83)));
        assert_eq!(
            target_port(&service, 4200),
            Err("it has no port 4200 (ports: 80, 81, 82, 83)".into())
        );
    }

    #[test]
    fn the_first_ready_pod_by_name_is_picked_and_its_named_port_resolved() {
        let service = yaml(SERVICE);
        let target = TargetPort::Named("http".into());
        let pods = [
            pod("orion-c", "Running", true),
            pod("orion-a", "Running", false),
            pod("orion-b", "Running", true),
        ];
        assert_eq!(
            pick(&service, &target, &pods),
            Ok(Pick {
                pod: "orion-b".into(),
                port: 4200
            })
        );
        assert_eq!(
            pick(&service, &TargetPort::Number(9000), &pods[..1]),
            Ok(Pick {
                pod: "orion-c".into(),
                port: 9000
            })
        );
    }

    #[test]
    fn pods_of_other_selectors_namespaces_or_terminating_are_not_picked() {
        let service = yaml(SERVICE);
        let target = TargetPort::Named("http".into());
        let mut other_app = pod("postgres-0", "Running", true);
        other_app["metadata"]["labels"]["app.kubernetes.io/name"] = json!("postgres");
        let mut other_ns = pod("orion-x", "Running", true);
        other_ns["metadata"]["namespace"] = json!("vision");
        assert_eq!(
            pick(&service, &target, &[other_app, other_ns]),
            Err("no pod matches its selector app.kubernetes.io/name=orion-server,app.kubernetes.io/instance=research".into())
        );
        let mut leaving = pod("orion-a", "Running", true);
        leaving["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let pending = pod("orion-b", "Pending", false);
        let done = {
            let mut p = pod("orion-c", "Succeeded", false);
            p["status"]["conditions"] = json!([]);
            p
        };
        assert_eq!(
            pick(&service, &target, &[done, pending, leaving]),
            Err("pod orion-a: not ready (being deleted); pod orion-b: not ready (pod is Pending); pod orion-c: not running (phase Succeeded)".into())
        );
    }

    #[test]
    fn a_named_port_the_pod_lacks_keeps_it_out() {
        let service = yaml(SERVICE);
        let got = pick(
            &service,
            &TargetPort::Named("api".into()),
            &[pod("orion-a", "Running", true)],
        );
        assert_eq!(
            got,
            Err("pod orion-a: no container port named `api`".into())
        );
    }

    #[test]
    fn a_service_without_selector_has_no_pods() {
        let service =
            yaml("metadata: {name: external, namespace: research}\nspec: {ports: [{port: 80}]}");
        assert_eq!(
            pick(
                &service,
                &TargetPort::Number(80),
                &[pod("orion-a", "Running", true)]
            ),
            Err("it has no selector, so no pod is behind it".into())
        );
        assert_eq!(label_selector(&service), None);
        assert_eq!(
            label_selector(&yaml(SERVICE)).as_deref(),
            Some("app.kubernetes.io/name=orion-server,app.kubernetes.io/instance=research")
        );
    }
}
