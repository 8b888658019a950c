//! Pod volume rules: unique DNS-label names, exactly one source per volume, and the
//! fields of the common sources (emptyDir, hostPath, configMap, secret, projected...).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::access::{arr_of, int_of, string_of};
use super::common::{self, Errs};
use super::containers;
use super::field::{FieldError, Path};
use super::quantity::Quantity;

const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// Volume sources in upstream's order, with the name its "more than one" error uses.
const SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// Checks the volumes and returns the valid ones by name.
pub fn validate_volumes<'a>(
    list: &'a [Value],
    path: &Path,
    errs: &mut Errs,
) -> HashMap<String, &'a Value> {
    let mut valid = HashMap::new();
    let mut seen = HashSet::new();
    for (i, vol) in list.iter().enumerate() {
        let p = path.index(i);
        let mut own = Vec::new();
        validate_source(vol, &p, &mut own);
        let name = string_of(vol, "name");
        if name.is_empty() {
            own.push(FieldError::required(p.child("name")));
        } else {
            common::dns_label(name, &p.child("name"), &mut own);
        }
        if seen.contains(name) {
            own.push(FieldError::duplicate(p.child("name"), name));
        }
        if own.is_empty() {
            seen.insert(name);
            valid.insert(name.to_string(), vol);
        } else {
            errs.extend(own);
        }
    }
    valid
}

fn validate_source(vol: &Value, path: &Path, errs: &mut Errs) {
    let mut count = 0;
    for (key, forbidden_name) in SOURCES {
        let Some(src) = vol.get(*key).filter(|v| !v.is_null()) else {
            continue;
        };
        if count > 0 {
            errs.push(FieldError::forbidden(
                path.child(forbidden_name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        validate_one(key, src, &path.child(key), errs);
    }
    if count == 0 {
        errs.push(FieldError::required_because(
            path,
            "must specify a volume type",
        ));
    }
}

fn validate_one(key: &str, src: &Value, path: &Path, errs: &mut Errs) {
    match key {
        "emptyDir" => empty_dir(src, path, errs),
        "hostPath" => host_path(src, path, errs),
        "gitRepo" => {
            required(src, "repository", path, errs);
            common::local_descending_path(
                string_of(src, "directory"),
                &path.child("directory"),
                errs,
            );
        }
        "secret" => {
            required(src, "secretName", path, errs);
            file_mode(src, "defaultMode", path, errs);
            key_to_paths(src, path, errs);
        }
        "configMap" => {
            required(src, "name", path, errs);
            file_mode(src, "defaultMode", path, errs);
            key_to_paths(src, path, errs);
        }
        "persistentVolumeClaim" => required(src, "claimName", path, errs),
        "nfs" => nfs(src, path, errs),
        "downwardAPI" => {
            file_mode(src, "defaultMode", path, errs);
            for item in arr_of(src, "items") {
                downward_api_file(item, path, errs);
            }
        }
        "projected" => {
            file_mode(src, "defaultMode", path, errs);
            projected(src, path, errs);
        }
        "csi" => required(src, "driver", path, errs),
        "ephemeral" if src.get("volumeClaimTemplate").is_none_or(Value::is_null) => {
            errs.push(FieldError::required(path.child("volumeClaimTemplate")));
        }
        _ => {}
    }
}

fn required(src: &Value, field: &str, path: &Path, errs: &mut Errs) {
    if string_of(src, field).is_empty() {
        errs.push(FieldError::required(path.child(field)));
    }
}

fn empty_dir(src: &Value, path: &Path, errs: &mut Errs) {
    let limit = src
        .get("sizeLimit")
        .and_then(Value::as_str)
        .and_then(|s| Quantity::parse(s).ok());
    if limit.is_some_and(|q| q.is_negative()) {
        let msg = "SizeLimit field must be a valid resource quantity";
        errs.push(FieldError::forbidden(path.child("sizeLimit"), msg));
    }
}

fn host_path(src: &Value, path: &Path, errs: &mut Errs) {
    let p = string_of(src, "path");
    if p.is_empty() {
        errs.push(FieldError::required(path.child("path")));
        return;
    }
    common::no_backsteps(p, &path.child("path"), errs);
    if let Some(t) = src
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !HOST_PATH_TYPES.contains(t))
    {
        errs.push(FieldError::not_supported(
            path.child("type"),
            t,
            HOST_PATH_TYPES,
        ));
    }
}

fn nfs(src: &Value, path: &Path, errs: &mut Errs) {
    required(src, "server", path, errs);
    let p = string_of(src, "path");
    if p.is_empty() {
        errs.push(FieldError::required(path.child("path")));
    }
    if !p.starts_with('/') {
        errs.push(FieldError::invalid(
            path.child("path"),
            p,
            "must be an absolute path",
        ));
    }
}

fn file_mode(src: &Value, field: &str, path: &Path, errs: &mut Errs) {
    if let Some(mode) = int_of(src, field).filter(|m| !(0..=0o777).contains(m)) {
        errs.push(FieldError::invalid(path.child(field), mode, FILE_MODE));
    }
}

fn key_to_paths(src: &Value, path: &Path, errs: &mut Errs) {
    for (i, item) in arr_of(src, "items").iter().enumerate() {
        key_to_path(item, &path.child("items").index(i), errs);
    }
}

fn key_to_path(item: &Value, path: &Path, errs: &mut Errs) {
    required(item, "key", path, errs);
    let target = string_of(item, "path");
    if target.is_empty() {
        errs.push(FieldError::required(path.child("path")));
    }
    common::local_non_reserved_path(target, &path.child("path"), errs);
    file_mode(item, "mode", path, errs);
}

/// One file of a downward API volume; upstream reports its errors on the volume's path.
fn downward_api_file(item: &Value, path: &Path, errs: &mut Errs) {
    let target = string_of(item, "path");
    if target.is_empty() {
        errs.push(FieldError::required(path.child("path")));
    }
    common::local_non_reserved_path(target, &path.child("path"), errs);
    let field_ref = item.get("fieldRef").filter(|v| v.is_object());
    let resource_ref = item.get("resourceFieldRef").filter(|v| v.is_object());
    match (field_ref, resource_ref) {
        (Some(f), r) => {
            containers::validate_field_ref(f, VOLUME_FIELD_PATHS, &path.child("fieldRef"), errs);
            if r.is_some() {
                let msg = "fieldRef and resourceFieldRef can not be specified simultaneously";
                errs.push(FieldError::invalid(path, "resource", msg));
            }
        }
        (None, Some(r)) => {
            containers::validate_resource_field_ref(r, true, &path.child("resourceFieldRef"), errs)
        }
        (None, None) => errs.push(FieldError::required_because(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    file_mode(item, "mode", path, errs);
}

fn projected(src: &Value, path: &Path, errs: &mut Errs) {
    let mut paths = HashSet::new();
    for (i, source) in arr_of(src, "sources").iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut count = 0;
        for kind in [
            "secret",
            "configMap",
            "downwardAPI",
            "serviceAccountToken",
            "clusterTrustBundle",
            "podCertificate",
        ] {
            let Some(proj) = source.get(kind).filter(|v| v.is_object()) else {
                continue;
            };
            count += 1;
            projection(kind, proj, &sp.child(kind), path, &mut paths, errs);
        }
        if count > 1 {
            errs.push(FieldError::forbidden(
                sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

fn projection<'a>(
    kind: &str,
    proj: &'a Value,
    path: &Path,
    volume: &Path,
    paths: &mut HashSet<&'a str>,
    errs: &mut Errs,
) {
    match kind {
        "secret" | "configMap" => {
            required(proj, "name", path, errs);
            for (i, item) in arr_of(proj, "items").iter().enumerate() {
                key_to_path(item, &path.child("items").index(i), errs);
                let target = string_of(item, "path");
                if !target.is_empty() && !paths.insert(target) {
                    errs.push(FieldError::invalid(
                        volume,
                        string_of(proj, "name"),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        "downwardAPI" => {
            for item in arr_of(proj, "items") {
                downward_api_file(item, path, errs);
            }
        }
        "serviceAccountToken" => service_account_token(proj, path, volume, errs),
        _ => {}
    }
}

fn service_account_token(proj: &Value, path: &Path, volume: &Path, errs: &mut Errs) {
    let expiration = int_of(proj, "expirationSeconds").unwrap_or(0);
    if expiration < 600 {
        let msg = "may not specify a duration less than 10 minutes";
        errs.push(FieldError::invalid(
            path.child("expirationSeconds"),
            expiration,
            msg,
        ));
    }
    if expiration > 1 << 32 {
        let msg = "may not specify a duration larger than 2^32 seconds";
        errs.push(FieldError::invalid(
            path.child("expirationSeconds"),
            expiration,
            msg,
        ));
    }
    let target = string_of(proj, "path");
    if target.is_empty() {
        errs.push(FieldError::required(volume.child("path")));
    } else {
        common::local_non_reserved_path(target, &volume.child("path"), errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(volumes: Value) -> Vec<String> {
        let mut errs = Vec::new();
        let list = volumes.as_array().unwrap().clone();
        validate_volumes(&list, &Path::new("spec.volumes"), &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn duplicate_volume_names_are_reported() {
        let errs = errors(json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]));
        assert_eq!(errs, vec!["spec.volumes[1].name: Duplicate value: \"a\""]);
    }

    #[test]
    fn volumes_need_exactly_one_source() {
        let errs = errors(
            json!([{"name": "a"}, {"name": "b", "emptyDir": {}, "configMap": {"name": "c"}}]),
        );
        assert_eq!(
            errs,
            vec![
                "spec.volumes[0]: Required value: must specify a volume type",
                "spec.volumes[1].configMap: Forbidden: may not specify more than 1 volume type"
            ]
        );
    }

    #[test]
    fn config_map_items_need_relative_paths_and_valid_modes() {
        let errs = errors(
            json!([{"name": "a", "configMap": {"name": "c", "defaultMode": 1000,
            "items": [{"key": "k", "path": "/abs"}]}}]),
        );
        assert_eq!(
            errs,
            vec![
                "spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                "spec.volumes[0].configMap.items[0].path: Invalid value: \"/abs\": must be a relative path"
            ]
        );
    }

    #[test]
    fn host_path_types_are_checked() {
        let errs = errors(json!([{"name": "a", "hostPath": {"path": "/x", "type": "Dir"}}]));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.volumes[0].hostPath.type: Unsupported value: \"Dir\""));
    }
}
