//! What the scheduler knows of each node: its labels, taints and allocatable
//! resources, and what the pods bound to it (or assumed to be) already use.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::resources::{self, Resources};

/// A host port a pod claims: protocol, host IP (`0.0.0.0` for all) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// Two claims collide on the same protocol and port when either binds every
    /// address or both bind the same one.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == ANY_IP || other.ip == ANY_IP)
    }
}

const ANY_IP: &str = "0.0.0.0";

/// The host ports of a pod's containers.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    containers
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port > 0)?;
            Some(HostPort {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| ANY_IP.into()),
                port,
            })
        })
        .collect()
}

/// A pod's footprint on its node, kept so it can be taken off again.
#[derive(Clone, Debug)]
pub struct PodUsage {
    pub node: String,
    pub requests: Resources,
    pub non_zero: (i64, i64),
    pub ports: Vec<HostPort>,
}

impl PodUsage {
    /// The footprint of a pending pod about to be placed on `node`.
    pub fn planned(facts: &crate::filters::PodFacts, node: &str) -> Self {
        PodUsage {
            node: node.to_string(),
            requests: facts.requests.clone(),
            non_zero: facts.non_zero,
            ports: facts.ports.clone(),
        }
    }

    pub fn of(pod: &Pod, node: &str) -> Self {
        PodUsage {
            node: node.to_string(),
            requests: resources::pod_requests(pod),
            non_zero: resources::non_zero_requests(pod),
            ports: host_ports(pod),
        }
    }
}

/// One node as the filters and scores see it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub requested: Resources,
    /// CPU and memory requested, counting pods without requests at the defaults.
    pub non_zero_requested: (i64, i64),
    pub pods: HashSet<String>,
    pub ports: Vec<HostPort>,
    /// Whether a Node object stands behind this entry (pods may arrive first).
    pub exists: bool,
}

impl NodeInfo {
    pub fn empty(name: &str) -> Self {
        NodeInfo {
            name: name.to_string(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable: false,
            allocatable: Resources::default(),
            allowed_pods: 0,
            requested: Resources::default(),
            non_zero_requested: (0, 0),
            pods: HashSet::new(),
            ports: Vec::new(),
            exists: false,
        }
    }

    /// Takes the node's own fields from `node`, keeping the pod accounting.
    pub fn set_node(&mut self, node: &Node) {
        let (allocatable, allowed_pods) = resources::node_allocatable(node);
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.allocatable = allocatable;
        self.allowed_pods = allowed_pods;
        self.exists = true;
    }

    pub fn add_pod(&mut self, uid: &str, usage: &PodUsage) {
        if !self.pods.insert(uid.to_string()) {
            return;
        }
        self.requested.add(&usage.requests);
        self.non_zero_requested.0 += usage.non_zero.0;
        self.non_zero_requested.1 += usage.non_zero.1;
        self.ports.extend(usage.ports.iter().cloned());
    }

    pub fn remove_pod(&mut self, uid: &str, usage: &PodUsage) {
        if !self.pods.remove(uid) {
            return;
        }
        self.requested.subtract(&usage.requests);
        self.non_zero_requested.0 -= usage.non_zero.0;
        self.non_zero_requested.1 -= usage.non_zero.1;
        for port in &usage.ports {
            if let Some(at) = self.ports.iter().position(|p| p == port) {
                self.ports.swap_remove(at);
            }
        }
    }
}

/// Nodes by name, in a stable order the scheduler walks round-robin.
#[derive(Default)]
pub struct Nodes {
    pub infos: HashMap<String, NodeInfo>,
    /// Names of the nodes that exist, in insertion order.
    pub order: Vec<String>,
}

impl Nodes {
    pub fn upsert(&mut self, node: &Node) {
        let Some(name) = node.metadata.name.as_deref() else {
            return;
        };
        let info = self
            .infos
            .entry(name.to_string())
            .or_insert_with(|| NodeInfo::empty(name));
        if !info.exists {
            self.order.push(name.to_string());
        }
        info.set_node(node);
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(info) = self.infos.get_mut(name) {
            info.exists = false;
            if info.pods.is_empty() {
                self.infos.remove(name);
            }
        }
        self.order.retain(|n| n != name);
    }

    pub fn add_pod(&mut self, uid: &str, usage: &PodUsage) {
        self.infos
            .entry(usage.node.clone())
            .or_insert_with(|| NodeInfo::empty(&usage.node))
            .add_pod(uid, usage);
    }

    pub fn remove_pod(&mut self, uid: &str, usage: &PodUsage) {
        if let Some(info) = self.infos.get_mut(&usage.node) {
            info.remove_pod(uid, usage);
            if !info.exists && info.pods.is_empty() {
                self.infos.remove(&usage.node);
            }
        }
    }
}
