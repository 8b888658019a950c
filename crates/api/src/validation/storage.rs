//! PersistentVolumeClaim and PersistentVolume rules: access modes, requested and
//! offered capacity, volume sources, and what a claim update may change.

use serde_json::Value;

use super::access::{arr_of, at, obj_of, str_of, string_of};
use super::common::{self, Errs};
use super::containers::quantity_value;
use super::diff;
use super::field::{FieldError, Path};
use super::meta;
use super::quantity::Quantity;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
];

pub fn validate_pvc(obj: &Value, errs: &mut Errs) {
    claim_spec(
        obj.get("spec").unwrap_or(&Value::Null),
        &Path::new("spec"),
        errs,
    );
}

/// The claim spec, also used by StatefulSet claim templates and ephemeral volumes.
pub fn claim_spec(spec: &Value, path: &Path, errs: &mut Errs) {
    access_modes(spec, path, true, errs);
    if let Some(sel) = spec.get("selector").filter(|s| s.is_object()) {
        meta::validate_label_selector(sel, &path.child("selector"), errs);
    }
    let storage_path = path.child("resources").key("storage");
    match at(spec, &["resources", "requests", "storage"]) {
        None => errs.push(FieldError::required(storage_path)),
        Some(q) => positive_quantity(q, "storage", &storage_path, errs),
    }
    if let Some(class) = str_of(spec, "storageClassName").filter(|c| !c.is_empty()) {
        common::dns_subdomain(class, &path.child("storageClassName"), errs);
    }
    common::optional_enum(
        str_of(spec, "volumeMode"),
        &path.child("volumeMode"),
        VOLUME_MODES,
        errs,
    );
}

fn access_modes(spec: &Value, path: &Path, claim: bool, errs: &mut Errs) {
    let modes: Vec<&str> = arr_of(spec, "accessModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let p = path.child("accessModes");
    if modes.is_empty() {
        if claim {
            errs.push(FieldError::required_because(
                &p,
                "at least 1 access mode is required",
            ));
        } else {
            errs.push(FieldError::required(&p));
        }
    }
    for mode in &modes {
        if !ACCESS_MODES.contains(mode) {
            errs.push(FieldError::not_supported(&p, *mode, ACCESS_MODES));
        }
    }
    let once_pod = modes.contains(&"ReadWriteOncePod");
    if once_pod && modes.iter().any(|m| *m != "ReadWriteOncePod") {
        errs.push(FieldError::forbidden(
            &p,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn positive_quantity(q: &Value, name: &str, path: &Path, errs: &mut Errs) {
    let parsed = q.as_str().and_then(|s| Quantity::parse(s).ok());
    match parsed {
        Some(v) if v <= Quantity::from_int(0) => {
            errs.push(FieldError::invalid(
                path,
                v.canonical(),
                "must be greater than zero",
            ));
        }
        _ => quantity_value(name, q, path, errs),
    }
}

/// The spec is immutable, except the storage request of a bound claim and a volume
/// name not yet set.
pub fn validate_pvc_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let (mut munged, mut old_munged) = (spec.clone(), old_spec.clone());
    if string_of(&old_spec, "volumeName").is_empty() {
        old_munged["volumeName"] = spec.get("volumeName").cloned().unwrap_or(Value::Null);
    }
    let bound = at(new, &["status", "phase"]).and_then(Value::as_str) == Some("Bound");
    if bound {
        for m in [&mut munged, &mut old_munged] {
            if let Some(req) = m
                .pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut)
            {
                req.remove("storage");
            }
            if let Some(map) = m.as_object_mut() {
                map.remove("volumeAttributesClassName");
            }
        }
    }
    if !diff::same(&munged, &old_munged) {
        let listing = diff::describe(&old_munged, &munged, "spec");
        let msg = format!(
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{listing}"
        );
        errs.push(FieldError::forbidden(Path::new("spec"), &msg));
    }
    storage_not_shrunk(&spec, &old_spec, errs);
}

fn storage_not_shrunk(spec: &Value, old: &Value, errs: &mut Errs) {
    let size = |s: &Value| {
        at(s, &["resources", "requests", "storage"])
            .and_then(Value::as_str)
            .and_then(|q| Quantity::parse(q).ok())
    };
    if let (Some(new), Some(old)) = (size(spec), size(old))
        && new < old
    {
        let p = Path::new("spec.resources.requests.storage");
        errs.push(FieldError::forbidden(
            p,
            "field can not be less than previous value",
        ));
    }
}

pub fn validate_pv(obj: &Value, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    access_modes(spec, &path, false, errs);
    capacity(spec, &path, errs);
    if let Some(policy) = str_of(spec, "persistentVolumeReclaimPolicy").filter(|p| !p.is_empty()) {
        common::optional_enum(
            Some(policy),
            &path.child("persistentVolumeReclaimPolicy"),
            RECLAIM_POLICIES,
            errs,
        );
    }
    sources(spec, &path, errs);
    if let Some(class) = str_of(spec, "storageClassName").filter(|c| !c.is_empty()) {
        common::dns_subdomain(class, &path.child("storageClassName"), errs);
    }
    common::optional_enum(
        str_of(spec, "volumeMode"),
        &path.child("volumeMode"),
        VOLUME_MODES,
        errs,
    );
}

fn capacity(spec: &Value, path: &Path, errs: &mut Errs) {
    let p = path.child("capacity");
    let cap = obj_of(spec, "capacity");
    if cap.is_none_or(|c| c.is_empty()) {
        errs.push(FieldError::required(&p));
    }
    if cap.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
        let value = spec.get("capacity").unwrap_or(&Value::Null);
        errs.push(FieldError::not_supported(&p, value, &["storage"]));
    }
    for (name, q) in cap.into_iter().flatten() {
        positive_quantity(q, name, &p.key(name), errs);
    }
}

fn sources(spec: &Value, path: &Path, errs: &mut Errs) {
    let mut count = 0;
    for source in PV_SOURCES {
        let Some(src) = spec.get(*source).filter(|v| v.is_object()) else {
            continue;
        };
        let p = path.child(source);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match *source {
            "hostPath" | "local" => required_path(src, &p, errs),
            "nfs" => {
                for field in ["server", "path"] {
                    if string_of(src, field).is_empty() {
                        errs.push(FieldError::required(p.child(field)));
                    }
                }
            }
            "csi" => {
                for field in ["driver", "volumeHandle"] {
                    if string_of(src, field).is_empty() {
                        errs.push(FieldError::required(p.child(field)));
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required_because(
            path,
            "must specify a volume type",
        ));
    }
}

fn required_path(src: &Value, path: &Path, errs: &mut Errs) {
    let p = string_of(src, "path");
    if p.is_empty() {
        errs.push(FieldError::required(path.child("path")));
    } else {
        common::no_backsteps(p, &path.child("path"), errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_need_access_modes_and_storage() {
        let mut errs = Vec::new();
        validate_pvc(&json!({"spec": {}}), &mut errs);
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value"
            ]
        );
    }

    #[test]
    fn bound_claims_may_grow_but_other_fields_are_fixed() {
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": "pv1"}, "status": {"phase": "Bound"}});
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        let mut errs = Vec::new();
        validate_pvc_update(&new, &old, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        new["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        validate_pvc_update(&new, &old, &mut errs);
        assert!(
            errs[0]
                .to_string()
                .starts_with("spec: Forbidden: spec is immutable after creation")
        );
    }

    #[test]
    fn volumes_need_capacity_and_a_source() {
        let mut errs = Vec::new();
        validate_pv(
            &json!({"spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}),
            &mut errs,
        );
        assert_eq!(
            errs[0].to_string(),
            "spec: Required value: must specify a volume type"
        );
    }
}
