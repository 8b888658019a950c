//! JSON values as rules see them: typed by the schema (`number` as double, `date-time`
//! strings as timestamps, `byte` strings as bytes), objects with only their declared,
//! escaped properties, maps keyed as written.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use cel::Value as Cel;
use serde_json::Value;

use super::escape;
use crate::crd::formats;
use crate::crd::schema::StructuralSchema;

/// The value of `v` for a rule. `resource_root` adds `apiVersion`, `kind` and
/// `metadata.name`/`metadata.generateName`, which every resource has.
pub(crate) fn to_cel(v: &Value, s: Option<&StructuralSchema>, resource_root: bool) -> Cel {
    let Some(s) = s else {
        return generic(v);
    };
    if v.is_null() {
        return Cel::Null;
    }
    if s.int_or_string {
        return generic(v);
    }
    match (s.type_.as_str(), v) {
        ("object", Value::Object(map)) => object(map, s, resource_root || s.embedded_resource),
        ("array", Value::Array(items)) => Cel::List(Arc::new(
            items.iter().map(|i| to_cel(i, s.items(), false)).collect(),
        )),
        ("string", Value::String(text)) => string(text, &s.format),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or_default()),
        },
        ("number", Value::Number(n)) => Cel::Float(n.as_f64().unwrap_or_default()),
        _ => generic(v),
    }
}

fn object(map: &serde_json::Map<String, Value>, s: &StructuralSchema, resource: bool) -> Cel {
    let mut out: HashMap<String, Cel> = HashMap::new();
    if resource {
        for key in ["apiVersion", "kind"] {
            if let Some(v) = map.get(key) {
                out.insert(key.to_string(), generic(v));
            }
        }
        if let Some(meta) = map.get("metadata").and_then(Value::as_object) {
            let mut m: HashMap<String, Cel> = HashMap::new();
            for key in ["name", "generateName"] {
                if let Some(v) = meta.get(key) {
                    m.insert(key.to_string(), generic(v));
                }
            }
            out.insert("metadata".to_string(), Cel::from(m));
        }
    }
    if !s.properties.is_empty() {
        for (k, prop) in &s.properties {
            let (Some(v), Some(name)) = (map.get(k), escape(k)) else {
                continue;
            };
            if resource && ["apiVersion", "kind", "metadata"].contains(&k.as_str()) {
                continue;
            }
            out.insert(name, to_cel(v, Some(prop), prop.embedded_resource));
        }
        return Cel::from(out);
    }
    if let Some(ap) = s.additional_properties_schema() {
        for (k, v) in map {
            out.insert(k.clone(), to_cel(v, Some(ap), ap.embedded_resource));
        }
        return Cel::from(out);
    }
    if resource && !s.preserve_unknown_fields() {
        return Cel::from(out);
    }
    for (k, v) in map {
        out.entry(k.clone()).or_insert_with(|| generic(v));
    }
    Cel::from(out)
}

fn string(text: &str, format: &str) -> Cel {
    let plain = || Cel::String(Arc::new(text.to_string()));
    match formats::effective(format).replace('-', "").as_str() {
        "byte" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(|b| Cel::Bytes(Arc::new(b)))
            .unwrap_or_else(|_| plain()),
        "duration" => formats::parse_duration(text)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| Cel::Duration(chrono::Duration::nanoseconds(n)))
            .unwrap_or_else(plain),
        "datetime" => chrono::DateTime::parse_from_rfc3339(text)
            .map(Cel::Timestamp)
            .unwrap_or_else(|_| plain()),
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| Cel::Timestamp(dt.and_utc().fixed_offset()))
            .unwrap_or_else(plain),
        _ => plain(),
    }
}

/// A value no schema describes (preserved unknown fields, int-or-string).
fn generic(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(generic).collect())),
        Value::Object(map) => {
            let m: HashMap<String, Cel> =
                map.iter().map(|(k, v)| (k.clone(), generic(v))).collect();
            Cel::from(m)
        }
    }
}
