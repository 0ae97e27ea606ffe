//! Nodes as the kubelet registers them: labels (hostname, OS, architecture and
//! any a test adds), `spec.taints` and `spec.unschedulable` (a cordon), and a
//! status with `capacity` and `allocatable` (cpu, memory, pods and any
//! extended resource such as `nvidia.com/gpu`), a `Ready` condition, addresses
//! and node info. [`TestServer::set_node`] adds or replaces one; the server
//! starts with [`crate::Options::nodes`] default nodes (`node-1`..).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::TestServer;
use crate::ops::State;
use crate::store::{Gr, rfc3339};

/// A node a test wants on the cluster.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// `status.allocatable` (and `capacity`): a resource list.
    pub allocatable: Value,
    /// Labels beside the kubelet's own.
    pub labels: Value,
    /// `spec.taints`.
    pub taints: Vec<Value>,
    /// Cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// The `Ready` condition's status.
    pub ready: bool,
}

impl Node {
    /// A ready node with 4 cpu, 16Gi of memory and 110 pods.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.into(),
            allocatable: json!({"cpu": "4", "memory": "16Gi", "pods": "110"}),
            labels: json!({}),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
        }
    }

    /// Sets (or adds) one allocatable resource: `("cpu", "2")`,
    /// `("nvidia.com/gpu", "4")`.
    pub fn allocatable(mut self, resource: &str, amount: &str) -> Node {
        self.allocatable[resource] = json!(amount);
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Node {
        self.labels[key] = json!(value);
        self
    }

    /// A taint `key=value:effect`.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Node {
        self.taints
            .push(json!({"key": key, "value": value, "effect": effect}));
        self
    }

    pub fn cordoned(mut self) -> Node {
        self.unschedulable = true;
        self
    }

    pub fn not_ready(mut self) -> Node {
        self.ready = false;
        self
    }
}

impl TestServer {
    /// Adds a node, or replaces the one of that name, as its kubelet would
    /// register it.
    pub fn set_node(&self, node: Node) {
        put(&mut self.shared.lock(), &node, 0);
    }
}

/// Writes `node` and its status; `index` numbers its address.
pub(crate) fn put(st: &mut State, node: &Node, index: u32) {
    let nodes: Gr = (String::new(), "nodes".into());
    let mut labels = json!({"kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64"});
    for (k, v) in node.labels.as_object().into_iter().flatten() {
        labels[k] = v.clone();
    }
    let mut object = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": labels}});
    if !node.taints.is_empty() {
        object["spec"]["taints"] = json!(node.taints);
    }
    if node.unschedulable {
        object["spec"]["unschedulable"] = json!(true);
    }
    st.controller_put(&nodes, object, "kubelet");
    let now = rfc3339(SystemTime::now());
    let (ready, reason) = match node.ready {
        true => ("True", "KubeletReady"),
        false => ("Unknown", "NodeStatusUnknown"),
    };
    st.controller_status(
        &nodes,
        "",
        &node.name,
        json!({
            "capacity": node.allocatable,
            "allocatable": node.allocatable,
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": format!("172.18.0.{}", index + 1)}, {"type": "Hostname", "address": node.name}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "containerRuntimeVersion": "containerd://2.0.0", "osImage": "testserver",
                "kernelVersion": "6.0.0", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""},
        }),
        "kubelet",
    );
}
