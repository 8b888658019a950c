//! Which fields changed between two versions of an object: the fields the new version
//! adds, modifies and removes, as upstream's `typed.Compare` reports them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::path::{PathElement, values_equal};
use super::schema::ApplySchema;
use super::typed::{Keys, Shape, is_container, item_element, shape};

/// The fields that differ between two objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// The comparison without the fields in `ignored` and below them.
    pub fn without(mut self, ignored: Option<&FieldSet>) -> Comparison {
        if let Some(ignored) = ignored {
            self.added.subtract(ignored, true);
            self.modified.subtract(ignored, true);
            self.removed.subtract(ignored, true);
        }
        self
    }

    /// The fields added or modified.
    pub fn changed(&self) -> FieldSet {
        self.modified.union(&self.added)
    }
}

/// Compares `old` and `new` at every depth.
pub fn compare<S: ApplySchema>(old: &Value, new: &Value, schema: &S) -> Comparison {
    let mut walker = Walker {
        comparison: Comparison::default(),
        path: Vec::new(),
    };
    walker.node(Some(old), Some(new), schema);
    walker.comparison
}

struct Walker {
    comparison: Comparison,
    path: Vec<PathElement>,
}

/// How one side of a node is handled.
enum Side<'v, 'k> {
    Leaf,
    Object(Option<&'v Map<String, Value>>),
    List(Option<&'v [Value]>, Keys<'k>),
}

impl Walker {
    /// Compares one node; either side may be absent.
    fn node<S: ApplySchema>(&mut self, old: Option<&Value>, new: Option<&Value>, schema: &S) {
        let element = schema.element_type();
        let old_side = old.map(|v| side(shape(element, v), v, is_container(element)));
        let new_side = new.map(|v| side(shape(element, v), v, is_container(element)));
        let leaf = match (old_side, new_side) {
            (Some(o), None) => self.handle(o, old, None, schema),
            (None, Some(n)) => self.handle(n, old, new, schema),
            (Some(o), Some(n)) if same_kind(&o, &n) => {
                self.handle(merge_sides(o, n), old, new, schema)
            }
            (Some(o), Some(n)) => {
                // The value changed kind: it is modified, and what each side holds is
                // removed or added.
                self.leaf(old, new);
                let leaf = matches!(n, Side::Leaf);
                self.contents(o, true, schema);
                self.contents(n, false, schema);
                leaf
            }
            (None, None) => return,
        };
        if !leaf {
            if old.is_none() {
                self.comparison.added.insert(&self.path);
            } else if new.is_none() {
                self.comparison.removed.insert(&self.path);
            }
        }
    }

    /// Reports what one side's object or list holds as removed (old) or added (new).
    fn contents<S: ApplySchema>(&mut self, side: Side<'_, '_>, old: bool, schema: &S) {
        match side {
            Side::Object(Some(map)) if old => self.objects(Some(map), None, schema),
            Side::Object(Some(map)) => self.objects(None, Some(map), schema),
            Side::List(Some(items), keys) if old => self.lists(items, &[], keys, schema),
            Side::List(Some(items), keys) => self.lists(&[], items, keys, schema),
            _ => {}
        }
    }

    fn handle<S: ApplySchema>(
        &mut self,
        side: Side<'_, '_>,
        old: Option<&Value>,
        new: Option<&Value>,
        schema: &S,
    ) -> bool {
        match side {
            Side::Leaf => {
                self.leaf(old, new);
                true
            }
            Side::Object(_) => {
                let old_map = old.and_then(Value::as_object);
                let new_map = new.and_then(Value::as_object);
                if old_map.is_none_or(Map::is_empty) && new_map.is_none_or(Map::is_empty) {
                    self.leaf(old, new);
                    return true;
                }
                self.objects(old_map, new_map, schema);
                false
            }
            Side::List(_, keys) => {
                let old_list = old.and_then(Value::as_array).map(Vec::as_slice);
                let new_list = new.and_then(Value::as_array).map(Vec::as_slice);
                if old_list.is_none_or(<[Value]>::is_empty)
                    && new_list.is_none_or(<[Value]>::is_empty)
                {
                    self.leaf(old, new);
                    return true;
                }
                self.lists(
                    old_list.unwrap_or_default(),
                    new_list.unwrap_or_default(),
                    keys,
                    schema,
                );
                false
            }
        }
    }

    fn leaf(&mut self, old: Option<&Value>, new: Option<&Value>) {
        match (old, new) {
            (None, Some(_)) => self.comparison.added.insert(&self.path),
            (Some(_), None) => self.comparison.removed.insert(&self.path),
            (Some(o), Some(n)) if !values_equal(o, n) => {
                self.comparison.modified.insert(&self.path)
            }
            _ => {}
        }
    }

    fn objects<S: ApplySchema>(
        &mut self,
        old: Option<&Map<String, Value>>,
        new: Option<&Map<String, Value>>,
        schema: &S,
    ) {
        let empty = Map::new();
        let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
        for (key, value) in old {
            self.child(PathElement::field(key), Some(value), new.get(key), || {
                schema.field(key).schema
            });
        }
        for (key, value) in new {
            if !old.contains_key(key) {
                self.child(PathElement::field(key), None, Some(value), || {
                    schema.field(key).schema
                });
            }
        }
    }

    fn child<S: ApplySchema>(
        &mut self,
        element: PathElement,
        old: Option<&Value>,
        new: Option<&Value>,
        schema: impl FnOnce() -> S,
    ) {
        self.path.push(element);
        self.node(old, new, &schema());
        self.path.pop();
    }

    /// Items are matched by identity; items whose identity repeats are compared as groups.
    fn lists<S: ApplySchema>(&mut self, old: &[Value], new: &[Value], keys: Keys<'_>, schema: &S) {
        let mut order: Vec<PathElement> = Vec::new();
        let old_groups = group(old, keys, &mut order, None);
        let new_groups = group(new, keys, &mut order, Some(&old_groups));
        let items = schema.items();
        for element in order {
            let olds = old_groups
                .get(&element)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let news = new_groups
                .get(&element)
                .map(Vec::as_slice)
                .unwrap_or_default();
            self.path.push(element);
            match (olds, news) {
                ([] | [_], [] | [_]) => {
                    self.node(olds.first().copied(), news.first().copied(), &items)
                }
                ([_, _, ..], [_, _, ..]) => {
                    let equal = olds.len() == news.len()
                        && olds.iter().zip(news).all(|(a, b)| values_equal(a, b));
                    if !equal {
                        self.comparison.modified.insert(&self.path);
                    }
                }
                ([_, _, ..], _) => {
                    if let Some(first) = news.first() {
                        self.node(None, Some(first), &items);
                    }
                    self.comparison.removed.insert(&self.path);
                }
                (_, _) => {
                    if let Some(first) = olds.first() {
                        self.node(Some(first), None, &items);
                    }
                    self.comparison.added.insert(&self.path);
                }
            }
            self.path.pop();
        }
    }
}

/// The items of a list by identity, recording first appearances in `order` (new
/// identities only, when `seen` holds the other list's groups).
fn group<'v>(
    items: &'v [Value],
    keys: Keys<'_>,
    order: &mut Vec<PathElement>,
    seen: Option<&BTreeMap<PathElement, Vec<&Value>>>,
) -> BTreeMap<PathElement, Vec<&'v Value>> {
    let mut groups: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    for item in items {
        let Ok(element) = item_element(item, keys) else {
            continue;
        };
        if let Some(group) = groups.get_mut(&element) {
            group.push(item);
            continue;
        }
        if !seen.is_some_and(|s| s.contains_key(&element)) {
            order.push(element.clone());
        }
        groups.insert(element, vec![item]);
    }
    groups
}

fn side<'v, 'k>(shape: Shape<'v, 'k>, value: &'v Value, container: bool) -> Side<'v, 'k> {
    match shape {
        Shape::Object(map) => Side::Object(Some(map)),
        Shape::Associative(items, keys) => Side::List(Some(items), keys),
        // A null granular value is an absent object or list, not a leaf.
        Shape::Leaf if value.is_null() && container => Side::Object(None),
        Shape::Leaf => Side::Leaf,
    }
}

fn same_kind(a: &Side<'_, '_>, b: &Side<'_, '_>) -> bool {
    matches!(
        (a, b),
        (Side::Leaf, Side::Leaf)
            | (Side::Object(_), Side::Object(_))
            | (Side::List(..), Side::List(..))
            | (Side::Object(None), Side::List(..))
            | (Side::List(..), Side::Object(None))
    )
}

/// One side to handle a node both versions have: the one that is not a bare null.
fn merge_sides<'v, 'k>(old: Side<'v, 'k>, new: Side<'v, 'k>) -> Side<'v, 'k> {
    match (old, new) {
        (old @ Side::List(..), Side::Object(None)) => old,
        (_, new) => new,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::schema::builtin_schema;

    fn printed(set: &FieldSet) -> Vec<String> {
        set.paths().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn comparisons_report_added_modified_and_removed_fields() {
        let schema = builtin_schema("", "v1", "Pod").unwrap();
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                         "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}},
                         "spec": {"containers": [{"name": "c", "image": "x:2"},
                                                 {"name": "d", "image": "y"}]}});
        let cmp = compare(&old, &new, &schema);
        assert_eq!(
            printed(&cmp.modified),
            [".spec.containers[name=\"c\"].image"]
        );
        assert_eq!(
            printed(&cmp.added),
            [
                ".metadata.labels.c",
                ".spec.containers[name=\"d\"]",
                ".spec.containers[name=\"d\"].image",
                ".spec.containers[name=\"d\"].name"
            ]
        );
        assert_eq!(printed(&cmp.removed), [".metadata.labels.b"]);
    }

    #[test]
    fn new_objects_are_added_as_members_with_their_contents() {
        let schema = builtin_schema("", "v1", "Pod").unwrap();
        let cmp = compare(&json!({}), &json!({"spec": {"nodeName": "n"}}), &schema);
        assert_eq!(printed(&cmp.added), [".spec", ".spec.nodeName"]);
        assert!(cmp.modified.is_empty() && cmp.removed.is_empty());
    }

    #[test]
    fn atomic_values_are_compared_whole() {
        let schema = builtin_schema("apps", "v1", "Deployment").unwrap();
        let old = json!({"spec": {"selector": {"matchLabels": {"a": "1"}}}});
        let new = json!({"spec": {"selector": {"matchLabels": {"a": "2"}}}});
        assert_eq!(
            printed(&compare(&old, &new, &schema).modified),
            [".spec.selector"]
        );
        assert!(compare(&old, &old, &schema).is_same());
    }
}
