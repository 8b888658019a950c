//! ConfigMap and Secret rules: key names, the 1 MiB size limit, the keys each Secret
//! type needs, and immutability once `immutable` is set.

use base64::Engine;
use serde_json::{Map, Value};

use super::access::{bool_of, obj_of, string_of};
use super::common::Errs;
use super::field::{FieldError, Path};
use super::meta;
use super::names;

/// Upper bound of the summed sizes of a ConfigMap's or Secret's values.
pub const MAX_SIZE: usize = 1024 * 1024;
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

pub fn validate_config_map(obj: &Value, errs: &mut Errs) {
    let data = obj_of(obj, "data");
    let binary = obj_of(obj, "binaryData");
    let mut total = 0;
    for (key, value) in data.into_iter().flatten() {
        let p = Path::new("data").key(key);
        config_key(key, &p, errs);
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                &p,
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    for (key, value) in binary.into_iter().flatten() {
        config_key(key, &Path::new("binaryData").key(key), errs);
        total += decoded_len(value);
    }
    if total > MAX_SIZE {
        // Upstream reports the whole object, whose path renders as "[]".
        errs.push(FieldError::too_long("[]", MAX_SIZE));
    }
}

fn config_key(key: &str, path: &Path, errs: &mut Errs) {
    for msg in names::config_map_key(key) {
        errs.push(FieldError::invalid(path, key, &msg));
    }
}

fn decoded_len(value: &Value) -> usize {
    let text = value.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_or(text.len(), |b| b.len())
}

pub fn validate_config_map_update(new: &Value, old: &Value, errs: &mut Errs) {
    immutable_data(new, old, &["data", "binaryData"], errs);
}

/// Once `immutable` is true it stays true and the data cannot change.
fn immutable_data(new: &Value, old: &Value, fields: &[&str], errs: &mut Errs) {
    if bool_of(old, "immutable") != Some(true) {
        return;
    }
    if bool_of(new, "immutable") != Some(true) {
        errs.push(FieldError::forbidden(Path::new("immutable"), IMMUTABLE_SET));
    }
    for field in fields {
        if !super::diff::same(
            new.get(*field).unwrap_or(&Value::Null),
            old.get(*field).unwrap_or(&Value::Null),
        ) {
            errs.push(FieldError::forbidden(Path::new(field), IMMUTABLE_SET));
        }
    }
}

pub fn validate_secret(obj: &Value, errs: &mut Errs) {
    let data_path = Path::new("data");
    let data = obj_of(obj, "data");
    let mut total = 0;
    for (key, value) in data.into_iter().flatten() {
        config_key(key, &data_path.key(key), errs);
        total += decoded_len(value);
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SIZE));
    }
    secret_type_keys(obj, data, &data_path, errs);
}

fn secret_type_keys(obj: &Value, data: Option<&Map<String, Value>>, path: &Path, errs: &mut Errs) {
    let has_key = |k: &str| data.is_some_and(|d| d.contains_key(k));
    match string_of(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let annotations = obj.get("metadata").and_then(|m| obj_of(m, "annotations"));
            let name = annotations.and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.and_then(Value::as_str).is_none_or(str::is_empty) {
                let p = Path::new("metadata")
                    .child("annotations")
                    .key("kubernetes.io/service-account.name");
                errs.push(FieldError::required(p));
            }
        }
        "kubernetes.io/dockercfg" => json_key(data, ".dockercfg", path, errs),
        "kubernetes.io/dockerconfigjson" => json_key(data, ".dockerconfigjson", path, errs),
        "kubernetes.io/basic-auth" if !has_key("username") && !has_key("password") => {
            errs.push(FieldError::required(path.key("username")));
            errs.push(FieldError::required(path.key("password")));
        }
        "kubernetes.io/ssh-auth"
            if decoded(data, "ssh-privatekey").is_none_or(|b| b.is_empty()) =>
        {
            errs.push(FieldError::required(path.key("ssh-privatekey")));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has_key(key) {
                    errs.push(FieldError::required(path.key(key)));
                }
            }
        }
        _ => {}
    }
}

fn decoded(data: Option<&Map<String, Value>>, key: &str) -> Option<Vec<u8>> {
    let text = data?.get(key)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Docker config keys must hold a JSON object.
fn json_key(data: Option<&Map<String, Value>>, key: &str, path: &Path, errs: &mut Errs) {
    let Some(bytes) = decoded(data, key) else {
        errs.push(FieldError::required(path.key(key)));
        return;
    };
    if let Err(e) = serde_json::from_slice::<Map<String, Value>>(&bytes) {
        errs.push(FieldError::invalid(
            path.key(key),
            "<secret contents redacted>",
            &e.to_string(),
        ));
    }
}

pub fn validate_secret_update(new: &Value, old: &Value, errs: &mut Errs) {
    meta::immutable(new.get("type"), old.get("type"), &Path::new("type"), errs);
    immutable_data(new, old, &["data"], errs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::validation::test_support::errors;

    #[test]
    fn config_map_keys_must_be_config_keys() {
        let errs = errors(
            validate_config_map,
            json!({"data": {"a/b": "x", "ok.key": "y"}}),
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of"
            )
        );
    }

    #[test]
    fn config_maps_over_one_mebibyte_are_too_long() {
        let big = "x".repeat(MAX_SIZE + 1);
        assert_eq!(
            errors(validate_config_map, json!({"data": {"k": big}})),
            vec!["[]: Too long: may not be more than 1048576 bytes"]
        );
    }

    #[test]
    fn tls_secrets_need_certificate_and_key() {
        let errs = errors(
            validate_secret,
            json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
        );
        assert_eq!(errs, vec!["data[tls.key]: Required value"]);
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        let mut errs = Vec::new();
        validate_config_map_update(&new, &old, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "data: Forbidden: field is immutable when `immutable` is set"
        );
    }

    #[test]
    fn secret_types_cannot_change() {
        let mut errs = Vec::new();
        validate_secret_update(
            &json!({"type": "Opaque"}),
            &json!({"type": "kubernetes.io/tls"}),
            &mut errs,
        );
        assert_eq!(
            errs[0].to_string(),
            "type: Invalid value: \"Opaque\": field is immutable"
        );
    }
}
