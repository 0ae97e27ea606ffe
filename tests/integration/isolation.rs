//! Tenant isolation by default: the network policies, Pod Security levels,
//! quotas and limit ranges every tenant namespace gets. The policies are
//! proved with a small NetworkPolicy evaluator (podSelector, namespaceSelector,
//! matchLabels, matchExpressions, ipBlock, ports and named ports, as the
//! Kubernetes documentation defines them) over the pods a render implies: no
//! pod of one tenant reaches a pod of another, in either direction, on any
//! port, while a tenant's pods reach each other and the infra Prometheus
//! reaches exactly the endpoints its ServiceMonitors scrape.

use std::collections::{BTreeMap, BTreeSet};

use cnvrgctl::engine::preflight::pod_security::{self, Level, violations};
use cnvrgctl::pipeline::manifest::{Manifest, Scope};
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use serde_json::Value;

use crate::common::load_texts;

/// A cnvrg tenant and a workspace tenant (two pools), with monitoring,
/// logging and Istio in infra.
const MIXED: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: dev
  mode: multi-tenant
  clusterDomain: ml.acme.example
  ingress:
    type: istio
  infra:
    monitoring: {enabled: true}
    logging: {enabled: true}
  tenants:
    - name: team-a
      type: cnvrg
    - name: research
      type: workspace
      workspace:
        agentPools:
          - {name: default, replicas: 2}
          - {name: gpu}
";

/// Two workspace tenants.
const WORKSPACES: &str = "\
apiVersion: cnvrgctl.io/v1alpha1
kind: Cluster
metadata:
  name: acme
spec:
  profile: prod
  ingress:
    type: nodeport
  tenants:
    - name: research
      type: workspace
      workspace:
        agentPools: [{name: default}]
    - name: vision
      type: workspace
      namespace: vision-ws
      workspace:
        agentPools: [{name: default}, {name: batch}]
";

fn render(text: &str) -> Vec<Manifest> {
    let spec = load_texts(text, &[]).expect("spec loads");
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    cnvrgctl::pipeline::validate::validate(&ms).expect("validates");
    ms
}

type Labels = BTreeMap<String, String>;

/// A pod the cluster would run, or an address outside the pod network.
#[derive(Debug, Clone)]
struct Pod {
    /// `Kind/name` of what makes it, or a made-up name.
    name: String,
    namespace: String,
    /// The tenant it belongs to; `None` for infra and the cluster's own.
    tenant: Option<String>,
    labels: Labels,
    /// (name, number, protocol) of its container ports.
    ports: Vec<(String, u16, String)>,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint<'a> {
    Pod(&'a Pod),
    /// An address outside the pod network (the API server, the internet).
    External,
}

/// The world a render implies: namespaces with their labels, pods, policies.
struct World {
    namespaces: BTreeMap<String, Labels>,
    pods: Vec<Pod>,
    policies: Vec<Value>,
}

fn labels_of(v: &Value) -> Labels {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn ports_of(pod: &Value) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for key in ["containers", "initContainers"] {
        for c in pod[key].as_array().into_iter().flatten() {
            for p in c["ports"].as_array().into_iter().flatten() {
                out.push((
                    p["name"].as_str().unwrap_or_default().to_string(),
                    p["containerPort"].as_u64().unwrap() as u16,
                    p["protocol"].as_str().unwrap_or("TCP").to_string(),
                ));
            }
        }
    }
    out
}

fn tenant_of(m: &Manifest) -> Option<String> {
    match &m.origin.scope {
        Scope::Tenant(name) => Some(name.clone()),
        Scope::Infra => None,
    }
}

impl World {
    fn of(ms: &[Manifest]) -> World {
        let mut namespaces = BTreeMap::new();
        let mut pods = Vec::new();
        let mut policies = Vec::new();
        for m in ms {
            let ns = m.namespace().unwrap_or_default().to_string();
            match m.kind() {
                "Namespace" => {
                    let mut labels = labels_of(&m.object["metadata"]["labels"]);
                    // Set by the API server on every namespace.
                    labels.insert("kubernetes.io/metadata.name".into(), m.name().into());
                    namespaces.insert(m.name().to_string(), labels);
                }
                "NetworkPolicy" => policies.push(m.object.clone()),
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => {
                    let template = &m.object["spec"]["template"];
                    pods.push(Pod {
                        name: format!("{}/{}", m.kind(), m.name()),
                        namespace: ns,
                        tenant: tenant_of(m),
                        labels: labels_of(&template["metadata"]["labels"]),
                        ports: ports_of(&template["spec"]),
                    });
                }
                // prometheus-operator's pods: the labels and ports it gives them.
                "Prometheus" => {
                    let name = m.name().to_string();
                    let labels = [
                        ("app.kubernetes.io/name", "prometheus"),
                        ("app.kubernetes.io/instance", name.as_str()),
                        ("app.kubernetes.io/managed-by", "prometheus-operator"),
                        ("prometheus", name.as_str()),
                        ("operator.prometheus.io/name", name.as_str()),
                        ("operator.prometheus.io/shard", "0"),
                    ];
                    pods.push(Pod {
                        name: format!("Prometheus/{name}"),
                        namespace: ns,
                        tenant: tenant_of(m),
                        labels: labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        ports: vec![
                            ("web".into(), 9090, "TCP".into()),
                            ("reloader-web".into(), 8080, "TCP".into()),
                        ],
                    });
                }
                _ => {}
            }
        }
        // The cluster's DNS.
        let mut kube_system = Labels::new();
        kube_system.insert("kubernetes.io/metadata.name".into(), "kube-system".into());
        namespaces.insert("kube-system".into(), kube_system);
        pods.push(Pod {
            name: "coredns".into(),
            namespace: "kube-system".into(),
            tenant: None,
            labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
            ports: vec![
                ("dns".into(), 53, "UDP".into()),
                ("dns-tcp".into(), 53, "TCP".into()),
            ],
        });
        // The users' workloads in every tenant namespace: a cnvrg job as the
        // app labels it (not cnvrgctl's labels), a Prefect flow run as its
        // base job template labels it.
        let mut users = Vec::new();
        for p in &pods {
            let Some(tenant) = &p.tenant else { continue };
            if users
                .iter()
                .any(|u: &Pod| u.tenant.as_ref() == Some(tenant))
            {
                continue;
            }
            let workspace = p
                .labels
                .get("app.kubernetes.io/part-of")
                .map(String::as_str)
                == Some("workspace");
            let labels: Labels = if workspace {
                [
                    ("app.kubernetes.io/name", "flow-run"),
                    ("app.kubernetes.io/component", "flow-run"),
                    ("app.kubernetes.io/instance", tenant.as_str()),
                    ("app.kubernetes.io/part-of", "workspace"),
                    ("app.kubernetes.io/managed-by", "prefect"),
                    ("prefect.io/flow-run-id", "8d1c"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
            } else {
                [("app", "notebook-1"), ("owner", "user")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            };
            users.push(Pod {
                name: format!("user workload of {tenant}"),
                namespace: p.namespace.clone(),
                tenant: Some(tenant.clone()),
                labels,
                ports: vec![("http".into(), 8888, "TCP".into())],
            });
        }
        pods.extend(users);
        World {
            namespaces,
            pods,
            policies,
        }
    }

    fn pods_of(&self, tenant: &str) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|p| p.tenant.as_deref() == Some(tenant))
            .collect()
    }

    fn pod(&self, name: &str) -> &Pod {
        self.pods
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    }

    /// Whether `src` may open a connection to `dst` on `port`/`protocol`:
    /// the sender's egress and the receiver's ingress must both allow it.
    fn allowed(&self, src: Endpoint, dst: Endpoint, port: u16, protocol: &str) -> bool {
        self.direction(src, dst, port, protocol, "Egress")
            && self.direction(dst, src, port, protocol, "Ingress")
    }

    /// `of`'s policies of type `kind` (Ingress: `peer` is the source; Egress:
    /// the destination); the port is the destination's, so named ports are
    /// looked up on the destination pod.
    fn direction(
        &self,
        of: Endpoint,
        peer: Endpoint,
        port: u16,
        protocol: &str,
        kind: &str,
    ) -> bool {
        let Endpoint::Pod(pod) = of else {
            return true; // nothing outside the pod network is policed here
        };
        let destination = if kind == "Egress" { peer } else { of };
        let selecting: Vec<&Value> = self
            .policies
            .iter()
            .filter(|p| p["metadata"]["namespace"] == pod.namespace.as_str())
            .filter(|p| selects(&p["spec"]["podSelector"], &pod.labels))
            .filter(|p| policy_types(p).contains(&kind))
            .collect();
        if selecting.is_empty() {
            return true; // not isolated in this direction
        }
        let (rules, peers) = if kind == "Egress" {
            ("egress", "to")
        } else {
            ("ingress", "from")
        };
        selecting.iter().any(|p| {
            let ns = p["metadata"]["namespace"].as_str().unwrap();
            p["spec"][rules].as_array().into_iter().flatten().any(|r| {
                self.peer_matches(&r[peers], peer, ns)
                    && port_matches(&r["ports"], destination, port, protocol)
            })
        })
    }

    fn peer_matches(&self, peers: &Value, ep: Endpoint, policy_ns: &str) -> bool {
        let Some(peers) = peers.as_array().filter(|p| !p.is_empty()) else {
            return true; // no peers: every address
        };
        peers.iter().any(|peer| {
            // Whether an ipBlock matches pod addresses depends on the network
            // plugin: assume the worst, that it matches every pod.
            if peer.get("ipBlock").is_some() {
                return true;
            }
            let Endpoint::Pod(pod) = ep else {
                return false;
            };
            let ns_ok = match peer.get("namespaceSelector") {
                None => pod.namespace == policy_ns,
                Some(sel) => selects(sel, &self.namespaces[&pod.namespace]),
            };
            let pod_ok = match peer.get("podSelector") {
                None => true,
                Some(sel) => selects(sel, &pod.labels),
            };
            ns_ok && pod_ok
        })
    }
}

/// `policyTypes`, defaulted as the API server does: Ingress, plus Egress when
/// the policy has egress rules.
fn policy_types(policy: &Value) -> Vec<&str> {
    match policy["spec"]["policyTypes"].as_array() {
        Some(types) => types.iter().filter_map(Value::as_str).collect(),
        None if policy["spec"].get("egress").is_some() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    }
}

/// A label selector (`{}` matches everything).
fn selects(selector: &Value, labels: &Labels) -> bool {
    let by_labels = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let by_expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let value = labels.get(key).map(String::as_str);
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => !value.is_some_and(|v| values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("unknown selector operator {other}"),
            }
        });
    by_labels && by_expressions
}

fn port_matches(ports: &Value, destination: Endpoint, port: u16, protocol: &str) -> bool {
    let Some(ports) = ports.as_array().filter(|p| !p.is_empty()) else {
        return true; // every port
    };
    ports.iter().any(|p| {
        if p["protocol"].as_str().unwrap_or("TCP") != protocol {
            return false;
        }
        match &p["port"] {
            Value::Null => true,
            Value::Number(n) => {
                let first = n.as_u64().unwrap() as u16;
                let last = p["endPort"].as_u64().map_or(first, |e| e as u16);
                (first..=last).contains(&port)
            }
            Value::String(name) => match destination {
                Endpoint::Pod(pod) => pod
                    .ports
                    .iter()
                    .any(|(n, number, proto)| n == name && *number == port && proto == protocol),
                Endpoint::External => false,
            },
            other => panic!("bad port {other}"),
        }
    })
}

/// Ports worth trying on a pod: its own, and a few any pod might open.
fn probe_ports(pod: &Pod) -> BTreeSet<(u16, String)> {
    let mut out: BTreeSet<(u16, String)> =
        pod.ports.iter().map(|(_, n, p)| (*n, p.clone())).collect();
    for port in [22, 53, 80, 443, 3000, 4200, 5432, 6443, 8080, 9090] {
        for proto in ["TCP", "UDP"] {
            out.insert((port, proto.to_string()));
        }
    }
    out
}

/// No pod of `a` reaches any pod of `b`, nor the other way round.
fn assert_isolated(world: &World, a: &str, b: &str) {
    let (pa, pb) = (world.pods_of(a), world.pods_of(b));
    assert!(
        pa.len() > 3 && pb.len() > 3,
        "{a}: {}, {b}: {}",
        pa.len(),
        pb.len()
    );
    for (from, to) in [(&pa, &pb), (&pb, &pa)] {
        for src in from.iter() {
            for dst in to.iter() {
                for (port, proto) in probe_ports(dst) {
                    assert!(
                        !world.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), port, &proto),
                        "{} ({}) reaches {} ({}) on {port}/{proto}",
                        src.name,
                        src.namespace,
                        dst.name,
                        dst.namespace
                    );
                }
            }
        }
    }
}

/// Every pod of `tenant` reaches every port of every other pod of it.
fn assert_open_inside(world: &World, tenant: &str) {
    let pods = world.pods_of(tenant);
    for src in &pods {
        for dst in &pods {
            for (_, port, proto) in &dst.ports {
                assert!(
                    world.allowed(Endpoint::Pod(src), Endpoint::Pod(dst), *port, proto),
                    "{} cannot reach {} on {port}/{proto} inside {tenant}",
                    src.name,
                    dst.name
                );
            }
        }
    }
}

#[test]
fn no_policy_admits_a_cnvrg_tenant_and_a_workspace_to_each_other() {
    let world = World::of(&render(MIXED));
    assert_isolated(&world, "team-a", "research");
    assert_open_inside(&world, "team-a");
    assert_open_inside(&world, "research");
}

#[test]
fn no_policy_admits_one_workspace_to_another() {
    let world = World::of(&render(WORKSPACES));
    assert_isolated(&world, "research", "vision");
    assert_open_inside(&world, "research");
    assert_open_inside(&world, "vision");
}

/// The pod ports the ServiceMonitors of `ns` scrape: ServiceMonitor →
/// Service (by its selector) → Service port (by name) → target port → the
/// pods behind the Service.
fn scraped(ms: &[Manifest], world: &World, ns: &str) -> BTreeSet<(String, u16)> {
    let mut out = BTreeSet::new();
    for sm in ms
        .iter()
        .filter(|m| m.kind() == "ServiceMonitor" && m.namespace() == Some(ns))
    {
        let wanted = &sm.object["spec"]["selector"];
        for svc in ms.iter().filter(|m| {
            m.kind() == "Service"
                && m.namespace() == Some(ns)
                && selects(wanted, &labels_of(&m.object["metadata"]["labels"]))
        }) {
            for ep in sm.object["spec"]["endpoints"].as_array().unwrap() {
                let port = svc.object["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == ep["port"])
                    .expect("the endpoint names a Service port");
                let selector = serde_json::json!({"matchLabels": svc.object["spec"]["selector"]});
                for pod in world
                    .pods
                    .iter()
                    .filter(|p| p.namespace == ns && selects(&selector, &p.labels))
                {
                    let number = match &port["targetPort"] {
                        Value::String(name) => {
                            pod.ports.iter().find(|(n, _, _)| n == name).unwrap().1
                        }
                        Value::Number(n) => n.as_u64().unwrap() as u16,
                        _ => port["port"].as_u64().unwrap() as u16,
                    };
                    out.insert((pod.name.clone(), number));
                }
            }
        }
    }
    out
}

#[test]
fn the_infra_prometheus_reaches_exactly_the_metrics_ports() {
    let ms = render(MIXED);
    let world = World::of(&ms);
    let prometheus = world.pod("Prometheus/infra");
    let scraped = scraped(&ms, &world, "cnvrg-team-a");
    assert_eq!(scraped.len(), 5, "{scraped:?}");
    for tenant in ["team-a", "research"] {
        for pod in world.pods_of(tenant) {
            for (port, proto) in probe_ports(pod) {
                let expected = proto == "TCP" && scraped.contains(&(pod.name.clone(), port));
                assert_eq!(
                    world.allowed(Endpoint::Pod(prometheus), Endpoint::Pod(pod), port, &proto),
                    expected,
                    "infra Prometheus → {} {port}/{proto}",
                    pod.name
                );
            }
        }
    }
    // Other infra pods get nowhere.
    let ksm = world.pod("Deployment/kube-state-metrics");
    let postgres = world.pod("StatefulSet/postgres");
    assert!(!world.allowed(Endpoint::Pod(ksm), Endpoint::Pod(postgres), 9187, "TCP"));
}

#[test]
fn the_rest_of_the_world_as_each_component_needs_it() {
    let world = World::of(&render(MIXED));
    let reach = |src: &str, dst: Endpoint, port: u16, proto: &str| {
        world.allowed(Endpoint::Pod(world.pod(src)), dst, port, proto)
    };
    let dns = Endpoint::Pod(world.pod("coredns"));
    let api = Endpoint::External;
    let gateway = Endpoint::Pod(world.pod("Deployment/istio-ingressgateway"));
    for tenant in ["team-a", "research"] {
        for pod in world.pods_of(tenant) {
            assert!(
                world.allowed(Endpoint::Pod(pod), dns, 53, "UDP"),
                "{}",
                pod.name
            );
            assert!(
                world.allowed(Endpoint::Pod(pod), dns, 53, "TCP"),
                "{}",
                pod.name
            );
        }
    }
    // The API server and the outside world: only what needs them.
    for pod in [
        "Deployment/research-agent-default",
        "Deployment/app",
        "Job/migrate",
    ] {
        assert!(reach(pod, api, 6443, "TCP"), "{pod}");
        assert!(reach(pod, api, 443, "TCP"), "{pod}");
    }
    assert!(reach("user workload of research", api, 443, "TCP"));
    assert!(reach("user workload of team-a", api, 6443, "TCP"));
    for pod in [
        "Deployment/research-orion-server",
        "StatefulSet/research-postgres",
        "StatefulSet/postgres",
        "Deployment/kibana",
        "Deployment/grafana",
        "Prometheus/prometheus",
    ] {
        for port in [80, 443, 6443] {
            assert!(!reach(pod, api, port, "TCP"), "{pod} reaches out on {port}");
        }
    }
    // The tenant Prometheus federates from the infra one, and nothing else
    // of the tenant goes to infra Prometheus.
    let infra_prometheus = Endpoint::Pod(world.pod("Prometheus/infra"));
    assert!(reach(
        "Prometheus/prometheus",
        infra_prometheus,
        9090,
        "TCP"
    ));
    assert!(!reach("Deployment/grafana", infra_prometheus, 9090, "TCP"));
    assert!(!reach(
        "Deployment/research-orion-server",
        infra_prometheus,
        9090,
        "TCP"
    ));
    // The gateway reaches the published services on their http port only.
    let gw = world.pod("Deployment/istio-ingressgateway");
    for (pod, port) in [
        ("Deployment/app", 8080),
        ("StatefulSet/minio", 9000),
        ("Deployment/kibana", 5601),
        ("Deployment/grafana", 3000),
    ] {
        let dst = Endpoint::Pod(world.pod(pod));
        assert!(world.allowed(Endpoint::Pod(gw), dst, port, "TCP"), "{pod}");
    }
    let minio = Endpoint::Pod(world.pod("StatefulSet/minio"));
    assert!(
        !world.allowed(Endpoint::Pod(gw), minio, 9001, "TCP"),
        "console"
    );
    let es = Endpoint::Pod(world.pod("StatefulSet/elasticsearch"));
    assert!(!world.allowed(Endpoint::Pod(gw), es, 9200, "TCP"));
    // ... and the app reaches MinIO's public address through it.
    assert!(reach("Deployment/app", gateway, 8080, "TCP"));
    assert!(!reach("StatefulSet/redis", gateway, 8080, "TCP"));
}

#[test]
fn single_namespace_mode_adds_no_policy_quota_or_limit_range() {
    let (_, ms) = crate::common::render_example("single-namespace");
    for kind in ["NetworkPolicy", "ResourceQuota", "LimitRange"] {
        assert!(!ms.iter().any(|m| m.kind() == kind), "{kind} rendered");
    }
    // The infra namespace keeps the level its host-access components need.
    let ns = ms.iter().find(|m| m.kind() == "Namespace").unwrap();
    assert_eq!(
        ns.object["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
}

/// The Pod Security level each tenant type's namespace enforces.
const LEVELS: &[(&str, &str)] = &[("cnvrg", "baseline"), ("workspace", "restricted")];

#[test]
fn tenant_namespaces_carry_the_pod_security_level_of_their_type() {
    for ms in [render(MIXED), render(WORKSPACES)] {
        for ns in ms
            .iter()
            .filter(|m| m.kind() == "Namespace" && m.origin.scope != Scope::Infra)
        {
            let labels = &ns.object["metadata"]["labels"];
            let kind = labels["app.kubernetes.io/part-of"].as_str().unwrap();
            let level = LEVELS.iter().find(|(k, _)| *k == kind).unwrap().1;
            for mode in ["enforce", "warn", "audit"] {
                assert_eq!(
                    labels[format!("pod-security.kubernetes.io/{mode}")],
                    level,
                    "{} {mode}",
                    ns.id()
                );
            }
            assert_eq!(
                labels["pod-security.kubernetes.io/enforce-version"],
                "v1.33"
            );
        }
    }
}

/// What the Pod Security `level` (`baseline` or `restricted`, the
/// Kubernetes v1.33 rules) finds wrong with a workload's pod template.
fn pod_security_violations(template: &Value, level: &str) -> Vec<String> {
    let pod = pod_security::Pod {
        metadata: &template["metadata"],
        spec: &template["spec"],
    };
    violations(pod, Level::parse(level).unwrap(), Some(33))
}

#[test]
fn every_tenant_pod_meets_the_level_its_namespace_enforces() {
    for ms in [render(MIXED), render(WORKSPACES)] {
        let levels: BTreeMap<&str, &str> = ms
            .iter()
            .filter(|m| m.kind() == "Namespace")
            .filter_map(|m| {
                let level = m.object["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                    .as_str()?;
                Some((m.name(), level))
            })
            .collect();
        let mut checked = 0;
        for m in ms.iter().filter(|m| m.origin.scope != Scope::Infra) {
            let Some(pod) = m.object.pointer("/spec/template") else {
                continue;
            };
            let level = levels[m.namespace().unwrap()];
            let wrong = pod_security_violations(pod, level);
            assert!(wrong.is_empty(), "{} ({level}): {wrong:?}", m.id());
            // Every pod cnvrgctl renders meets `restricted`, in a `baseline`
            // namespace too: only the users' workloads there need less.
            let wrong = pod_security_violations(pod, "restricted");
            assert!(wrong.is_empty(), "{} (restricted): {wrong:?}", m.id());
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} pod templates");
        // The Prometheus pods prometheus-operator makes: the pod-level
        // settings come from the resource, the containers' (no escalation,
        // all capabilities dropped) from the operator.
        for m in ms.iter().filter(|m| m.kind() == "Prometheus") {
            let psc = &m.object["spec"]["securityContext"];
            assert_eq!(psc["runAsNonRoot"], true, "{}", m.id());
            assert_ne!(psc["runAsUser"], 0, "{}", m.id());
            assert_eq!(
                psc["seccompProfile"]["type"],
                "RuntimeDefault",
                "{}",
                m.id()
            );
        }
    }
}

#[test]
fn the_flow_run_pods_are_made_restricted_too() {
    // The base job template the workers' init container writes gives flow-run
    // pods the restricted settings (it is Python in the container's args).
    let ms = render(WORKSPACES);
    for m in ms
        .iter()
        .filter(|m| m.name().contains("-agent-") && m.kind() == "Deployment")
    {
        let script = m.object["spec"]["template"]["spec"]["initContainers"][0]["args"][2]
            .as_str()
            .unwrap();
        for needle in [
            "\"runAsNonRoot\": True",
            "\"seccompProfile\": {\"type\": \"RuntimeDefault\"}",
            "\"allowPrivilegeEscalation\": False",
            "\"capabilities\": {\"drop\": [\"ALL\"]}",
            "pod[\"automountServiceAccountToken\"] = False",
        ] {
            assert!(script.contains(needle), "{}: {needle}", m.id());
        }
    }
}

#[test]
fn only_pods_that_use_the_api_get_a_token() {
    let ms = render(MIXED);
    let needs_api = [
        "app",
        "sidekiq",
        "searchkiq",
        "systemkiq",
        "migrate",
        "research-agent-default",
        "research-agent-gpu",
    ];
    for m in ms.iter().filter(|m| m.origin.scope != Scope::Infra) {
        let Some(pod) = m.object.pointer("/spec/template/spec") else {
            continue;
        };
        let expected = needs_api.contains(&m.name());
        assert_eq!(pod["automountServiceAccountToken"], expected, "{}", m.id());
    }
    for m in ms
        .iter()
        .filter(|m| m.kind() == "Prometheus" && m.origin.scope != Scope::Infra)
    {
        assert_eq!(m.object["spec"]["automountServiceAccountToken"], false);
    }
}

#[test]
fn every_tenant_namespace_has_its_quota_and_limit_range() {
    let spec = load_texts(MIXED, &[]).unwrap();
    let ms = render(MIXED);
    for tenant in &spec.tenants {
        let quota = tenant
            .quota
            .as_ref()
            .expect("multi-tenant tenants have a quota");
        let in_ns = |kind: &str| {
            let found: Vec<&Manifest> = ms
                .iter()
                .filter(|m| m.kind() == kind && m.namespace() == Some(tenant.namespace.as_str()))
                .collect();
            assert_eq!(found.len(), 1, "{} {kind}", tenant.name);
            found[0]
        };
        let hard = &in_ns("ResourceQuota").object["spec"]["hard"];
        for (key, value) in [
            ("requests.cpu", quota.requests.cpu.to_string()),
            ("requests.memory", quota.requests.memory.to_string()),
            ("limits.cpu", quota.limits.cpu.to_string()),
            ("limits.memory", quota.limits.memory.to_string()),
            ("requests.storage", quota.storage.to_string()),
            (
                "persistentvolumeclaims",
                quota.persistent_volume_claims.to_string(),
            ),
            ("pods", quota.pods.to_string()),
        ] {
            assert_eq!(hard[key], value.as_str(), "{} {key}", tenant.name);
        }
        let limits = &in_ns("LimitRange").object["spec"]["limits"][0];
        assert_eq!(limits["type"], "Container");
        let d = &quota.container_defaults;
        assert_eq!(
            limits["defaultRequest"]["cpu"],
            d.requests.cpu.to_string().as_str()
        );
        assert_eq!(
            limits["defaultRequest"]["memory"],
            d.requests.memory.to_string().as_str()
        );
        assert_eq!(limits["default"]["cpu"], d.limits.cpu.to_string().as_str());
        assert_eq!(
            limits["default"]["memory"],
            d.limits.memory.to_string().as_str()
        );
    }
}

/// A spec directory using profile `tight`: the built-in dev profile with the
/// workspace quota's last lines replaced by `quota`.
fn with_tight_profile(quota: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dev = std::fs::read_to_string(crate::common::root().join("profiles/dev.yaml")).unwrap();
    let head = &dev[..dev.find("    workspace:\n      requests:").unwrap()];
    let text = format!("{head}    workspace:\n{quota}").replace("name: dev", "name: tight");
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(dir.path().join("profiles/tight.yaml"), text).unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        MIXED.replace("profile: dev", "profile: tight"),
    )
    .unwrap();
    dir
}

#[test]
fn an_impossible_quota_in_a_profile_override_fails_before_anything_is_applied() {
    // Room for 4 pods and 300m of CPU: the workspace needs more.
    let dir = with_tight_profile(
        "      requests: {cpu: 300m, memory: 8Gi}\n      limits: {cpu: \"16\", memory: 24Gi}\n      storage: 50Gi\n      persistentVolumeClaims: 10\n      pods: 4\n      containerDefaults:\n        requests: {cpu: 100m, memory: 128Mi}\n        limits: {cpu: 500m, memory: 512Mi}\n",
    );
    let spec =
        cnvrgctl::pipeline::spec::load(&dir.path().join("cluster.yaml")).expect("the spec loads");
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    let err = cnvrgctl::pipeline::validate::validate(&ms).expect_err("the quota is too small");
    insta::assert_snapshot!(err.to_string());

    // `apply` stops there, exit 2, before it reads a kubeconfig.
    let out = assert_cmd::cargo::cargo_bin_cmd!("cnvrgctl")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .args([
            "apply",
            "--yes",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "-f",
        ])
        .arg(dir.path().join("cluster.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tenant `research` needs pods 8 but its quota allows 4"),
        "{stderr}"
    );
}

#[test]
fn a_limit_range_default_above_its_limit_is_a_spec_error_in_the_profile() {
    let dir = with_tight_profile(
        "      requests: {cpu: \"4\", memory: 8Gi}\n      limits: {cpu: \"16\", memory: 24Gi}\n      storage: 50Gi\n      persistentVolumeClaims: 10\n      pods: 30\n      containerDefaults:\n        requests: {cpu: \"2\", memory: 128Mi}\n        limits: {cpu: 500m, memory: 512Mi}\n",
    );
    let err = cnvrgctl::pipeline::spec::load(&dir.path().join("cluster.yaml"))
        .expect_err("the default request is above the default limit")
        .to_string();
    let err = err.replace(&dir.path().display().to_string(), "<spec dir>");
    insta::assert_snapshot!(err);
}
