//! Field paths: the steps from an object's root to one of its fields, ordered and printed
//! as upstream's structured-merge-diff orders and prints them.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

use crate::gojson::{go_number, go_quote, write_json, write_json_string};

/// One step of a field path. Cheap to clone: names and values are shared.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of a struct or a key of a map (`f:replicas`).
    Field(Arc<str>),
    /// The item of a list-map whose key fields have these values, sorted by name
    /// (`k:{"containerPort":80,"protocol":"TCP"}`).
    Key(Arc<[(String, Value)]>),
    /// The item of a set with this value (`v:"example.com/finalizer"`).
    Value(Arc<Value>),
    /// The item at this index of a list (`i:0`).
    Index(i64),
}

/// A field path.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl PathElement {
    /// A field element.
    pub fn field(name: &str) -> PathElement {
        PathElement::Field(Arc::from(name))
    }

    /// A set item element.
    pub fn value(value: Value) -> PathElement {
        PathElement::Value(Arc::new(value))
    }

    /// A key element; the fields are sorted by name.
    pub fn key(mut fields: Vec<(String, Value)>) -> PathElement {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(Arc::from(fields))
    }

    /// The element as it appears as a key of `fieldsV1` (`f:name`, `k:{...}`, `v:...`, `i:0`).
    pub fn to_fields_v1_key(&self) -> String {
        let mut out = String::new();
        match self {
            PathElement::Field(name) => {
                out.push_str("f:");
                out.push_str(name);
            }
            PathElement::Key(fields) => {
                out.push_str("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(&mut out, name);
                    out.push(':');
                    write_json(&mut out, value);
                }
                out.push('}');
            }
            PathElement::Value(value) => {
                out.push_str("v:");
                write_json(&mut out, value);
            }
            PathElement::Index(index) => {
                out.push_str("i:");
                out.push_str(&index.to_string());
            }
        }
        out
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_key_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// Upstream prints `.name`, `[name="nginx"]`, `[="value"]` and `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", value_string(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(value) => write!(f, "[={}]", value_string(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// A value inside a printed path element: strings quoted, lists `[a,b]`, maps `k=v...`.
fn value_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value_string).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .map(|k| format!("{k}={}", value_string(&map[k])))
                .collect()
        }
    }
}

fn compare_key_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = x.0.cmp(&y.0).then_with(|| compare_values(&x.1, &y.1));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

enum Numeric {
    Int(i128),
    Float(f64),
}

fn numeric(n: &Number) -> Numeric {
    if let Some(i) = n.as_i64() {
        Numeric::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Numeric::Int(i128::from(u))
    } else {
        Numeric::Float(n.as_f64().unwrap_or_default())
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    match (numeric(a), numeric(b)) {
        (Numeric::Int(x), Numeric::Int(y)) => x.cmp(&y),
        (Numeric::Int(x), Numeric::Float(y)) => float_order(x as f64, y),
        (Numeric::Float(x), Numeric::Int(y)) => float_order(x, y as f64),
        (Numeric::Float(x), Numeric::Float(y)) => float_order(x, y),
    }
}

fn float_order(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Upstream's total order of values: numbers (ints and floats compared by value), then
/// strings, booleans, lists, maps and null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let order = compare_values(p, q);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => compare_maps(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Maps compare key by key in lexical order; a key only one side has decides.
fn compare_maps(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for (i, key) in keys.into_iter().enumerate() {
        if i == a.len() {
            return Ordering::Less;
        }
        if i == b.len() {
            return Ordering::Greater;
        }
        let order = match (a.get(key), b.get(key)) {
            (None, _) => Ordering::Greater,
            (_, None) => Ordering::Less,
            (Some(x), Some(y)) => compare_values(x, y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Deep equality with numbers compared by value (`1` equals `1.0`), as upstream compares.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(name: &str) -> PathElement {
        PathElement::field(name)
    }

    #[test]
    fn paths_print_like_upstream_conflict_messages() {
        let path = Path(vec![
            field("spec"),
            field("template"),
            field("spec"),
            field("containers"),
            PathElement::key(vec![("name".into(), json!("nginx"))]),
            field("image"),
        ]);
        assert_eq!(
            path.to_string(),
            ".spec.template.spec.containers[name=\"nginx\"].image"
        );
        let finalizer = Path(vec![
            field("metadata"),
            field("finalizers"),
            PathElement::value(json!("x")),
        ]);
        assert_eq!(finalizer.to_string(), ".metadata.finalizers[=\"x\"]");
        let port = PathElement::key(vec![
            ("protocol".into(), json!("TCP")),
            ("containerPort".into(), json!(80)),
        ]);
        assert_eq!(port.to_string(), "[containerPort=80,protocol=\"TCP\"]");
        assert_eq!(PathElement::Index(3).to_string(), "[3]");
    }

    #[test]
    fn elements_order_fields_before_keys_values_and_indexes() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::value(json!("a")),
            PathElement::key(vec![("name".into(), json!("a"))]),
            field("b"),
            field("a"),
        ];
        elements.sort();
        let keys: Vec<String> = elements.iter().map(|e| e.to_fields_v1_key()).collect();
        assert_eq!(keys, ["f:a", "f:b", "k:{\"name\":\"a\"}", "v:\"a\"", "i:0"]);
    }

    #[test]
    fn numbers_compare_by_value_and_before_strings() {
        assert_eq!(compare_values(&json!(80), &json!(80.0)), Ordering::Equal);
        assert_eq!(compare_values(&json!(9), &json!("1")), Ordering::Less);
        assert_eq!(compare_values(&json!(null), &json!({})), Ordering::Greater);
        assert!(values_equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
    }
}
