//! Checks of resources embedded in custom resources (`x-kubernetes-embedded-resource`):
//! their `apiVersion`, `kind` and metadata must be those of a Kubernetes object.

use serde_json::Value;

use super::names;
use crate::validation::{BadValue, FieldError, Path};

use super::schema::StructuralSchema;

/// Errors of the embedded resources under `obj` (the root itself is left to the
/// object's own metadata rules).
pub fn validate_embedded(obj: &Value, schema: &StructuralSchema) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(obj, schema, None, true, &mut errs);
    errs
}

fn walk(
    x: &Value,
    s: &StructuralSchema,
    path: Option<&Path>,
    root: bool,
    errs: &mut Vec<FieldError>,
) {
    match x {
        Value::Object(map) => {
            if s.embedded_resource && !root {
                let p = path.cloned().unwrap_or_default();
                check_resource(map, &p, errs);
            }
            for (k, v) in map {
                let (sub, keyed) = match s.properties.get(k) {
                    Some(p) => (Some(p), false),
                    None => (s.additional_properties_schema(), true),
                };
                let Some(sub) = sub else { continue };
                let child = match (path, keyed) {
                    (Some(p), true) => p.key(k),
                    (Some(p), false) => p.child(k),
                    (None, true) => Path::new("").key(k),
                    (None, false) => Path::new(k),
                };
                walk(v, sub, Some(&child), false, errs);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                let base = path.cloned().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, Some(&base.index(i)), false, errs);
                }
            }
        }
        _ => {}
    }
}

fn check_resource(map: &serde_json::Map<String, Value>, path: &Path, errs: &mut Vec<FieldError>) {
    for field in ["apiVersion", "kind"] {
        if !map.contains_key(field) {
            errs.push(FieldError::required(path.child(field)));
        }
    }
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" => check_api_version(v, &path.child(k), errs),
            "kind" => check_kind(v, &path.child(k), errs),
            "metadata" => check_metadata(v, &path.child(k), errs),
            _ => {}
        }
    }
}

fn check_api_version(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(s) = v.as_str() else {
        errs.push(FieldError::invalid(path, v, "must be a string"));
        return;
    };
    if s.is_empty() {
        errs.push(FieldError::invalid(path, s, "must not be empty"));
    } else if s.matches('/').count() > 1 {
        errs.push(FieldError::invalid(
            path,
            s,
            &format!("unexpected GroupVersion string: {s}"),
        ));
    }
}

fn check_kind(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(s) = v.as_str() else {
        errs.push(FieldError::invalid(path, v, "must be a string"));
        return;
    };
    if s.is_empty() {
        errs.push(FieldError::invalid(path, s, "must not be empty"));
        return;
    }
    let problems = names::dns1035_label(&s.to_lowercase());
    if !problems.is_empty() {
        let detail = format!(
            "may have mixed case, but should otherwise match: {}",
            problems.join(",")
        );
        errs.push(FieldError::invalid(path, s, &detail));
    }
}

fn check_metadata(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(meta) = v.as_object() else {
        let detail = "json: cannot unmarshal into Go value of type v1.ObjectMeta";
        errs.push(FieldError::invalid(path, BadValue::from(v), detail));
        return;
    };
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    for msg in names::path_segment_name(name) {
        errs.push(FieldError::invalid(path.child("name"), name, &msg));
    }
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !generate.is_empty() {
        for msg in names::path_segment_name(generate) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                generate,
                &msg,
            ));
        }
    }
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    if !namespace.is_empty() {
        for msg in names::dns1123_label(namespace) {
            errs.push(FieldError::invalid(
                path.child("namespace"),
                namespace,
                &msg,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_resources_need_api_version_and_kind() {
        let s = StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {"template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true
            }}
        }));
        let errs: Vec<String> = validate_embedded(&json!({"template": {"kind": "Pod"}}), &s)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs, vec!["template.apiVersion: Required value"]);
    }
}
