//! Merging of objects and of the directives a patch carries in them (`$patch`,
//! `$retainKeys`, `$deleteFromPrimitiveList/...`); lists are left to [`super::lists`].

use serde_json::{Map, Value};

use super::lists;
use super::type_graph::At;
use super::{PatchError, go_format};

pub(super) const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies `patch` to a copy of `original`, both objects of the kind rooted at `root`.
pub(super) fn apply(original: &Value, patch: &Value, root: At) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::NotAnObject);
    };
    let mut merged = original.clone();
    // A top-level `$patch: delete` leaves an empty object, as upstream does.
    merge_object(&mut merged, patch, root)?;
    Ok(Value::Object(merged))
}

/// What became of an object a patch was merged into.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Merged {
    Kept,
    /// `$patch: delete`: the object was emptied, and a key the original lacked stays absent.
    Deleted,
}

/// Merges `patch` into `target`, the object at `at`.
pub(super) fn merge_object(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    at: At,
) -> Result<Merged, PatchError> {
    let Some(directive) = patch.get(PATCH) else {
        merge_entries(target, patch, at)?;
        return Ok(Merged::Kept);
    };
    match directive.as_str() {
        Some("replace") => {
            target.clear();
            merge_entries(target, patch, at)?;
            Ok(Merged::Kept)
        }
        Some("delete") => {
            target.clear();
            Ok(Merged::Deleted)
        }
        // Upstream rejects `$patch: merge` on an object too, although merging is the default.
        _ => Err(unknown_patch_type(directive, patch)),
    }
}

/// The value a patch brings where the original has none: the patch merged into nothing,
/// so its directives are applied and its nulls dropped. `None` for a deleted object.
pub(super) fn introduce(value: &Value, at: At) -> Result<Option<Value>, PatchError> {
    match value {
        Value::Object(patch) => {
            let mut object = Map::new();
            let merged = merge_object(&mut object, patch, at)?;
            Ok((merged == Merged::Kept).then_some(Value::Object(object)))
        }
        Value::Array(patch) => {
            let mut list = Vec::new();
            lists::merge_list(&mut list, patch, at)?;
            Ok(Some(Value::Array(list)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

/// Whether a list element is a directive (`{"name": "x", "$patch": "delete"}`).
pub(super) fn has_patch_directive(value: &Value) -> bool {
    value.get(PATCH).is_some()
}

pub(super) fn unknown_patch_type(directive: &Value, object: &Map<String, Value>) -> PatchError {
    PatchError::UnknownPatchType {
        directive: go_format(directive),
        map: go_format(&Value::Object(object.clone())),
    }
}

/// What a key of a patch object stands for.
enum Entry<'p> {
    Field,
    /// Consumed elsewhere: `$patch`, `$retainKeys`, `$setElementOrder/<list>`.
    Directive,
    /// `$deleteFromPrimitiveList/<list>`, with the list's key.
    DeleteFromList(&'p str),
}

fn merge_entries(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    at: At,
) -> Result<(), PatchError> {
    retain_keys(target, patch)?;
    let ordered = lists::apply_element_orders(target, patch, at)?;

    for (key, value) in patch {
        match classify(key, at)? {
            Entry::Directive => {}
            Entry::DeleteFromList(field) => lists::delete_from_primitive_list(target, field, value),
            Entry::Field if ordered.contains(&key.as_str()) => {}
            Entry::Field => merge_field(target, key, value, at)?,
        }
    }
    Ok(())
}

fn classify<'p>(key: &'p str, at: At) -> Result<Entry<'p>, PatchError> {
    if !key.starts_with('$') {
        return Ok(Entry::Field);
    }
    if key == PATCH || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
        return Ok(Entry::Directive);
    }
    if let Some(rest) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
        let field = rest.strip_prefix('/').ok_or(PatchError::BadPrimitiveList)?;
        return Ok(Entry::DeleteFromList(field));
    }
    // A typed object declares all its fields and no built-in field starts with `$`; in maps
    // and free-form values such a key is plain data.
    if at.is_object() && !at.field(key).declared {
        return Err(PatchError::UnknownDirective(key.to_string()));
    }
    Ok(Entry::Field)
}

fn merge_field(
    target: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    at: At,
) -> Result<(), PatchError> {
    if value.is_null() {
        target.shift_remove(key);
        return Ok(());
    }

    let field = at.field(key);
    match (target.get_mut(key), value) {
        (Some(Value::Object(original)), Value::Object(patch)) if !field.replace => {
            // An object deleted with `$patch: delete` stays as `{}`, as upstream leaves it.
            merge_object(original, patch, field.at)?;
        }
        (Some(Value::Array(original)), Value::Array(patch)) => {
            lists::merge_list(original, patch, field.at)?;
        }
        _ => match introduce(value, field.at)? {
            Some(introduced) => {
                target.insert(key.to_string(), introduced);
            }
            None => {
                target.shift_remove(key);
            }
        },
    }
    Ok(())
}

/// `$retainKeys: [...]` clears the original's keys missing from the list; every key the
/// patch sets must be in it.
fn retain_keys(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(keys) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let keys = keys.as_array().ok_or(PatchError::BadRetainKeys)?;
    let retained = |key: &str| keys.iter().any(|k| k.as_str() == Some(key));

    let outside_list = patch.iter().any(|(key, value)| {
        let directive = key == RETAIN_KEYS
            || key == PATCH
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER);
        !value.is_null() && !directive && !retained(key)
    });
    if outside_list {
        return Err(PatchError::BadRetainKeys);
    }
    target.retain(|key, _| retained(key));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::patch::PatchError;
    use crate::patch::fixtures::{deployment, patch, patch_err, pod_spec};

    #[test]
    fn retain_keys_on_a_volume_drops_its_old_source() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"volumes": [
                {"name": "cache", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/tmp"}}
            ]}}}}),
        );
        assert_eq!(
            pod_spec(&patched)["volumes"][1],
            json!({"name": "cache", "hostPath": {"path": "/tmp"}})
        );
    }

    #[test]
    fn patch_replace_on_a_map_replaces_the_whole_map() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {"labels": {"$patch": "replace", "tier": "frontend"}}}),
        );
        assert_eq!(patched["metadata"]["labels"], json!({"tier": "frontend"}));

        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}),
        );
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn patch_delete_on_a_map_leaves_it_empty() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {"annotations": {"$patch": "delete"}}}),
        );
        assert_eq!(patched["metadata"]["annotations"], json!({}));
    }

    #[test]
    fn retain_keys_switching_to_recreate_clears_rolling_update() {
        // What kubectl apply sends when the manifest changes the strategy type.
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {
                "$retainKeys": ["type"],
                "rollingUpdate": null,
                "type": "Recreate"
            }}}),
        );
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));

        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn retain_keys_must_name_every_key_the_patch_sets() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        );
        assert!(matches!(err, PatchError::BadRetainKeys));
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn without_retain_keys_the_strategy_merges() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(patched["spec"]["strategy"]["type"], "Recreate");
        assert_eq!(
            patched["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
    }

    #[test]
    fn null_deletes_a_map_key() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {"labels": {"app": null, "tier": "web"}}, "status": null}),
        );
        assert_eq!(patched["metadata"]["labels"], json!({"tier": "web"}));
        assert!(patched.get("status").is_none());
    }

    #[test]
    fn nulls_inside_a_new_object_are_dropped() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"securityContext": {
                "runAsUser": 1000, "runAsGroup": null
            }}}}}),
        );
        assert_eq!(
            pod_spec(&patched)["securityContext"],
            json!({"runAsUser": 1000})
        );
    }

    #[test]
    fn unknown_directives_are_rejected() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"$frobnicate": 1}}),
        );
        assert!(matches!(err, PatchError::UnknownDirective(ref k) if k == "$frobnicate"));

        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"strategy": {"$patch": "shred"}}}),
        );
        assert_eq!(
            err.to_string(),
            "unknown patch type: shred in map: map[$patch:shred]"
        );

        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}),
        );
        assert!(matches!(err, PatchError::MergeDirectiveInList));

        let err = patch_err(
            "deployments",
            deployment(),
            json!({"metadata": {"$deleteFromPrimitiveList": ["x"]}}),
        );
        assert!(matches!(err, PatchError::BadPrimitiveList));
    }

    #[test]
    fn unknown_fields_merge_as_plain_maps() {
        let mut original = deployment();
        original["spec"]["extra"] = json!({"a": 1, "list": [1, 2], "$ref": "x"});
        let patched = patch(
            "deployments",
            original,
            json!({"spec": {"extra": {"b": 2, "list": [3], "$ref": "y"}}}),
        );
        assert_eq!(
            patched["spec"]["extra"],
            json!({"a": 1, "list": [3], "$ref": "y", "b": 2})
        );
    }

    #[test]
    fn controller_revision_data_merges_as_a_plain_map() {
        let revision = json!({
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "r1"}, "revision": 1,
            "data": {"spec": {"template": {"x": 1}}}
        });
        let patched = patch(
            "controllerrevisions",
            revision,
            json!({"data": {"spec": {"template": {"y": 2}}}}),
        );
        assert_eq!(
            patched["data"],
            json!({"spec": {"template": {"x": 1, "y": 2}}})
        );
    }

    #[test]
    fn pod_disruption_budget_selector_is_replaced_not_merged() {
        let pdb = json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
            "spec": {"selector": {"matchLabels": {"app": "web", "tier": "a"}}, "minAvailable": 1}
        });
        let patched = patch(
            "poddisruptionbudgets",
            pdb,
            json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}}),
        );
        assert_eq!(
            patched["spec"],
            json!({"selector": {"matchLabels": {"app": "api"}}, "minAvailable": 1})
        );
    }

    #[test]
    fn patches_and_originals_must_be_objects() {
        let err = patch_err("deployments", deployment(), json!([1]));
        assert!(matches!(err, PatchError::NotAnObject));
    }

    #[test]
    fn patch_delete_on_a_missing_map_adds_nothing() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"securityContext": {"$patch": "delete"}}}}}),
        );
        assert!(pod_spec(&patched).get("securityContext").is_none());
    }
}
