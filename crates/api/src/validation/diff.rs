//! A short listing of what differs between two JSON values, appended to "may not
//! change" errors so users see which field they touched.

use serde_json::Value;

/// Lines `- path: old` / `+ path: new` for every differing leaf, absent and null
/// counting as the same.
pub fn describe(old: &Value, new: &Value, root: &str) -> String {
    let mut lines = Vec::new();
    walk(old, new, root, &mut lines);
    lines.join("\n")
}

fn walk(old: &Value, new: &Value, path: &str, lines: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                walk(
                    va,
                    b.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    lines,
                );
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                walk(&Value::Null, vb, &format!("{path}.{k}"), lines);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                walk(va, vb, &format!("{path}[{i}]"), lines);
            }
        }
        (a, b) if a != b => {
            if !a.is_null() {
                lines.push(format!("- {path}: {a}"));
            }
            if !b.is_null() {
                lines.push(format!("+ {path}: {b}"));
            }
        }
        _ => {}
    }
}

/// Equality that treats absent, null and empty objects or arrays alike, as Go's
/// semantic equality of decoded structs does for omitted fields.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.iter()
                .all(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null)))
                && y.iter().all(|(k, v)| x.contains_key(k) || is_empty(v))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (x, y) if is_empty(x) && is_empty(y) => true,
        (x, y) => x == y,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_changed_leaves_with_their_paths() {
        let old = json!({"a": [{"b": 1}], "c": "x"});
        let new = json!({"a": [{"b": 2}], "d": true});
        assert_eq!(
            describe(&old, &new, "spec"),
            "- spec.a[0].b: 1\n+ spec.a[0].b: 2\n- spec.c: \"x\"\n+ spec.d: true"
        );
    }

    #[test]
    fn absent_null_and_empty_are_the_same() {
        assert!(same(&json!({"a": null, "b": {}}), &json!({"c": []})));
        assert!(!same(&json!({"a": 1}), &json!({})));
    }
}
