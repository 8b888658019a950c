//! Walking an object together with its schema: what each value is (a leaf, a granular
//! object, an associative list), how list items are identified, which fields an object
//! sets, and the checks an applied configuration must pass.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::path::PathElement;
use super::schema::{ApplySchema, ElementType, ListKey};
use crate::patch::go_format;

/// What a value is at its position, which decides how it merges and is owned.
pub(super) enum Shape<'v, 'k> {
    /// Owned as a whole.
    Leaf,
    /// An object owned key by key.
    Object(&'v Map<String, Value>),
    /// A list owned item by item; items are identified by these keys (none for sets).
    Associative(&'v [Value], Keys<'k>),
}

/// How the items of an associative list are identified.
#[derive(Clone, Copy)]
pub(super) enum Keys<'k> {
    /// By their value (sets).
    Value,
    /// By the values of key fields (list-maps).
    Fields(&'k [ListKey]),
}

/// The shape of `value` at a position of type `element`. Values of another kind than the
/// schema expects are leaves.
pub(super) fn shape<'v, 'k>(element: ElementType<'k>, value: &'v Value) -> Shape<'v, 'k> {
    match (element, value) {
        (ElementType::Granular | ElementType::Deduced, Value::Object(map)) => Shape::Object(map),
        (ElementType::Set, Value::Array(items)) => Shape::Associative(items, Keys::Value),
        (ElementType::Map(keys), Value::Array(items)) => {
            Shape::Associative(items, Keys::Fields(keys))
        }
        _ => Shape::Leaf,
    }
}

/// Whether values of this type are objects or lists owned piece by piece, for which an
/// explicit `null` means "no value" rather than a leaf.
pub(super) fn is_container(element: ElementType<'_>) -> bool {
    !matches!(element, ElementType::Atomic)
}

/// The path element identifying a list item, or why the item cannot be identified.
pub(super) fn item_element(item: &Value, keys: Keys<'_>) -> Result<PathElement, String> {
    match keys {
        Keys::Value => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            scalar => Ok(PathElement::value(scalar.clone())),
        },
        Keys::Fields(keys) => {
            let map = match item {
                Value::Object(map) => map,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into());
                }
                _ => {
                    return Err("associative list with keys may not have non-map elements".into());
                }
            };
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                match (map.get(&key.name), &key.default) {
                    (Some(value), _) => fields.push((key.name.clone(), value.clone())),
                    (None, Some(default)) => fields.push((key.name.clone(), default.clone())),
                    (None, None) => {}
                }
            }
            if !keys.is_empty() && fields.is_empty() {
                let names: Vec<String> = keys
                    .iter()
                    .map(|k| crate::gojson::go_quote(&k.name))
                    .collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] \
                     (and doesn't have default values for any key fields)",
                    names.join(" ")
                ));
            }
            Ok(PathElement::key(fields))
        }
    }
}

/// The fields `value` sets at every depth (upstream's `ToFieldSet`): scalars and atomic
/// values as leaves, granular objects through their keys, associative list items as
/// members with their contents. Items with a duplicated key are owned as a whole.
pub fn field_set<S: ApplySchema>(value: &Value, schema: &S) -> FieldSet {
    // Built bottom-up, one node per object or list, rather than path by path.
    match shape(schema.element_type(), value) {
        Shape::Leaf => FieldSet::new(),
        Shape::Object(map) => {
            let mut members = Vec::new();
            let mut children = Vec::new();
            for (key, child) in map {
                let field = schema.field(key);
                let element = PathElement::field(key);
                let leaf = matches!(shape(field.schema.element_type(), child), Shape::Leaf);
                let empty_object = child.as_object().is_some_and(Map::is_empty);
                if leaf || empty_object || !field.declared {
                    members.push(element.clone());
                }
                let below = field_set(child, &field.schema);
                if !below.is_empty() {
                    children.push((element, below));
                }
            }
            FieldSet::from_parts(members, children)
        }
        Shape::Associative(items, keys) => {
            let elements: Vec<Option<PathElement>> =
                items.iter().map(|i| item_element(i, keys).ok()).collect();
            let duplicates = duplicated(&elements);
            let item_schema = schema.items();
            let mut members = Vec::with_capacity(items.len());
            let mut children = Vec::with_capacity(items.len());
            for (item, element) in items.iter().zip(elements) {
                let Some(element) = element else { continue };
                if !duplicates.contains(&element) {
                    let below = field_set(item, &item_schema);
                    if !below.is_empty() {
                        children.push((element.clone(), below));
                    }
                }
                members.push(element);
            }
            FieldSet::from_parts(members, children)
        }
    }
}

/// The elements that appear more than once.
pub(super) fn duplicated(elements: &[Option<PathElement>]) -> BTreeSet<PathElement> {
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for element in elements.iter().flatten() {
        if !seen.insert(element) {
            duplicates.insert(element.clone());
        }
    }
    duplicates
}

/// One problem with an applied configuration, at a printed path.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in an applied configuration, printed as upstream prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.0.as_slice() {
            return write!(f, "{only}");
        }
        f.write_str("errors:")?;
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Checks that `value` fits the schema well enough to be applied: objects where the
/// schema has objects, lists where it has associative lists, identifiable and unique
/// list items.
pub(super) fn validate<S: ApplySchema>(value: &Value, schema: &S) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    let mut path = String::new();
    validate_at(value, schema, &mut path, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

fn validate_at<S: ApplySchema>(
    value: &Value,
    schema: &S,
    path: &mut String,
    errors: &mut Vec<ValidationError>,
) {
    let element = schema.element_type();
    let expected = match (element, value) {
        (_, Value::Null) | (ElementType::Atomic | ElementType::Deduced, _) => return,
        (ElementType::Granular, Value::Object(map)) => {
            for (key, child) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                validate_at(child, &schema.field(key).schema, path, errors);
                path.truncate(len);
            }
            return;
        }
        (ElementType::Set, Value::Array(items)) => {
            return validate_items(items, Keys::Value, schema, path, errors);
        }
        (ElementType::Map(keys), Value::Array(items)) => {
            return validate_items(items, Keys::Fields(keys), schema, path, errors);
        }
        (ElementType::Granular, _) => "map",
        _ => "list",
    };
    errors.push(ValidationError {
        path: path.clone(),
        message: format!("expected {expected}, got &{{{}}}", go_format(value)),
    });
}

fn validate_items<S: ApplySchema>(
    items: &[Value],
    keys: Keys<'_>,
    schema: &S,
    path: &mut String,
    errors: &mut Vec<ValidationError>,
) {
    let mut seen = BTreeSet::new();
    let item_schema = schema.items();
    for (i, item) in items.iter().enumerate() {
        let element = match item_element(item, keys) {
            Ok(element) => element,
            Err(message) => {
                errors.push(ValidationError {
                    path: path.clone(),
                    message: format!("element {i}: {message}"),
                });
                return;
            }
        };
        let printed = element.to_string();
        if !seen.insert(element) {
            errors.push(ValidationError {
                path: path.clone(),
                message: format!("duplicate entries for key {printed}"),
            });
        }
        let len = path.len();
        path.push_str(&printed);
        validate_at(item, &item_schema, path, errors);
        path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::schema::{DeducedSchema, builtin_schema};

    fn printed(set: &FieldSet) -> Vec<String> {
        set.paths().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn field_sets_own_leaves_map_keys_and_list_items() {
        let schema = builtin_schema("apps", "v1", "Deployment").unwrap();
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}
                ]}}
            }
        });
        assert_eq!(
            printed(&field_set(&deployment, &schema)),
            [
                ".apiVersion",
                ".kind",
                ".metadata.name",
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.selector",
                ".spec.template.spec.containers[name=\"nginx\"]",
                ".spec.template.spec.containers[name=\"nginx\"].image",
                ".spec.template.spec.containers[name=\"nginx\"].name",
                ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]",
                ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
            ]
        );
    }

    #[test]
    fn empty_objects_and_nulls_are_members_but_empty_lists_are_not() {
        let schema = builtin_schema("", "v1", "Pod").unwrap();
        let pod = json!({"spec": {"securityContext": {}, "nodeName": null, "volumes": []}});
        assert_eq!(
            printed(&field_set(&pod, &schema)),
            [".spec.nodeName", ".spec.securityContext"]
        );
    }

    #[test]
    fn deduced_objects_own_every_key() {
        let set = field_set(
            &json!({"spec": {"a": {"b": 1}, "c": [1, 2]}}),
            &DeducedSchema,
        );
        assert_eq!(printed(&set), [".spec", ".spec.a", ".spec.c", ".spec.a.b"]);
    }

    #[test]
    fn duplicate_keys_and_keyless_items_are_reported_like_upstream() {
        let schema = builtin_schema("apps", "v1", "Deployment").unwrap();
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "env": [{"name": "FOO"}, {"name": "FOO"}],
             "ports": [{"containerPort": 93}, {"containerPort": 93, "protocol": "TCP"}]},
            {"image": "x"}
        ]}}}});
        let errors = validate(&config, &schema).expect_err("invalid");
        assert_eq!(
            errors.to_string(),
            "errors:\n  \
             .spec.template.spec.containers[name=\"c\"].env: duplicate entries for key \
             [name=\"FOO\"]\n  \
             .spec.template.spec.containers[name=\"c\"].ports: duplicate entries for key \
             [containerPort=93,protocol=\"TCP\"]\n  \
             .spec.template.spec.containers: element 1: associative list with keys has an \
             element that omits all key fields [\"name\"] (and doesn't have default values \
             for any key fields)"
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let schema = builtin_schema("", "v1", "Pod").unwrap();
        let errors =
            validate(&json!({"spec": {"containers": {"a": 1}}}), &schema).expect_err("invalid");
        assert_eq!(
            errors.to_string(),
            ".spec.containers: expected list, got &{map[a:1]}"
        );
        let errors = validate(&json!({"metadata": "x"}), &schema).expect_err("invalid");
        assert_eq!(errors.to_string(), ".metadata: expected map, got &{x}");
    }
}
