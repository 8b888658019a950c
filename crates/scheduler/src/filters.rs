//! Whether a pod fits a node: upstream's filter plugins in their order
//! (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
//! NodeResourcesFit), each answering with the reason upstream prints.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm, Taint, Toleration,
};

use crate::node_info::{HostPort, NodeInfo, host_ports};
use crate::resources::{self, Resources};

/// The taint upstream puts on cordoned nodes, which a pod may tolerate.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Why a node was filtered out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Unschedulable,
    NodeName,
    Taint { key: String, value: String },
    Affinity,
    Ports,
    Insufficient(String),
    TooManyPods,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::NodeName => f.write_str("node(s) didn't match the requested node name"),
            Reason::Taint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::Affinity => f.write_str("node(s) didn't match Pod's node affinity/selector"),
            Reason::Ports => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::Insufficient(resource) => write!(f, "Insufficient {resource}"),
            Reason::TooManyPods => f.write_str("Too many pods"),
        }
    }
}

/// A pending pod as the queue keeps it: its identity, what scheduling reads of it,
/// and the message of its current PodScheduled=False condition. Much smaller than the
/// pod, which matters when many wait.
#[derive(Debug)]
pub struct QueuedPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
    pub priority: i32,
    pub unschedulable_message: Option<String>,
    pub facts: PodFacts,
}

impl QueuedPod {
    /// None for a pod without a uid (never stored by an API server).
    pub fn of(pod: &Pod) -> Option<Self> {
        let condition = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
            .filter(|c| c.status == "False");
        Some(QueuedPod {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone()?,
            resource_version: pod.metadata.resource_version.clone(),
            priority: pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
            unschedulable_message: condition.and_then(|c| c.message.clone()),
            facts: PodFacts::of(pod),
        })
    }
}

/// What the filters and scores need of a pod, read once when it is queued.
#[derive(Debug, PartialEq)]
pub struct PodFacts {
    pub node_name: Option<String>,
    pub requests: Resources,
    pub non_zero: (i64, i64),
    pub ports: Vec<HostPort>,
    pub tolerations: Vec<Toleration>,
    pub node_selector: BTreeMap<String, String>,
    pub required_terms: Option<Vec<NodeSelectorTerm>>,
    pub preferred_terms: Vec<PreferredSchedulingTerm>,
}

impl PodFacts {
    pub fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let affinity = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref());
        PodFacts {
            node_name: spec
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            requests: resources::pod_requests(pod),
            non_zero: resources::non_zero_requests(pod),
            ports: host_ports(pod),
            tolerations: spec.and_then(|s| s.tolerations.clone()).unwrap_or_default(),
            node_selector: spec
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default(),
            required_terms: affinity
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|r| r.node_selector_terms.clone()),
            preferred_terms: affinity
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .clone()
                })
                .unwrap_or_default(),
        }
    }
}

/// Runs the filters in upstream's order; the first failing one gives the reasons
/// (the resource filter names every resource that is short).
pub fn check(pod: &PodFacts, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    if node.unschedulable && !tolerates_unschedulable(&pod.tolerations) {
        return Err(vec![Reason::Unschedulable]);
    }
    if pod.node_name.as_deref().is_some_and(|n| n != node.name) {
        return Err(vec![Reason::NodeName]);
    }
    if let Some(taint) = untolerated_taint(&node.taints, &pod.tolerations) {
        return Err(vec![Reason::Taint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
        }]);
    }
    if !matches_affinity(pod, node) {
        return Err(vec![Reason::Affinity]);
    }
    if pod
        .ports
        .iter()
        .any(|wanted| node.ports.iter().any(|used| used.conflicts(wanted)))
    {
        return Err(vec![Reason::Ports]);
    }
    let short = insufficient(pod, node);
    if short.is_empty() { Ok(()) } else { Err(short) }
}

fn tolerates_unschedulable(tolerations: &[Toleration]) -> bool {
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT.into(),
        effect: "NoSchedule".into(),
        ..Taint::default()
    };
    tolerations.iter().any(|t| tolerates(t, &taint))
}

/// The first NoSchedule or NoExecute taint no toleration matches.
fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// Whether a toleration matches a taint (upstream's `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

fn matches_affinity(pod: &PodFacts, node: &NodeInfo) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    selector_ok
        && pod
            .required_terms
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|term| matches_term(term, node)))
}

/// A term matches when all its expressions and fields do; an empty term matches
/// nothing, as upstream has it.
pub fn matches_term(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| matches_requirement(r, node.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(node.name.as_str());
            matches_requirement(r, value)
        })
}

fn matches_requirement(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

fn insufficient(pod: &PodFacts, node: &NodeInfo) -> Vec<Reason> {
    let mut short = Vec::new();
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        short.push(Reason::TooManyPods);
    }
    let (want, have, used) = (&pod.requests, &node.allocatable, &node.requested);
    if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu {
        short.push(Reason::Insufficient(resources::CPU.into()));
    }
    if want.memory > 0 && want.memory > have.memory - used.memory {
        short.push(Reason::Insufficient(resources::MEMORY.into()));
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
    {
        short.push(Reason::Insufficient(resources::EPHEMERAL_STORAGE.into()));
    }
    for (name, amount) in &want.scalar {
        let free = have.scalar.get(name).copied().unwrap_or(0)
            - used.scalar.get(name).copied().unwrap_or(0);
        if *amount > 0 && *amount > free {
            short.push(Reason::Insufficient(name.clone()));
        }
    }
    short
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    use super::*;
    use crate::node_info::{NodeInfo, PodUsage};

    fn node(value: serde_json::Value) -> NodeInfo {
        let node: Node = serde_json::from_value(value).unwrap();
        let mut info = NodeInfo::empty(node.metadata.name.as_deref().unwrap());
        info.set_node(&node);
        info
    }

    fn small_node(name: &str) -> NodeInfo {
        node(json!({
            "metadata": {"name": name, "labels": {"zone": "a", "cores": "4"}},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
        }))
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "spec": spec}))
            .unwrap()
    }

    fn facts(spec: serde_json::Value) -> PodFacts {
        PodFacts::of(&pod(spec))
    }

    #[test]
    fn requests_beyond_what_is_free_name_each_short_resource() {
        let mut n = small_node("n1");
        let big = pod(
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1500m"}}}]}),
        );
        n.add_pod("other", &PodUsage::of(&big, "n1"));
        let want = facts(json!({"containers": [{"name": "a",
            "resources": {"requests": {"cpu": "1", "memory": "8Gi", "example.com/gpu": "1"}}}]}));
        let reasons = check(&want, &n).unwrap_err();
        let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "Insufficient cpu",
                "Insufficient memory",
                "Insufficient example.com/gpu"
            ]
        );
        assert!(check(&facts(json!({"containers": [{"name": "a"}]})), &n).is_ok());
    }

    #[test]
    fn the_pod_limit_counts_bound_pods() {
        let mut n = small_node("n1");
        for uid in ["a", "b", "c"] {
            n.add_pod(uid, &PodUsage::of(&pod(json!({"containers": []})), "n1"));
        }
        assert_eq!(
            check(&facts(json!({"containers": []})), &n).unwrap_err(),
            [Reason::TooManyPods]
        );
    }

    #[test]
    fn node_selector_and_required_affinity_must_both_match() {
        let n = small_node("n1");
        assert!(
            check(
                &facts(json!({"containers": [], "nodeSelector": {"zone": "a"}})),
                &n
            )
            .is_ok()
        );
        assert_eq!(
            check(
                &facts(json!({"containers": [], "nodeSelector": {"zone": "b"}})),
                &n
            )
            .unwrap_err(),
            [Reason::Affinity]
        );
        let affinity = |op: &str, values: serde_json::Value| {
            facts(json!({"containers": [], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "cores", "operator": op, "values": values}]}]}}}}))
        };
        assert!(check(&affinity("Gt", json!(["2"])), &n).is_ok());
        assert!(check(&affinity("Lt", json!(["2"])), &n).is_err());
        assert!(check(&affinity("In", json!(["4", "8"])), &n).is_ok());
        assert!(check(&affinity("NotIn", json!(["4"])), &n).is_err());
        assert!(check(&affinity("DoesNotExist", json!(null)), &n).is_err());
        let by_name = facts(json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}));
        assert!(check(&by_name, &n).is_ok(), "terms are ORed");
    }

    #[test]
    fn taints_need_a_matching_toleration() {
        let n = node(json!({
            "metadata": {"name": "n1"},
            "spec": {"taints": [
                {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                {"key": "soft", "effect": "PreferNoSchedule"}]},
            "status": {"allocatable": {"cpu": "1", "pods": "10"}},
        }));
        let reason = check(&facts(json!({"containers": []})), &n).unwrap_err();
        assert_eq!(
            reason[0].to_string(),
            "node(s) had untolerated taint {dedicated: db}"
        );
        let equal = facts(json!({"containers": [], "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}));
        assert!(check(&equal, &n).is_ok());
        let wrong_value = facts(json!({"containers": [], "tolerations": [
            {"key": "dedicated", "value": "web"}]}));
        assert!(check(&wrong_value, &n).is_err());
        let everything = facts(json!({"containers": [], "tolerations": [{"operator": "Exists"}]}));
        assert!(check(&everything, &n).is_ok());
    }

    #[test]
    fn cordoned_nodes_take_only_pods_tolerating_it() {
        let mut n = small_node("n1");
        n.unschedulable = true;
        assert_eq!(
            check(&facts(json!({"containers": []})), &n).unwrap_err(),
            [Reason::Unschedulable]
        );
        let tolerant = facts(json!({"containers": [], "tolerations": [
            {"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]}));
        assert!(check(&tolerant, &n).is_ok());
    }

    #[test]
    fn host_ports_collide_on_protocol_port_and_address() {
        let mut n = small_node("n1");
        let web = pod(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "hostPort": 8080}]}]}));
        n.add_pod("web", &PodUsage::of(&web, "n1"));
        let same = facts(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}]}]}));
        assert_eq!(check(&same, &n).unwrap_err(), [Reason::Ports]);
        let udp = facts(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]}));
        assert!(check(&udp, &n).is_ok());
        n.remove_pod("web", &PodUsage::of(&web, "n1"));
        assert!(check(&same, &n).is_ok(), "a removed pod frees its port");
    }

    #[test]
    fn a_pod_naming_its_node_fits_only_there() {
        let want = facts(json!({"containers": [], "nodeName": "n2"}));
        assert_eq!(
            check(&want, &small_node("n1")).unwrap_err(),
            [Reason::NodeName]
        );
        assert!(check(&want, &small_node("n2")).is_ok());
    }
}
