//! Merging an applied configuration into the live object, and removing fields from an
//! object, both following the schema: granular objects key by key, associative lists item
//! by item (keeping the live items the configuration does not mention), atomic values
//! replaced whole.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::path::{PathElement, values_equal};
use super::schema::ApplySchema;
use super::typed::{Keys, Shape, is_container, item_element, shape};

/// `config` merged into `live`; `None` only when both are absent. Fails when an item of
/// an associative list cannot be identified.
pub(super) fn merge<S: ApplySchema>(
    live: Option<&Value>,
    config: Option<&Value>,
    schema: &S,
) -> Result<Option<Value>, String> {
    let element = schema.element_type();
    let (live_value, config_value) = match (live, config) {
        (None, None) => return Ok(None),
        (Some(l), None) => return Ok(Some(l.clone())),
        (None, Some(c)) => return Ok(Some(c.clone())),
        (Some(l), Some(c)) => (l, c),
    };
    match (shape(element, live_value), shape(element, config_value)) {
        (Shape::Object(l), Shape::Object(c)) => {
            if l.is_empty() && c.is_empty() {
                return Ok(Some(config_value.clone()));
            }
            merge_objects(l, c, schema, "").map(|m| Some(Value::Object(m)))
        }
        (Shape::Associative(l, keys), Shape::Associative(c, _)) => {
            if l.is_empty() && c.is_empty() {
                return Ok(Some(config_value.clone()));
            }
            merge_lists(l, c, keys, &schema.items()).map(|items| Some(Value::Array(items)))
        }
        // An explicit null for a granular value leaves the live contents alone.
        (Shape::Object(l), Shape::Leaf) if config_value.is_null() && !l.is_empty() => {
            Ok(Some(live_value.clone()))
        }
        (Shape::Associative(l, _), Shape::Leaf)
            if config_value.is_null() && !l.is_empty() && is_container(element) =>
        {
            Ok(Some(live_value.clone()))
        }
        _ => Ok(Some(config_value.clone())),
    }
}

/// `config` merged into the object `live`, leaving out the live object's
/// `metadata.managedFields` (which the caller rewrites) without copying the object first.
pub(super) fn merge_into_live<S: ApplySchema>(
    live: &Value,
    config: &Value,
    schema: &S,
) -> Result<Value, String> {
    let (Value::Object(live_map), Value::Object(config_map)) = (live, config) else {
        return Ok(merge(Some(live), Some(config), schema)?.unwrap_or_else(|| config.clone()));
    };
    let mut out = Map::with_capacity(live_map.len() + config_map.len());
    for (key, value) in live_map {
        let field = schema.field(key);
        let merged = match (key.as_str(), value, config_map.get(key)) {
            ("metadata", Value::Object(metadata), Some(Value::Object(config_metadata))) => {
                let merged =
                    merge_objects(metadata, config_metadata, &field.schema, MANAGED_FIELDS)?;
                Some(Value::Object(merged))
            }
            ("metadata", Value::Object(metadata), None) => {
                let mut metadata = metadata.clone();
                metadata.shift_remove(MANAGED_FIELDS);
                Some(Value::Object(metadata))
            }
            _ => merge(Some(value), config_map.get(key), &field.schema)?,
        };
        out.extend(merged.map(|m| (key.clone(), m)));
    }
    for (key, value) in config_map {
        if !live_map.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(out))
}

const MANAGED_FIELDS: &str = "managedFields";

/// Whether two objects are equal, `metadata.managedFields` aside.
pub(super) fn equal_but_managed_fields(a: &Value, b: &Value) -> bool {
    fn without(map: &Map<String, Value>, skip: &str) -> usize {
        map.len() - usize::from(map.contains_key(skip))
    }
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return values_equal(a, b);
    };
    a.len() == b.len()
        && a.iter().all(|(key, x)| {
            let Some(y) = b.get(key) else { return false };
            match (key.as_str(), x, y) {
                ("metadata", Value::Object(x), Value::Object(y)) => {
                    without(x, MANAGED_FIELDS) == without(y, MANAGED_FIELDS)
                        && x.iter()
                            .filter(|(k, _)| *k != MANAGED_FIELDS)
                            .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
                }
                _ => values_equal(x, y),
            }
        })
}

/// Live keys keep their order; keys only the configuration has follow in its order. The
/// live key `skip` is left out.
fn merge_objects<S: ApplySchema>(
    live: &Map<String, Value>,
    config: &Map<String, Value>,
    schema: &S,
    skip: &str,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::with_capacity(live.len() + config.len());
    for (key, value) in live {
        if key == skip {
            continue;
        }
        let field = schema.field(key);
        if let Some(merged) = merge(Some(value), config.get(key), &field.schema)? {
            out.insert(key.clone(), merged);
        }
    }
    for (key, value) in config {
        if !live.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Ok(out)
}

/// Identifies every item of a list; fails on the first item without an identity.
fn elements(items: &[Value], keys: Keys<'_>) -> Result<Vec<PathElement>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item_element(item, keys).map_err(|e| format!("element {i}: {e}")))
        .collect()
}

/// Merges associative lists in upstream's order: items only the live list has stay where
/// they are, the configuration's items come in its order, and items both have are merged.
fn merge_lists<S: ApplySchema>(
    live: &[Value],
    config: &[Value],
    keys: Keys<'_>,
    items: &S,
) -> Result<Vec<Value>, String> {
    let live_elements = elements(live, keys)?;
    let config_elements = elements(config, keys)?;

    // A duplicated live item merges as if it held null: the configuration's item wins.
    let mut live_by_element: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
    for (element, item) in live_elements.iter().zip(live) {
        live_by_element
            .entry(element)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(item));
    }
    let config_by_element: BTreeMap<&PathElement, &Value> =
        config_elements.iter().zip(config).collect();
    let mut shared = config_elements
        .iter()
        .filter(|e| live_by_element.contains_key(e));
    let mut next_shared = shared.next();
    let mut merged_config: BTreeSet<&PathElement> = BTreeSet::new();
    let null = Value::Null;
    let live_item = |e: &PathElement| match live_by_element.get(e) {
        Some(Some(item)) => Some(*item),
        Some(None) => Some(&null),
        None => None,
    };

    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let (mut l, mut c) = (0, 0);
    while l < live_elements.len() || c < config_elements.len() {
        if l < live_elements.len() && c < config_elements.len() {
            let element = &live_elements[l];
            if *element == config_elements[c] {
                merged_config.insert(element);
                out.extend(merge(
                    live_item(element),
                    Some(config_by_element[element]),
                    items,
                )?);
                l += 1;
                c += 1;
                next_shared = shared.next();
                continue;
            }
            if config_by_element.contains_key(element) && next_shared.is_some_and(|n| n != element)
            {
                l += 1;
                continue;
            }
        }
        if l < live_elements.len() {
            let element = &live_elements[l];
            if !config_by_element.contains_key(element) {
                out.extend(merge(Some(&live[l]), None, items)?);
                l += 1;
                continue;
            } else if merged_config.contains(element) {
                l += 1;
            }
        }
        if c < config_elements.len() {
            let element = &config_elements[c];
            merged_config.insert(element);
            out.extend(merge(
                live_item(element),
                Some(config_by_element[element]),
                items,
            )?);
            c += 1;
            if next_shared == Some(element) {
                next_shared = shared.next();
            }
        }
    }
    Ok(out)
}

/// `value` without the members of `remove` (and everything below them). Objects and
/// lists left empty by the removal disappear.
pub(super) fn remove_items<S: ApplySchema>(
    value: &Value,
    remove: &FieldSet,
    schema: &S,
) -> Option<Value> {
    match shape(schema.element_type(), value) {
        Shape::Object(map) if !map.is_empty() => {
            let mut out = Map::with_capacity(map.len());
            for (key, child) in map {
                let element = PathElement::field(key);
                if remove.has_member(&element) {
                    continue;
                }
                match remove.child(&element) {
                    Some(below) => {
                        let field = schema.field(key);
                        if let Some(kept) = remove_items(child, below, &field.schema) {
                            out.insert(key.clone(), kept);
                        }
                    }
                    None => {
                        out.insert(key.clone(), child.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Shape::Associative(items, keys) if !items.is_empty() => {
            let item_schema = schema.items();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Ok(element) = item_element(item, keys) else {
                    out.push(item.clone());
                    continue;
                };
                if remove.has_member(&element) {
                    continue;
                }
                match remove.child(&element) {
                    Some(below) => out.extend(remove_items(item, below, &item_schema)),
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        _ => Some(value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::schema::builtin_schema;

    fn merged(kind: (&str, &str, &str), live: Value, config: Value) -> Value {
        let schema = builtin_schema(kind.0, kind.1, kind.2).unwrap();
        merge(Some(&live), Some(&config), &schema)
            .expect("merge")
            .expect("value")
    }

    const POD: (&str, &str, &str) = ("", "v1", "Pod");

    #[test]
    fn list_maps_merge_by_key_and_keep_items_the_config_does_not_mention() {
        let live = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "args": ["x"]},
            {"name": "sidecar", "image": "s:1"}
        ]}});
        let config = json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "args": ["y", "z"]},
            {"name": "b", "image": "b:1"}
        ]}});
        assert_eq!(
            merged(POD, live, config),
            json!({"spec": {"containers": [
                {"name": "a", "image": "a:2", "args": ["y", "z"]},
                {"name": "sidecar", "image": "s:1"},
                {"name": "b", "image": "b:1"}
            ]}})
        );
    }

    #[test]
    fn config_order_wins_for_shared_items() {
        let live = json!({"metadata": {"finalizers": ["a", "x", "b"]}});
        let config = json!({"metadata": {"finalizers": ["b", "a", "c"]}});
        assert_eq!(
            merged(POD, live, config)["metadata"]["finalizers"],
            json!(["x", "b", "a", "c"])
        );
    }

    #[test]
    fn atomic_values_are_replaced_and_maps_merge_per_key() {
        let live = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                          "spec": {"nodeSelector": {"disk": "ssd", "zone": "a"}}});
        let config = json!({"metadata": {"labels": {"b": "3", "c": "4"}},
                            "spec": {"nodeSelector": {"zone": "b"}}});
        assert_eq!(
            merged(POD, live, config),
            json!({"metadata": {"labels": {"a": "1", "b": "3", "c": "4"}},
                   "spec": {"nodeSelector": {"zone": "b"}}})
        );
    }

    #[test]
    fn removing_items_drops_emptied_parents() {
        use crate::apply::path::Path;
        let schema = builtin_schema("", "v1", "Pod").unwrap();
        let pod = json!({"metadata": {"labels": {"a": "1"}, "name": "p"},
                         "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let field = |name: &str| PathElement::field(name);
        let remove = FieldSet::from_paths([
            Path(vec![field("metadata"), field("labels"), field("a")]),
            Path(vec![
                field("spec"),
                field("containers"),
                PathElement::key(vec![("name".into(), json!("b"))]),
            ]),
        ]);
        assert_eq!(
            remove_items(&pod, &remove, &schema),
            Some(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}))
        );
    }
}
