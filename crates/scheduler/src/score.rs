//! Ranking the feasible nodes: upstream's default scores, each 0-100, summed with
//! weight 1 (LeastAllocated and BalancedAllocation on CPU and memory, preferred node
//! affinity and PreferNoSchedule taints normalised across the candidates).

use crate::filters::{PodFacts, matches_term, tolerates};
use crate::node_info::NodeInfo;

const MAX_SCORE: i64 = 100;

/// The score of each node in `candidates`, in the same order.
pub fn scores(pod: &PodFacts, candidates: &[&NodeInfo]) -> Vec<i64> {
    let affinity: Vec<i64> = candidates
        .iter()
        .map(|n| preferred_affinity(pod, n))
        .collect();
    let intolerable: Vec<i64> = candidates
        .iter()
        .map(|n| intolerable_soft_taints(pod, n))
        .collect();
    let max_affinity = affinity.iter().copied().max().unwrap_or(0);
    let max_intolerable = intolerable.iter().copied().max().unwrap_or(0);
    candidates
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (least, balanced) = allocation_scores(pod, node);
            let affinity = if max_affinity > 0 {
                affinity[i] * MAX_SCORE / max_affinity
            } else {
                0
            };
            let taints = if max_intolerable > 0 {
                MAX_SCORE - intolerable[i] * MAX_SCORE / max_intolerable
            } else {
                MAX_SCORE
            };
            least + balanced + affinity + taints
        })
        .collect()
}

/// LeastAllocated (free share after placing the pod, averaged over CPU and memory)
/// and BalancedAllocation (how close the CPU and memory shares are).
fn allocation_scores(pod: &PodFacts, node: &NodeInfo) -> (i64, i64) {
    let cpu_used = node.non_zero_requested.0 + pod.non_zero.0;
    let memory_used = node.non_zero_requested.1 + pod.non_zero.1;
    let free_share = |used: i64, capacity: i64| {
        if capacity <= 0 || used > capacity {
            0
        } else {
            (capacity - used) * MAX_SCORE / capacity
        }
    };
    let least = (free_share(cpu_used, node.allocatable.milli_cpu)
        + free_share(memory_used, node.allocatable.memory))
        / 2;
    let fraction = |used: i64, capacity: i64| {
        if capacity <= 0 {
            1.0
        } else {
            (used as f64 / capacity as f64).min(1.0)
        }
    };
    let spread = (fraction(cpu_used, node.allocatable.milli_cpu)
        - fraction(memory_used, node.allocatable.memory))
    .abs()
        / 2.0;
    let balanced = ((1.0 - spread) * MAX_SCORE as f64) as i64;
    (least, balanced)
}

fn preferred_affinity(pod: &PodFacts, node: &NodeInfo) -> i64 {
    pod.preferred_terms
        .iter()
        .filter(|t| matches_term(&t.preference, node))
        .map(|t| i64::from(t.weight))
        .sum()
}

fn intolerable_soft_taints(pod: &PodFacts, node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|taint| !pod.tolerations.iter().any(|t| tolerates(t, taint)))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    use super::*;

    fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value) -> NodeInfo {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }))
        .unwrap();
        let mut info = NodeInfo::empty(name);
        info.set_node(&node);
        info
    }

    fn facts(spec: serde_json::Value) -> PodFacts {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap();
        PodFacts::of(&pod)
    }

    #[test]
    fn emptier_nodes_score_higher() {
        let empty = node("a", json!({}), json!([]));
        let mut busy = node("b", json!({}), json!([]));
        busy.non_zero_requested = (3000, 6 << 30);
        let s = scores(
            &facts(json!({"containers": [{"name": "c"}]})),
            &[&empty, &busy],
        );
        assert!(s[0] > s[1], "{s:?}");
    }

    #[test]
    fn preferred_affinity_and_soft_taints_steer_the_choice() {
        let ssd = node("a", json!({"disk": "ssd"}), json!([]));
        let hdd = node("b", json!({"disk": "hdd"}), json!([]));
        let pod = facts(
            json!({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {
                "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}),
        );
        let s = scores(&pod, &[&ssd, &hdd]);
        assert!(s[0] > s[1], "{s:?}");

        let soft = node(
            "c",
            json!({}),
            json!([{"key": "k", "effect": "PreferNoSchedule"}]),
        );
        let plain = node("d", json!({}), json!([]));
        let s = scores(
            &facts(json!({"containers": [{"name": "c"}]})),
            &[&soft, &plain],
        );
        assert!(s[0] < s[1], "{s:?}");
    }
}
