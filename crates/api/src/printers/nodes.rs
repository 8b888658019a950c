//! Node rows: readiness, roles from labels, versions and addresses.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{age, list, name, or_none, text};
use super::{AGE, NAME, Printer, col, wide};

/// Labels `node-role.kubernetes.io/<role>` name a role each.
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The older `kubernetes.io/role=<role>` label.
const ROLE_LABEL: &str = "kubernetes.io/role";

pub(super) const NODES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "Readiness of the node, and whether scheduling is disabled.",
        ),
        col(
            "Roles",
            "string",
            "Roles of the node, from its role labels.",
        ),
        AGE,
        col("Version", "string", "Kubelet version."),
        wide(
            "Internal-IP",
            "string",
            "First internal address of the node.",
        ),
        wide(
            "External-IP",
            "string",
            "First external address of the node.",
        ),
        wide("OS-Image", "string", "Operating system image of the node."),
        wide("Kernel-Version", "string", "Kernel version of the node."),
        wide(
            "Container-Runtime",
            "string",
            "Container runtime name and version.",
        ),
    ],
    row: node_row,
};

fn node_row(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let info = &node["status"]["nodeInfo"];
    let or_unknown = |v: &Value| match text(v) {
        "" => "<unknown>".to_string(),
        s => s.to_string(),
    };
    vec![
        name(node),
        json!(node_status(node)),
        json!(or_none(&roles(node).join(","))),
        age(node, now),
        json!(text(&info["kubeletVersion"])),
        json!(or_none(address(node, "InternalIP"))),
        json!(or_none(address(node, "ExternalIP"))),
        json!(or_unknown(&info["osImage"])),
        json!(or_unknown(&info["kernelVersion"])),
        json!(or_unknown(&info["containerRuntimeVersion"])),
    ]
}

/// "Ready", "NotReady" or "Unknown" from the Ready condition, then
/// ",SchedulingDisabled" for a cordoned node.
fn node_status(node: &Value) -> String {
    let conditions = list(&node["status"]["conditions"]);
    // Later duplicates win, as upstream indexes conditions by type.
    let ready = conditions.iter().rev().find(|c| c["type"] == "Ready");
    let mut status = match ready {
        Some(c) if c["status"] == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Sorted unique roles from `node-role.kubernetes.io/<role>` and
/// `kubernetes.io/role=<role>` labels.
fn roles(node: &Value) -> Vec<&str> {
    let Some(labels) = node["metadata"]["labels"].as_object() else {
        return Vec::new();
    };
    let roles: BTreeSet<&str> = labels
        .iter()
        .filter_map(|(key, value)| match key.strip_prefix(ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if key == ROLE_LABEL => Some(text(value)).filter(|r| !r.is_empty()),
            None => None,
        })
        .collect();
    roles.into_iter().collect()
}

fn address<'a>(node: &'a Value, kind: &str) -> &'a str {
    let addresses = list(&node["status"]["addresses"]);
    addresses
        .iter()
        .find(|a| a["type"] == kind)
        .map_or("", |a| text(&a["address"]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    fn node() -> Value {
        json!({
            "metadata": {
                "name": "node-1",
                "creationTimestamp": "2025-05-20T12:00:00Z",
                "labels": {
                    "node-role.kubernetes.io/control-plane": "",
                    "node-role.kubernetes.io/": "",
                    "kubernetes.io/role": "edge",
                    "kubernetes.io/hostname": "node-1"
                }
            },
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"},
                               {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "node-1"},
                              {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian GNU/Linux 13",
                             "kernelVersion": "6.12.0", "containerRuntimeVersion": "skiff://0.1.0"}
            }
        })
    }

    #[test]
    fn node_row_shows_status_roles_version_and_wide_cells() {
        assert_eq!(
            node_row(&node(), now()),
            [
                json!("node-1"),
                json!("Ready"),
                json!("control-plane,edge"),
                json!("12d"),
                json!("v1.35.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 13"),
                json!("6.12.0"),
                json!("skiff://0.1.0")
            ]
        );
    }

    #[test]
    fn cordoned_not_ready_node_shows_both() {
        let mut n = node();
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        n["spec"] = json!({"unschedulable": true});
        assert_eq!(node_status(&n), "NotReady,SchedulingDisabled");
    }

    #[test]
    fn node_without_conditions_or_labels_is_unknown_with_no_roles() {
        let cells = node_row(&json!({"metadata": {"name": "bare"}}), now());
        assert_eq!(cells[1..3], [json!("Unknown"), json!("<none>")]);
        assert_eq!(
            cells[7..],
            [json!("<unknown>"), json!("<unknown>"), json!("<unknown>")]
        );
    }
}
