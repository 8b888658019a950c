//! Rows of persistent volumes, their claims and storage classes.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{age, list, name, quantity, text};
use super::{AGE, NAME, Printer, col, wide};

/// The annotation that named the class before spec.storageClassName existed.
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

pub(super) const PERSISTENT_VOLUMES: Printer = Printer {
    columns: &[
        NAME,
        col("Capacity", "string", "Storage capacity of the volume."),
        col("Access Modes", "string", "Ways the volume can be mounted."),
        col(
            "Reclaim Policy",
            "string",
            "What happens to the volume once released.",
        ),
        col("Status", "string", "Phase of the volume."),
        col(
            "Claim",
            "string",
            "Claim bound to the volume, as namespace/name.",
        ),
        col("StorageClass", "string", "Storage class of the volume."),
        col(
            "VolumeAttributesClass",
            "string",
            "Volume attributes class of the volume.",
        ),
        col("Reason", "string", "Why the volume is in its phase."),
        AGE,
        wide("VolumeMode", "string", "Filesystem or Block."),
    ],
    row: volume_row,
};

fn volume_row(pv: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = &pv["spec"];
    let claim = &spec["claimRef"];
    let claim = match claim.is_object() {
        true => format!("{}/{}", text(&claim["namespace"]), text(&claim["name"])),
        false => String::new(),
    };
    vec![
        name(pv),
        json!(quantity(&spec["capacity"]["storage"])),
        json!(access_modes(&spec["accessModes"])),
        json!(text(&spec["persistentVolumeReclaimPolicy"])),
        json!(phase(pv)),
        json!(claim),
        json!(storage_class(pv)),
        json!(unset_if_missing(&spec["volumeAttributesClassName"])),
        json!(text(&pv["status"]["reason"])),
        age(pv, now),
        json!(unset_if_missing(&spec["volumeMode"])),
    ]
}

pub(super) const PERSISTENT_VOLUME_CLAIMS: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Phase of the claim."),
        col("Volume", "string", "Volume bound to the claim."),
        col(
            "Capacity",
            "string",
            "Storage capacity of the bound volume.",
        ),
        col(
            "Access Modes",
            "string",
            "Ways the bound volume can be mounted.",
        ),
        col("StorageClass", "string", "Storage class of the claim."),
        col(
            "VolumeAttributesClass",
            "string",
            "Volume attributes class of the claim.",
        ),
        AGE,
        wide("VolumeMode", "string", "Filesystem or Block."),
    ],
    row: claim_row,
};

fn claim_row(pvc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&pvc["spec"], &pvc["status"]);
    let volume = text(&spec["volumeName"]);
    // Capacity and modes are the bound volume's, so blank until bound.
    let (capacity, modes) = match volume {
        "" => (String::new(), String::new()),
        _ => (
            quantity(&status["capacity"]["storage"]),
            access_modes(&status["accessModes"]),
        ),
    };
    vec![
        name(pvc),
        json!(phase(pvc)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(pvc)),
        json!(unset_if_missing(&spec["volumeAttributesClassName"])),
        age(pvc, now),
        json!(unset_if_missing(&spec["volumeMode"])),
    ]
}

pub(super) const STORAGE_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Provisioner",
            "string",
            "Driver that provisions volumes of the class.",
        ),
        col(
            "ReclaimPolicy",
            "string",
            "Reclaim policy of provisioned volumes.",
        ),
        col(
            "VolumeBindingMode",
            "string",
            "When volumes are bound and provisioned.",
        ),
        col(
            "AllowVolumeExpansion",
            "string",
            "Whether claims of the class may grow.",
        ),
        AGE,
    ],
    row: storage_class_row,
};

fn storage_class_row(sc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let annotations = &sc["metadata"]["annotations"];
    let is_default = DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| annotations[*a] == "true");
    let mut class_name = text(&sc["metadata"]["name"]).to_string();
    if is_default {
        class_name.push_str(" (default)");
    }
    let or = |v: &Value, default: &'static str| v.as_str().unwrap_or(default).to_string();
    vec![
        json!(class_name),
        json!(text(&sc["provisioner"])),
        json!(or(&sc["reclaimPolicy"], "Delete")),
        json!(or(&sc["volumeBindingMode"], "Immediate")),
        json!(sc["allowVolumeExpansion"].as_bool().unwrap_or(false)),
        age(sc, now),
    ]
}

/// The phase, or Terminating once deletion has begun.
fn phase(obj: &Value) -> &str {
    if obj["metadata"]["deletionTimestamp"].is_null() {
        text(&obj["status"]["phase"])
    } else {
        "Terminating"
    }
}

/// The class from the beta annotation if present, else spec.storageClassName.
fn storage_class(obj: &Value) -> &str {
    match obj["metadata"]["annotations"][BETA_CLASS_ANNOTATION].as_str() {
        Some(class) => class,
        None => text(&obj["spec"]["storageClassName"]),
    }
}

/// Access modes abbreviated (RWO, ROX, RWX, RWOP) in that fixed order.
fn access_modes(modes: &Value) -> String {
    let modes = list(modes);
    let known = [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ];
    let present: Vec<&str> = known
        .iter()
        .filter(|(mode, _)| modes.iter().any(|m| m == mode))
        .map(|k| k.1)
        .collect();
    present.join(",")
}

fn unset_if_missing(v: &Value) -> String {
    v.as_str().unwrap_or("<unset>").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    #[test]
    fn bound_volume_row_shows_claim_and_modes() {
        let pv = json!({
            "metadata": {"name": "pv-1"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": "db", "name": "data"},
                "storageClassName": "local",
                "volumeMode": "Filesystem"
            },
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            volume_row(&pv, now()),
            [
                json!("pv-1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("db/data"),
                json!("local"),
                json!("<unset>"),
                json!(""),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
    }

    #[test]
    fn pending_claim_leaves_capacity_and_modes_blank() {
        let pvc = json!({
            "metadata": {"annotations": {BETA_CLASS_ANNOTATION: "old-class"}},
            "spec": {"storageClassName": "new-class", "accessModes": ["ReadWriteOnce"]},
            "status": {"phase": "Pending"}
        });
        let cells = claim_row(&pvc, now());
        assert_eq!(
            cells[1..6],
            [
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("old-class")
            ]
        );
    }

    #[test]
    fn deleting_claim_shows_terminating_with_bound_capacity() {
        let pvc = json!({
            "metadata": {"deletionTimestamp": "2025-06-01T11:00:00Z"},
            "spec": {"volumeName": "pv-1", "volumeMode": "Block"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOncePod"]}
        });
        let cells = claim_row(&pvc, now());
        assert_eq!(
            cells[1..5],
            [
                json!("Terminating"),
                json!("pv-1"),
                json!("1Gi"),
                json!("RWOP")
            ]
        );
        assert_eq!(cells[8], "Block");
    }

    #[test]
    fn default_storage_class_is_marked_and_defaults_are_filled_in() {
        let sc = json!({
            "metadata": {"name": "local-path", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"
            }},
            "provisioner": "skiff.dev/local-path"
        });
        let cells = storage_class_row(&sc, now());
        assert_eq!(
            cells[..5],
            [
                json!("local-path (default)"),
                json!("skiff.dev/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
    }
}
