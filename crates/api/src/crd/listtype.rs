//! Uniqueness of `x-kubernetes-list-type: set` items and of `map` list keys.

use serde_json::{Map, Value};

use super::schema::StructuralSchema;
use crate::validation::{FieldError, Path};

/// `Duplicate value` for every repeated set item or map-list key under `obj`.
pub fn validate_lists(obj: &Value, schema: &StructuralSchema) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(map) = obj {
        walk_map(map, schema, None, &mut errs);
    }
    errs
}

fn walk_map(
    map: &Map<String, Value>,
    s: &StructuralSchema,
    path: Option<&Path>,
    errs: &mut Vec<FieldError>,
) {
    let child = |k: &str, keyed: bool| -> Path {
        match (path, keyed) {
            (Some(p), true) => p.key(k),
            (Some(p), false) => p.child(k),
            (None, true) => Path::new("").key(k),
            (None, false) => Path::new(k),
        }
    };
    if let Some(ap) = s.additional_properties_schema() {
        for (k, v) in map {
            walk(v, ap, &child(k, true), errs);
        }
    }
    for (k, v) in map {
        if let Some(sub) = s.properties.get(k) {
            walk(v, sub, &child(k, false), errs);
        }
    }
}

fn walk(v: &Value, s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(map) => walk_map(map, s, Some(path), errs),
        Value::Array(items) => walk_array(items, s, path, errs),
        _ => {}
    }
}

fn walk_array(items: &[Value], s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for i in repeated(items) {
                errs.push(FieldError::duplicate(path.index(i), &items[i]));
            }
        }
        Some("map") => map_list(items, s, path, errs),
        _ => {}
    }
    if let Some(item_schema) = s.items() {
        for (i, item) in items.iter().enumerate() {
            walk(item, item_schema, &path.index(i), errs);
        }
    }
}

/// The indexes of the second occurrence of each repeated value.
fn repeated(items: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let earlier = items[..i].iter().filter(|e| *e == item).count();
        if earlier == 1 {
            out.push(i);
        }
    }
    out
}

fn map_list(items: &[Value], s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(i) = items.iter().position(|x| !x.is_null() && !x.is_object()) {
        errs.push(FieldError::invalid(
            path.index(i),
            &items[i],
            "must be an object for an array of list-type map",
        ));
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for k in &s.list_map_keys {
                if let Some(v) = x.get(k) {
                    key.insert(k.clone(), v.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in repeated(&keys) {
        errs.push(FieldError::duplicate(path.index(i), &keys[i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_map_list_keys_are_duplicates() {
        let s = StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}
                },
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
            }}}
        }));
        let obj = json!({"spec": {
            "ports": [{"name": "a", "port": 1}, {"name": "b"}, {"name": "a", "port": 2}],
            "tags": ["x", "y", "x"]
        }});
        let errs: Vec<String> = validate_lists(&obj, &s)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.ports[2]: Duplicate value: {\"name\":\"a\"}",
                "spec.tags[2]: Duplicate value: \"x\"",
            ]
        );
    }
}
