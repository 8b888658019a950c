//! Unknown fields: finding them for fieldValidation=Strict/Warn, and dropping them as
//! upstream's decoder does; also rewrites quantities into their canonical text.

use serde_json::{Map, Value};

use super::quantity::Quantity;
use super::schema::{Node, NodeId, Schemas, schemas};
use crate::ResourceInfo;

/// Paths of the fields of `obj` its kind does not know, in upstream's notation
/// (`spec.template.spec.containers[0].imagePullPolcy`).
pub fn unknown_fields(resource: &ResourceInfo, obj: &Value) -> Vec<String> {
    let s = schemas();
    let mut out = Vec::new();
    if let Some(root) = s.root(resource) {
        collect_unknown(s, root, obj, "", &mut out);
    }
    out
}

fn collect_unknown(s: &Schemas, id: NodeId, value: &Value, path: &str, out: &mut Vec<String>) {
    match (s.node(id), value) {
        (Node::Struct { fields, .. }, Value::Object(map)) => {
            for (k, v) in map {
                let child = join(path, k);
                match fields.get(k) {
                    Some(f) => collect_unknown(s, *f, v, &child, out),
                    None => out.push(child),
                }
            }
        }
        (Node::Map(inner), Value::Object(map)) => {
            for (k, v) in map {
                collect_unknown(s, *inner, v, &join(path, k), out);
            }
        }
        (Node::Array(inner), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                collect_unknown(s, *inner, v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Drops unknown fields and writes quantities canonically, as a decode and re-encode
/// by upstream does; quantities in resource lists are rounded up to milli units.
pub fn normalize(resource: &ResourceInfo, obj: &mut Value) {
    let s = schemas();
    if let Some(root) = s.root(resource) {
        normalize_node(s, root, obj, false);
    }
}

fn normalize_node(s: &Schemas, id: NodeId, value: &mut Value, in_list: bool) {
    match (s.node(id), value) {
        (Node::Struct { fields, .. }, Value::Object(map)) => {
            map.retain(|k, _| fields.contains_key(k));
            for (k, v) in map.iter_mut() {
                normalize_node(s, fields[k], v, false);
            }
        }
        (Node::Map(inner), Value::Object(map)) => normalize_map(s, *inner, map),
        (Node::Array(inner), Value::Array(items)) => {
            for v in items {
                normalize_node(s, *inner, v, false);
            }
        }
        (Node::Quantity, v) => canonicalize(v, in_list),
        _ => {}
    }
}

fn normalize_map(s: &Schemas, inner: NodeId, map: &mut Map<String, Value>) {
    let is_list = matches!(s.node(inner), Node::Quantity);
    for v in map.values_mut() {
        normalize_node(s, inner, v, is_list);
    }
}

fn canonicalize(v: &mut Value, resource_list: bool) {
    let text = match v {
        Value::String(t) => t.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if let Ok(q) = Quantity::parse(&text) {
        let q = if resource_list { q.round_up_to(-3) } else { q };
        *v = Value::String(q.canonical());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;
    use serde_json::json;

    fn kind(k: &str) -> std::sync::Arc<ResourceInfo> {
        builtin_resources()
            .into_iter()
            .find(|r| r.kind == k && r.group.is_empty())
            .unwrap()
    }

    fn apps(k: &str) -> std::sync::Arc<ResourceInfo> {
        builtin_resources()
            .into_iter()
            .find(|r| r.kind == k && r.group == "apps")
            .unwrap()
    }

    #[test]
    fn misspelled_container_fields_are_found_with_their_index() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"any": "thing"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "x"},
                {"name": "b", "image": "y", "imagePullPolcy": "Always"}]}}}});
        assert_eq!(
            unknown_fields(&apps("Deployment"), &deploy),
            vec!["spec.template.spec.containers[1].imagePullPolcy"]
        );
    }

    #[test]
    fn top_level_and_metadata_unknowns_are_found() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "foo": 1, "metadata": {"nam": "x"}});
        assert_eq!(
            unknown_fields(&kind("Pod"), &pod),
            vec!["foo", "metadata.nam"]
        );
    }

    #[test]
    fn maps_int_or_strings_and_raw_extensions_are_not_flagged() {
        let svc = json!({"spec": {"selector": {"any-key": "v"},
            "ports": [{"port": 80, "targetPort": "http"}]}});
        assert!(unknown_fields(&kind("Service"), &svc).is_empty());
        let rev = json!({"data": {"whatever": {"nested": true}}, "revision": 1});
        assert!(unknown_fields(&apps("ControllerRevision"), &rev).is_empty());
        let pod = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": 1}}}]},
            "metadata": {"managedFields": [{"fieldsV1": {"f:spec": {}}}]}});
        assert!(unknown_fields(&kind("Pod"), &pod).is_empty());
    }

    #[test]
    fn normalize_drops_unknown_fields_and_canonicalizes_quantities() {
        let mut pod = json!({"spec": {"bogus": 1, "containers": [{"name": "a",
            "resources": {"limits": {"cpu": 0.5, "memory": "1024Mi"},
                          "requests": {"cpu": "0.0001"}}}]}});
        normalize(&kind("Pod"), &mut pod);
        assert_eq!(
            pod,
            json!({"spec": {"containers": [{"name": "a",
                "resources": {"limits": {"cpu": "500m", "memory": "1Gi"},
                              "requests": {"cpu": "1m"}}}]}})
        );
    }
}
