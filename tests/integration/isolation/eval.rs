//! The NetworkPolicy evaluator the isolation tests use: the pods a render
//! implies (workloads, prometheus-operator's Prometheus pods, the cluster
//! DNS, a user workload per tenant), and whether a policy set lets one
//! endpoint reach another on a port, as the Kubernetes documentation
//! defines it (podSelector, namespaceSelector, matchLabels,
//! matchExpressions, ipBlock, ports and named ports, policyTypes). Pods on
//! the host network and addresses outside the pod network are told apart
//! from pods: only address rules (or rules without a peer) match them.

use std::collections::{BTreeMap, BTreeSet};

use cnvrgctl::pipeline::manifest::{Manifest, Scope};
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use serde_json::Value;

use crate::common::load_texts;

pub(super) fn render(text: &str) -> Vec<Manifest> {
    let spec = load_texts(text, &[]).expect("spec loads");
    let ms =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    cnvrgctl::pipeline::validate::validate(&ms).expect("validates");
    ms
}

pub(super) type Labels = BTreeMap<String, String>;

/// A pod the cluster would run, or an address outside the pod network.
#[derive(Debug, Clone)]
pub(super) struct Pod {
    /// `Kind/name` of what makes it, or a made-up name.
    pub(super) name: String,
    pub(super) namespace: String,
    /// The tenant it belongs to; `None` for infra and the cluster's own.
    pub(super) tenant: Option<String>,
    pub(super) labels: Labels,
    /// (name, number, protocol) of its container ports.
    pub(super) ports: Vec<(String, u16, String)>,
    /// On the node's network: its address is the node's, which no pod or
    /// namespace selector matches, and (on most network plugins) no policy
    /// polices it.
    pub(super) host_network: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Endpoint<'a> {
    Pod(&'a Pod),
    /// An address outside the pod network (the API server, the internet).
    External,
}

/// The world a render implies: namespaces with their labels, pods, policies.
pub(super) struct World {
    pub(super) namespaces: BTreeMap<String, Labels>,
    pub(super) pods: Vec<Pod>,
    pub(super) policies: Vec<Value>,
}

pub(super) fn labels_of(v: &Value) -> Labels {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

pub(super) fn ports_of(pod: &Value) -> Vec<(String, u16, String)> {
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

pub(super) fn tenant_of(m: &Manifest) -> Option<String> {
    match &m.origin.scope {
        Scope::Tenant(name) => Some(name.clone()),
        Scope::Infra => None,
    }
}

impl World {
    pub(super) fn of(ms: &[Manifest]) -> World {
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
                        host_network: template["spec"]["hostNetwork"] == true,
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
                        host_network: false,
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
            host_network: false,
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
                host_network: false,
            });
        }
        pods.extend(users);
        World {
            namespaces,
            pods,
            policies,
        }
    }

    pub(super) fn pods_of(&self, tenant: &str) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|p| p.tenant.as_deref() == Some(tenant))
            .collect()
    }

    pub(super) fn pod(&self, name: &str) -> &Pod {
        self.pods
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    }

    /// Whether `src` may open a connection to `dst` on `port`/`protocol`:
    /// the sender's egress and the receiver's ingress must both allow it.
    pub(super) fn allowed(&self, src: Endpoint, dst: Endpoint, port: u16, protocol: &str) -> bool {
        self.direction(src, dst, port, protocol, "Egress")
            && self.direction(dst, src, port, protocol, "Ingress")
    }

    /// `of`'s policies of type `kind` (Ingress: `peer` is the source; Egress:
    /// the destination); the port is the destination's, so named ports are
    /// looked up on the destination pod.
    pub(super) fn direction(
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
        if pod.host_network {
            return true; // nor, on most network plugins, the host network
        }
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

    pub(super) fn peer_matches(&self, peers: &Value, ep: Endpoint, policy_ns: &str) -> bool {
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
            if pod.host_network {
                return false; // a node address: only address rules match
            }
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
pub(super) fn policy_types(policy: &Value) -> Vec<&str> {
    match policy["spec"]["policyTypes"].as_array() {
        Some(types) => types.iter().filter_map(Value::as_str).collect(),
        None if policy["spec"].get("egress").is_some() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    }
}

/// A label selector (`{}` matches everything).
pub(super) fn selects(selector: &Value, labels: &Labels) -> bool {
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

pub(super) fn port_matches(
    ports: &Value,
    destination: Endpoint,
    port: u16,
    protocol: &str,
) -> bool {
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
pub(super) fn probe_ports(pod: &Pod) -> BTreeSet<(u16, String)> {
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
pub(super) fn assert_isolated(world: &World, a: &str, b: &str) {
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
pub(super) fn assert_open_inside(world: &World, tenant: &str) {
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

/// The pod ports the ServiceMonitors of `ns` scrape: ServiceMonitor →
/// Service (by its selector) → Service port (by name) → target port → the
/// pods behind the Service.
pub(super) fn scraped(ms: &[Manifest], world: &World, ns: &str) -> BTreeSet<(String, u16)> {
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
