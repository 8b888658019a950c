//! The scale subresource of custom resources: replicas and the label selector read
//! from and written to the simple JSON paths the CRD declares (`.spec.replicas`).

use serde_json::{Map, Value};

use super::info::ScaleSubresource;
use crate::validation::{BadValue, FieldError};

/// The segments of a simple JSON path (`.spec.replicas` → `["spec", "replicas"]`).
fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .collect()
}

/// The value at a simple JSON path.
pub fn get_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path)
        .into_iter()
        .try_fold(obj, |v, seg| v.get(seg))
}

/// Sets the value at a simple JSON path, creating the objects on the way.
pub fn set_path(obj: &mut Value, path: &str, value: Value) {
    let segs = segments(path);
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else {
            return;
        };
        cur = map
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(map) = cur {
        map.insert(last.to_string(), value);
    }
}

/// What the scale subresource shows of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleValues {
    pub spec_replicas: i64,
    pub status_replicas: i64,
    pub selector: String,
}

/// Reads replicas (0 when absent) and the selector string of an object.
pub fn read_scale(obj: &Value, scale: &ScaleSubresource) -> ScaleValues {
    let int = |p: &str| get_path(obj, p).and_then(Value::as_i64).unwrap_or(0);
    ScaleValues {
        spec_replicas: int(&scale.spec_replicas_path),
        status_replicas: int(&scale.status_replicas_path),
        selector: scale
            .label_selector_path
            .as_deref()
            .and_then(|p| get_path(obj, p))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

/// Writes the desired replicas of a scale update into the object.
pub fn write_spec_replicas(obj: &mut Value, scale: &ScaleSubresource, replicas: i64) {
    set_path(obj, &scale.spec_replicas_path, Value::from(replicas));
}

fn check_replicas(obj: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let found = get_path(obj, path);
    let value = match found {
        None | Some(Value::Null) => return,
        Some(v) => v,
    };
    let Some(n) = value.as_i64() else {
        let segs = segments(path).join(".");
        let detail = format!(
            ".{segs} accessor error: {} is of the type {}, expected int64",
            BadValue::from(value),
            go_type(value)
        );
        errs.push(FieldError::invalid(path, 0, &detail));
        return;
    };
    if n < 0 {
        errs.push(FieldError::invalid(
            path,
            n,
            "should be a non-negative integer",
        ));
    } else if n > i64::from(i32::MAX) {
        errs.push(FieldError::invalid(
            path,
            n,
            &format!("should be less than or equal to {}", i32::MAX),
        ));
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// Upstream's checks of the replicas an object holds at the scale paths: non-negative
/// and at most 2^31-1, reported at the path itself (`.spec.replicas`).
pub fn validate_scale(obj: &Value, scale: &ScaleSubresource, spec: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec {
        check_replicas(obj, &scale.spec_replicas_path, &mut errs);
    }
    check_replicas(obj, &scale.status_replicas_path, &mut errs);
    if let Some(p) = &scale.label_selector_path
        && let Some(v) = get_path(obj, p).filter(|v| !v.is_null() && !v.is_string())
    {
        let detail = format!(
            ".{} accessor error: {} is of the type {}, expected string",
            segments(p).join("."),
            BadValue::from(v),
            go_type(v)
        );
        errs.push(FieldError::invalid(p.as_str(), "", &detail));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scale() -> ScaleSubresource {
        ScaleSubresource {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        }
    }

    #[test]
    fn replicas_are_read_and_written_at_their_paths() {
        let mut obj =
            json!({"spec": {"replicas": 2}, "status": {"replicas": 1, "selector": "app=x"}});
        assert_eq!(
            read_scale(&obj, &scale()),
            ScaleValues {
                spec_replicas: 2,
                status_replicas: 1,
                selector: "app=x".into()
            }
        );
        write_spec_replicas(&mut obj, &scale(), 5);
        assert_eq!(obj["spec"]["replicas"], 5);
        let mut empty = json!({});
        write_spec_replicas(&mut empty, &scale(), 3);
        assert_eq!(empty, json!({"spec": {"replicas": 3}}));
    }

    #[test]
    fn negative_replicas_are_rejected_at_the_path() {
        let errs = validate_scale(&json!({"spec": {"replicas": -1}}), &scale(), true);
        assert_eq!(
            errs[0].to_string(),
            ".spec.replicas: Invalid value: -1: should be a non-negative integer"
        );
    }
}
