//! Rows of kinds with few columns: namespaces, config maps, secrets, service
//! accounts, resource quotas and leases.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{age, name, quantity, text};
use super::{AGE, Column, NAME, Printer, col};

pub(super) const NAMESPACES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "Phase of the namespace: Active or Terminating.",
        ),
        AGE,
    ],
    row: |obj, now| {
        vec![
            name(obj),
            json!(text(&obj["status"]["phase"])),
            age(obj, now),
        ]
    },
};

pub(super) const CONFIG_MAPS: Printer = Printer {
    columns: &[
        NAME,
        col("Data", "string", "Number of data and binary data keys."),
        AGE,
    ],
    row: |obj, now| {
        let keys = key_count(&obj["data"]) + key_count(&obj["binaryData"]);
        vec![name(obj), json!(keys), age(obj, now)]
    },
};

pub(super) const SECRETS: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "Type of the secret's content."),
        col("Data", "string", "Number of data keys."),
        AGE,
    ],
    row: secret_row,
};

fn secret_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // stringData is write-only and merged into data, but count its keys once
    // should a stored object still carry it.
    let mut keys: Vec<&String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(map) = obj[field].as_object() {
            keys.extend(map.keys());
        }
    }
    keys.sort();
    keys.dedup();
    vec![
        name(obj),
        json!(text(&obj["type"])),
        json!(keys.len()),
        age(obj, now),
    ]
}

pub(super) const SERVICE_ACCOUNTS: Printer = Printer {
    columns: &[NAME, AGE],
    row: |obj, now| vec![name(obj), age(obj, now)],
};

pub(super) const LEASES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Holder",
            "string",
            "Identity of the lease's current holder.",
        ),
        AGE,
    ],
    row: |obj, now| {
        vec![
            name(obj),
            json!(text(&obj["spec"]["holderIdentity"])),
            age(obj, now),
        ]
    },
};

const QUOTA_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    col(
        "Request",
        "string",
        "Used and hard limits of quota resources other than limits.*.",
    ),
    col(
        "Limit",
        "string",
        "Used and hard limits of the limits.* quota resources.",
    ),
];

pub(super) const RESOURCE_QUOTAS: Printer = Printer {
    columns: QUOTA_COLUMNS,
    row: quota_row,
};

/// Each hard-limited resource as "name: used/hard", split between the request
/// and the limit column by the `limits.` prefix.
fn quota_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let status = &obj["status"];
    let mut resources: Vec<&String> = status["hard"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for resource in resources {
        let used = quantity(&status["used"][resource.as_str()]);
        let hard = quantity(&status["hard"][resource.as_str()]);
        let entry = format!("{resource}: {used}/{hard}");
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(obj),
        age(obj, now),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
    ]
}

fn key_count(map: &Value) -> usize {
    map.as_object().map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    #[test]
    fn namespace_row_shows_phase_and_age() {
        let ns = json!({
            "metadata": {"name": "dev", "creationTimestamp": "2025-05-30T09:00:00Z"},
            "status": {"phase": "Active"}
        });
        assert_eq!((NAMESPACES.row)(&ns, now()), ["dev", "Active", "2d3h"]);
    }

    #[test]
    fn config_map_counts_data_and_binary_keys() {
        let cm = json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!((CONFIG_MAPS.row)(&cm, now())[1], 3);
    }

    #[test]
    fn secret_row_shows_type_and_key_count() {
        let s =
            json!({"type": "Opaque", "data": {"a": "eA=="}, "stringData": {"a": "x", "b": "y"}});
        assert_eq!(secret_row(&s, now())[1..3], [json!("Opaque"), json!(2)]);
    }

    #[test]
    fn lease_row_shows_the_holder() {
        let lease = json!({"spec": {"holderIdentity": "node-1"}});
        assert_eq!((LEASES.row)(&lease, now())[1], "node-1");
        assert_eq!((LEASES.row)(&json!({}), now())[1], "");
    }

    #[test]
    fn quota_row_splits_requests_from_limits() {
        let quota = json!({"status": {
            "hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi"},
            "used": {"pods": "3", "limits.memory": "512Mi"}
        }});
        let cells = quota_row(&quota, now());
        assert_eq!(cells[2], "pods: 3/10, requests.cpu: 0/2");
        assert_eq!(cells[3], "limits.memory: 512Mi/2Gi");
        let names: Vec<_> = QUOTA_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Age", "Request", "Limit"]);
    }
}
