//! Pruning of custom resources: fields the schema does not specify are dropped (except
//! under `x-kubernetes-preserve-unknown-fields`), and so are nulls where the schema
//! allows none and has no default.

use serde_json::{Map, Value};

use super::schema::{AdditionalProperties, StructuralSchema};

/// The fields an object's metadata may have; others are dropped like unknown fields.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

const TYPE_AND_META: &[&str] = &["apiVersion", "kind", "metadata"];

/// Removes from a custom resource every field its schema does not specify, and nulls
/// the schema does not allow. `apiVersion`, `kind` and `metadata` stay at the root and
/// in embedded resources, where metadata loses the fields ObjectMeta does not have.
/// Returns the paths of the removed fields (`spec.foo`, `spec.items[0].bar`,
/// `metadata.foo`), as strict field validation reports them (`unknown field "..."`).
pub fn prune(obj: &mut Value, schema: &StructuralSchema) -> Vec<String> {
    let mut unknown = prune_metadata(obj, "");

    unknown.extend(prune_fields(obj, schema, true));

    prune_nulls(obj, Some(schema));

    let mut nested = Vec::new();
    prune_embedded_metadata(obj, schema, &mut String::new(), true, &mut nested);
    nested.sort();
    unknown.extend(nested);
    unknown
}

/// Removes the fields `schema` does not specify, keeping the type and object meta
/// fields at the root when it is a resource; returns the sorted removed paths.
pub(crate) fn prune_fields(
    obj: &mut Value,
    schema: &StructuralSchema,
    resource_root: bool,
) -> Vec<String> {
    let mut pruned = Vec::new();
    if resource_root && !schema.embedded_resource {
        let mut root = schema.clone();
        root.embedded_resource = true;
        prune_value(obj, Some(&root), &mut String::new(), &mut pruned);
    } else {
        prune_value(obj, Some(schema), &mut String::new(), &mut pruned);
    }
    pruned.sort();
    pruned
}

/// Drops the metadata fields ObjectMeta lacks from the object at `prefix`.
fn prune_metadata(obj: &mut Value, prefix: &str) -> Vec<String> {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let mut removed: Vec<String> = meta
        .keys()
        .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    meta.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
    removed.sort();
    let base = if prefix.is_empty() {
        "metadata".to_string()
    } else {
        format!("{prefix}.metadata")
    };
    removed.into_iter().map(|k| format!("{base}.{k}")).collect()
}

fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

fn ap_schema(s: &StructuralSchema) -> Option<&StructuralSchema> {
    match &s.additional_properties {
        Some(AdditionalProperties::Schema(ap)) => Some(ap),
        _ => None,
    }
}

fn prune_value(
    x: &mut Value,
    s: Option<&StructuralSchema>,
    path: &mut String,
    out: &mut Vec<String>,
) {
    if let Some(s) = s.filter(|s| s.preserve_unknown_fields()) {
        skip_prune(x, s, path, out);
        return;
    }
    match x {
        Value::Object(map) => prune_map(map, s, path, out),
        Value::Array(items) => {
            let item_schema = s.and_then(StructuralSchema::items);
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                prune_value(item, item_schema, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn prune_map(
    map: &mut Map<String, Value>,
    s: Option<&StructuralSchema>,
    path: &mut String,
    out: &mut Vec<String>,
) {
    let Some(s) = s else {
        for k in map.keys() {
            let len = push_key(path, k);
            out.push(path.clone());
            path.truncate(len);
        }
        map.clear();
        return;
    };
    let at_root = path.is_empty();
    let mut drop = Vec::new();
    for (k, v) in map.iter_mut() {
        if s.embedded_resource && TYPE_AND_META.contains(&k.as_str()) {
            continue;
        }
        let len = push_key(path, k);
        if let Some(prop) = s.properties.get(k) {
            prune_value(v, Some(prop), path, out);
        } else if s.additional_properties.is_some() {
            prune_value(v, ap_schema(s), path, out);
        } else {
            if !TYPE_AND_META.contains(&k.as_str()) || !at_root {
                out.push(path.clone());
            }
            drop.push(k.clone());
        }
        path.truncate(len);
    }
    for k in drop {
        map.remove(&k);
    }
}

fn skip_prune(x: &mut Value, s: &StructuralSchema, path: &mut String, out: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if s.embedded_resource && TYPE_AND_META.contains(&k.as_str()) {
                    continue;
                }
                let len = push_key(path, k);
                if let Some(prop) = s.properties.get(k) {
                    prune_value(v, Some(prop), path, out);
                } else if s.additional_properties.is_some() {
                    prune_value(v, ap_schema(s), path, out);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    skip_prune(item, item_schema, path, out);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Removes nulls under fields whose schema is neither nullable nor defaulted.
pub(crate) fn prune_nulls(x: &mut Value, s: Option<&StructuralSchema>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let child = s.and_then(|s| s.child(k));
                !(v.is_null() && child.is_some_and(|c| !c.nullable && c.default.is_none()))
            });
            for (k, v) in map.iter_mut() {
                prune_nulls(v, s.and_then(|s| s.child(k)));
            }
        }
        Value::Array(items) => {
            for item in items {
                prune_nulls(item, s.and_then(StructuralSchema::items));
            }
        }
        _ => {}
    }
}

/// Embedded resources keep only ObjectMeta's fields in their metadata.
fn prune_embedded_metadata(
    x: &mut Value,
    s: &StructuralSchema,
    path: &mut String,
    root: bool,
    out: &mut Vec<String>,
) {
    if s.embedded_resource && !root {
        out.extend(prune_metadata(x, path));
    }
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if let Some(child) = s.child(k) {
                    let len = push_key(path, k);
                    prune_embedded_metadata(v, child, path, false, out);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    prune_embedded_metadata(item, item_schema, path, false, out);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> StructuralSchema {
        StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "size": {"type": "integer"},
                        "note": {"type": "string"},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
                        "template": {
                            "type": "object",
                            "x-kubernetes-embedded-resource": true,
                            "x-kubernetes-preserve-unknown-fields": true
                        }
                    }
                }
            }
        }))
    }

    #[test]
    fn unknown_fields_are_removed_and_reported() {
        let mut obj = json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "color": "red"},
            "spec": {"size": 3, "colour": "blue", "items": [{"a": "x", "b": "y"}]},
            "junk": true
        });
        let removed = prune(&mut obj, &schema());
        assert_eq!(
            removed,
            vec!["metadata.color", "junk", "spec.colour", "spec.items[0].b"]
        );
        assert_eq!(
            obj,
            json!({
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"size": 3, "items": [{"a": "x"}]}
            })
        );
    }

    #[test]
    fn preserve_unknown_fields_subtrees_are_kept() {
        let mut obj = json!({"spec": {"extra": {"anything": {"goes": [1, 2]}}}});
        assert!(prune(&mut obj, &schema()).is_empty());
        assert_eq!(obj["spec"]["extra"]["anything"]["goes"], json!([1, 2]));
    }

    #[test]
    fn embedded_resources_keep_their_type_and_object_meta() {
        let mut obj = json!({"spec": {"template": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "bogus": 1},
            "spec": {"containers": []}
        }}});
        let removed = prune(&mut obj, &schema());
        assert_eq!(removed, vec!["spec.template.metadata.bogus"]);
        assert_eq!(obj["spec"]["template"]["kind"], "Pod");
        assert_eq!(obj["spec"]["template"]["spec"], json!({"containers": []}));
    }

    #[test]
    fn nulls_without_nullable_or_default_are_dropped() {
        let mut obj = json!({"spec": {"note": null, "size": 1}});
        prune(&mut obj, &schema());
        assert_eq!(obj, json!({"spec": {"size": 1}}));
    }
}
