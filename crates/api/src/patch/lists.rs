//! Merging of lists (by merge key, as sets of scalars, or replaced whole) and the order of
//! the merged elements, including `$setElementOrder/<list>`.

use serde_json::{Map, Value};

use super::strategic::{
    PATCH, SET_ELEMENT_ORDER, has_patch_directive, introduce, merge_object, unknown_patch_type,
};
use super::type_graph::At;
use super::{ListStrategy, PatchError, go_format, go_type};

/// Merges `patch` into `target`, the list at `at`.
pub(super) fn merge_list(
    target: &mut Vec<Value>,
    patch: &[Value],
    at: At,
) -> Result<(), PatchError> {
    let key = match at.list_strategy() {
        ListStrategy::Replace => {
            *target = introduce_elements(patch, at.items())?;
            return Ok(());
        }
        ListStrategy::Merge { key, .. } => Some(key),
        ListStrategy::Set => None,
    };
    if target.is_empty() && patch.is_empty() {
        return Ok(());
    }

    // Upstream picks the merge by what the elements are, not by what the field declares.
    if elements_are_objects(target, patch)? {
        let key = key.ok_or(PatchError::NoMergeKey)?;
        merge_keyed(target, patch, key, at.items())
    } else {
        merge_set(target, patch);
        Ok(())
    }
}

/// `$deleteFromPrimitiveList/<field>: [values]` removes those values from the list.
pub(super) fn delete_from_primitive_list(
    target: &mut Map<String, Value>,
    field: &str,
    value: &Value,
) {
    // A null removes the whole list, as it does for any key.
    if value.is_null() {
        target.shift_remove(field);
        return;
    }
    if let (Some(Value::Array(list)), Value::Array(remove)) = (target.get_mut(field), value) {
        list.retain(|v| !remove.contains(v));
    }
}

/// Applies every `$setElementOrder/<field>` of `patch`: merges that field's list and sorts
/// it by the directive. Returns the fields it merged, which the caller then skips.
pub(super) fn apply_element_orders<'p>(
    target: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    at: At,
) -> Result<Vec<&'p str>, PatchError> {
    let mut ordered = Vec::new();
    for (key, order) in patch {
        let Some(rest) = key.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        let field = rest
            .strip_prefix('/')
            .ok_or(PatchError::BadSetElementOrder)?;
        let order = order.as_array().ok_or(PatchError::BadSetElementOrder)?;
        let patch_list = match patch.get(field) {
            None => None,
            Some(Value::Array(list)) => Some(list.as_slice()),
            Some(other) => return Err(expected_list(other)),
        };
        order_field(target, field, patch_list, order, at.field(field).at)?;
        ordered.push(field);
    }
    Ok(ordered)
}

/// How list elements are told apart: by their merge key, or whole for scalars.
#[derive(Clone, Copy)]
enum Identity {
    Whole,
    Key(&'static str),
}

impl Identity {
    fn of_list(at: At) -> Identity {
        match at.list_strategy() {
            ListStrategy::Merge { key, .. } => Identity::Key(key),
            ListStrategy::Set | ListStrategy::Replace => Identity::Whole,
        }
    }

    fn of(self, value: &Value) -> Option<&Value> {
        match self {
            Identity::Whole => Some(value),
            Identity::Key(key) => value.get(key),
        }
    }

    /// The identity of an element that must have one.
    fn required(self, value: &Value) -> Result<&Value, PatchError> {
        match self {
            Identity::Whole if value.is_object() => Err(PatchError::NoMergeKey),
            Identity::Whole => Ok(value),
            Identity::Key(key) => merge_key_value(as_object(value)?, key),
        }
    }
}

fn order_field(
    target: &mut Map<String, Value>,
    field: &str,
    patch_list: Option<&[Value]>,
    order: &[Value],
    at: At,
) -> Result<(), PatchError> {
    let identity = Identity::of_list(at);
    if let Some(patch_list) = patch_list {
        check_order_matches_patch(patch_list, order, identity)?;
    }

    let merged = match (target.get_mut(field), patch_list) {
        (None, None) => return Ok(()),
        (Some(Value::Array(original)), patch_list) => {
            let server_ids = identities(original, identity)?;
            if let Some(patch_list) = patch_list {
                merge_list(original, patch_list, at)?;
            }
            sort_by_order(std::mem::take(original), order, &server_ids, identity)?
        }
        (Some(other), _) => return Err(expected_list(other)),
        (None, Some(patch_list)) => {
            let mut list = Vec::new();
            merge_list(&mut list, patch_list, at)?;
            sort_by_order(list, order, &[], identity)?
        }
    };
    target.insert(field.to_string(), Value::Array(merged));
    Ok(())
}

fn sort_by_order(
    merged: Vec<Value>,
    order: &[Value],
    server_ids: &[Value],
    identity: Identity,
) -> Result<Vec<Value>, PatchError> {
    let order_ids = identities(order, identity)?;
    identities(&merged, identity)?;
    Ok(reorder(merged, &order_ids, server_ids, identity))
}

/// Every element of the patch list that is no directive must appear in the
/// `$setElementOrder` list, in the same relative order.
fn check_order_matches_patch(
    patch_list: &[Value],
    order: &[Value],
    identity: Identity,
) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut remaining = order.iter();
    for element in patch_list.iter().filter(|e| !has_patch_directive(e)) {
        let id = identity.required(element)?;
        let mut found = false;
        for candidate in remaining.by_ref() {
            if identity.required(candidate)? == id {
                found = true;
                break;
            }
        }
        if !found {
            return Err(PatchError::OrderMismatch {
                patch: go_format(&Value::Array(patch_list.to_vec())),
                order: go_format(&Value::Array(order.to_vec())),
            });
        }
    }
    Ok(())
}

/// Elements of a replaced list: directives dropped, nested directives applied.
fn introduce_elements(patch: &[Value], items: At) -> Result<Vec<Value>, PatchError> {
    let mut elements = Vec::with_capacity(patch.len());
    for element in patch.iter().filter(|e| !has_patch_directive(e)) {
        if let Some(element) = introduce(element, items)? {
            elements.push(element);
        }
    }
    Ok(elements)
}

/// Whether the elements of both lists are objects; they must all be of one JSON type.
fn elements_are_objects(original: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut first: Option<&Value> = None;
    for element in original.iter().chain(patch) {
        if element.is_array() {
            return Err(PatchError::ListOfLists);
        }
        match first {
            None => first = Some(element),
            Some(f) if go_type(f) != go_type(element) => {
                let lists = vec![
                    Value::Array(original.to_vec()),
                    Value::Array(patch.to_vec()),
                ];
                return Err(PatchError::MixedElementTypes(go_format(&Value::Array(
                    lists,
                ))));
            }
            Some(_) => {}
        }
    }
    Ok(first.is_some_and(Value::is_object))
}

/// Merges lists of objects by `key`: `$patch: delete` elements remove their match,
/// `$patch: replace` makes the other elements the whole list, the rest merge or append.
fn merge_keyed(
    target: &mut Vec<Value>,
    patch: &[Value],
    key: &'static str,
    items: At,
) -> Result<(), PatchError> {
    let Some(plain) = apply_list_directives(target, patch, key)? else {
        *target = introduce_elements(patch, items)?;
        return Ok(());
    };

    let identity = Identity::Key(key);
    let server_ids = identities(target, identity)?;
    for &(id, element) in &plain {
        merge_element(target, id, element, key, items)?;
    }
    let patch_ids: Vec<Value> = plain.iter().map(|(id, _)| (*id).clone()).collect();
    *target = reorder(std::mem::take(target), &patch_ids, &server_ids, identity);
    Ok(())
}

/// A patch element of a keyed list with the value of its merge key.
type Keyed<'p> = (&'p Value, &'p Map<String, Value>);

/// Handles the directive elements of a keyed list's patch. Returns the other elements, or
/// `None` when the patch replaces the list.
fn apply_list_directives<'p>(
    target: &mut Vec<Value>,
    patch: &'p [Value],
    key: &'static str,
) -> Result<Option<Vec<Keyed<'p>>>, PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for element in patch {
        let object = as_object(element)?;
        let Some(directive) = object.get(PATCH) else {
            plain.push((merge_key_value(object, key)?, object));
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = merge_key_value(object, key)?;
                target.retain(|e| e.get(key) != Some(value));
            }
            // Other elements may still carry directives to drop, so keep going.
            Some("replace") => replace = true,
            Some("merge") => return Err(PatchError::MergeDirectiveInList),
            _ => return Err(unknown_patch_type(directive, object)),
        }
    }
    Ok((!replace).then_some(plain))
}

/// Merges one patch element into the element with the same merge key `id`, or appends it.
fn merge_element(
    target: &mut Vec<Value>,
    id: &Value,
    element: &Map<String, Value>,
    key: &'static str,
    items: At,
) -> Result<(), PatchError> {
    match target.iter_mut().find(|e| e.get(key) == Some(id)) {
        Some(Value::Object(original)) => {
            merge_object(original, element, items)?;
        }
        Some(other) => return Err(expected_object(other)),
        None => {
            let element = Value::Object(element.clone());
            target.extend(introduce(&element, items)?);
        }
    }
    Ok(())
}

/// Scalars merged as a set: the patch's values not yet present are added.
fn merge_set(target: &mut Vec<Value>, patch: &[Value]) {
    let server_ids = target.clone();
    let mut merged: Vec<Value> = Vec::with_capacity(target.len() + patch.len());
    for value in target.drain(..).chain(patch.iter().cloned()) {
        if !merged.contains(&value) {
            merged.push(value);
        }
    }
    *target = reorder(merged, patch, &server_ids, Identity::Whole);
}

/// Orders a merged list as upstream does: the elements named in `patch_ids` in that
/// order, the others in their original order, and the two interleaved so that elements
/// keep their original relative order where both lists know them.
fn reorder(
    merged: Vec<Value>,
    patch_ids: &[Value],
    server_ids: &[Value],
    identity: Identity,
) -> Vec<Value> {
    let position = |ids: &[Value], element: &Value| {
        let id = identity.of(element)?;
        ids.iter().position(|candidate| candidate == id)
    };

    let mut from_patch = Vec::new();
    let mut server_only = Vec::new();
    for element in merged {
        let server = position(server_ids, &element);
        match position(patch_ids, &element) {
            Some(p) => from_patch.push((p, server, element)),
            None => server_only.push((server.unwrap_or(usize::MAX), server, element)),
        }
    }
    from_patch.sort_by_key(|e| e.0);
    server_only.sort_by_key(|e| e.0);
    interleave(server_only, from_patch)
}

type Ranked = (usize, Option<usize>, Value);

/// Walks both sorted lists, taking the server-only element first only when both elements
/// are in the original and it came first there.
fn interleave(server_only: Vec<Ranked>, from_patch: Vec<Ranked>) -> Vec<Value> {
    let mut out = Vec::with_capacity(server_only.len() + from_patch.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => matches!((l.1, r.1), (Some(a), Some(b)) if a < b),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next.map(|(_, _, element)| element));
    }
    out
}

fn identities(list: &[Value], identity: Identity) -> Result<Vec<Value>, PatchError> {
    list.iter()
        .map(|element| identity.required(element).cloned())
        .collect()
}

fn merge_key_value<'v>(
    object: &'v Map<String, Value>,
    key: &'static str,
) -> Result<&'v Value, PatchError> {
    object.get(key).ok_or_else(|| PatchError::MissingMergeKey {
        map: go_format(&Value::Object(object.clone())),
        key,
    })
}

fn as_object(value: &Value) -> Result<&Map<String, Value>, PatchError> {
    value.as_object().ok_or_else(|| expected_object(value))
}

fn expected_object(value: &Value) -> PatchError {
    PatchError::WrongType {
        expected: "map[string]interface {}",
        actual: go_type(value),
    }
}

fn expected_list(value: &Value) -> PatchError {
    PatchError::WrongType {
        expected: "[]interface {}",
        actual: go_type(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::patch::fixtures::{deployment, names, patch, patch_err, pod_spec};

    fn scalars(values: &[&str]) -> Vec<Value> {
        values.iter().map(|v| json!(v)).collect()
    }

    #[test]
    fn reorder_puts_patch_elements_in_patch_order_among_server_ones() {
        let merged = scalars(&["a", "b", "c", "d"]);
        let ordered = reorder(
            merged,
            &scalars(&["d", "b"]),
            &scalars(&["a", "b", "c"]),
            Identity::Whole,
        );
        assert_eq!(ordered, scalars(&["d", "a", "b", "c"]));
    }

    #[test]
    fn reorder_keeps_a_server_element_before_the_patch_elements_it_preceded() {
        let merged = scalars(&["a", "b", "c"]);
        let ordered = reorder(
            merged,
            &scalars(&["c", "a"]),
            &scalars(&["a", "b", "c"]),
            Identity::Whole,
        );
        assert_eq!(ordered, scalars(&["b", "c", "a"]));
    }

    #[test]
    fn merge_set_adds_missing_values_once() {
        let mut list = scalars(&["x", "y", "x"]);
        merge_set(&mut list, &scalars(&["y", "z", "z"]));
        assert_eq!(list, scalars(&["x", "y", "z"]));
    }

    #[test]
    fn mixed_element_types_are_rejected() {
        let err = elements_are_objects(&[json!("a")], &[json!(1)]).expect_err("mixed");
        assert_eq!(
            err.to_string(),
            "list element types are not identical: [[a] [1]]"
        );
    }

    #[test]
    fn delete_list_with_null_removes_the_list() {
        let mut object = json!({"finalizers": ["a"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        delete_from_primitive_list(&mut object, "finalizers", &Value::Null);
        assert!(object.is_empty());
    }

    #[test]
    fn adding_a_container_keeps_the_existing_ones() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "logger", "image": "fluentbit:3"}
            ]}}}}),
        );
        let containers = &pod_spec(&patched)["containers"];
        assert_eq!(names(containers, "name"), ["logger", "nginx", "sidecar"]);
        assert_eq!(containers[1]["image"], "nginx:1.27");
    }

    #[test]
    fn changing_one_container_image_leaves_its_other_fields() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "image": "busybox:1.37"}
            ]}}}}),
        );
        let containers = &pod_spec(&patched)["containers"];
        assert_eq!(names(containers, "name"), ["nginx", "sidecar"]);
        assert_eq!(containers[1]["image"], "busybox:1.37");
        assert_eq!(
            containers[0],
            deployment()["spec"]["template"]["spec"]["containers"][0]
        );
    }

    #[test]
    fn env_merges_by_name() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [
                {"name": "LEVEL", "value": "debug"},
                {"name": "EXTRA", "value": "1"}
            ]}]}}}}),
        );
        let env = &pod_spec(&patched)["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([
                {"name": "MODE", "value": "prod"},
                {"name": "LEVEL", "value": "debug"},
                {"name": "EXTRA", "value": "1"}
            ])
        );
    }

    #[test]
    fn ports_merge_by_container_port() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [
                {"containerPort": 443, "name": "https"},
                {"containerPort": 8080}
            ]}]}}}}),
        );
        let ports = &pod_spec(&patched)["containers"][0]["ports"];
        assert_eq!(
            ports,
            &json!([
                {"containerPort": 80, "protocol": "TCP"},
                {"containerPort": 443, "protocol": "TCP", "name": "https"},
                {"containerPort": 8080}
            ])
        );
    }

    #[test]
    fn volume_mounts_merge_by_mount_path() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx",
                "volumeMounts": [{"mountPath": "/cache", "readOnly": true}]
            }]}}}}),
        );
        let mounts = &pod_spec(&patched)["containers"][0]["volumeMounts"];
        assert_eq!(
            mounts,
            &json!([
                {"name": "data", "mountPath": "/data"},
                {"name": "cache", "mountPath": "/cache", "readOnly": true}
            ])
        );
    }

    #[test]
    fn volumes_merge_by_name() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"volumes": [
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}
            ]}}}}),
        );
        // Upstream puts a new element before the server-only ones that follow it.
        let volumes = &pod_spec(&patched)["volumes"];
        assert_eq!(
            volumes,
            &json!([
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "data", "emptyDir": {}},
                {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}
            ])
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {"finalizers": ["b.example.com/two", "c.example.com/three"]}}),
        );
        assert_eq!(
            patched["metadata"]["finalizers"],
            json!([
                "a.example.com/one",
                "b.example.com/two",
                "c.example.com/three"
            ])
        );
    }

    #[test]
    fn delete_from_primitive_list_removes_a_finalizer() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/one"]}}),
        );
        assert_eq!(
            patched["metadata"]["finalizers"],
            json!(["b.example.com/two"])
        );
    }

    #[test]
    fn set_element_order_sorts_finalizers_while_one_is_deleted() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["c.example.com/three", "b.example.com/two"],
                "$deleteFromPrimitiveList/finalizers": ["a.example.com/one"],
                "finalizers": ["c.example.com/three"]
            }}),
        );
        assert_eq!(
            patched["metadata"]["finalizers"],
            json!(["c.example.com/three", "b.example.com/two"])
        );
    }

    #[test]
    fn patch_delete_removes_the_matching_container() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"$patch": "delete", "name": "sidecar"}]
            }}}}),
        );
        assert_eq!(names(&pod_spec(&patched)["containers"], "name"), ["nginx"]);
    }

    #[test]
    fn patch_replace_in_a_list_replaces_the_whole_list() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"$patch": "replace"},
                {"name": "only", "image": "alpine:3"}
            ]}}}}),
        );
        assert_eq!(
            pod_spec(&patched)["containers"],
            json!([{"name": "only", "image": "alpine:3"}])
        );
    }

    #[test]
    fn set_element_order_reorders_containers() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]
            }}}}),
        );
        let containers = &pod_spec(&patched)["containers"];
        assert_eq!(names(containers, "name"), ["sidecar", "nginx"]);
        assert_eq!(containers[1]["image"], "nginx:1.27");
    }

    #[test]
    fn set_element_order_places_a_new_container_where_it_says() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [
                    {"name": "nginx"}, {"name": "logger"}, {"name": "sidecar"}
                ],
                "containers": [{"name": "logger", "image": "fluentbit:3"}]
            }}}}),
        );
        let containers = &pod_spec(&patched)["containers"];
        assert_eq!(names(containers, "name"), ["nginx", "logger", "sidecar"]);
    }

    #[test]
    fn set_element_order_must_list_the_patched_elements() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"name": "logger", "image": "fluentbit:3"}]
            }}}}),
        );
        assert!(matches!(err, PatchError::OrderMismatch { .. }), "{err}");
    }

    #[test]
    fn tolerations_are_replaced_whole() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"tolerations": [
                {"key": "c", "operator": "Exists"}
            ]}}}}),
        );
        assert_eq!(
            pod_spec(&patched)["tolerations"],
            json!([{"key": "c", "operator": "Exists"}])
        );
    }

    #[test]
    fn container_args_are_replaced_whole() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "nginx", "args": ["-v"]}
            ]}}}}),
        );
        assert_eq!(pod_spec(&patched)["containers"][0]["args"], json!(["-v"]));
    }

    #[test]
    fn an_empty_patch_list_leaves_a_merged_list_alone() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": []}}}}),
        );
        assert_eq!(
            names(&pod_spec(&patched)["containers"], "name"),
            ["nginx", "sidecar"]
        );
    }

    #[test]
    fn a_new_list_gets_its_directives_applied() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{
                "name": "sidecar",
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"name": "A", "value": "1"}, {"name": "GONE", "$patch": "delete"}]
            }]}}}}),
        );
        assert_eq!(
            pod_spec(&patched)["containers"][1],
            json!({"name": "sidecar", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}]})
        );
    }

    #[test]
    fn a_container_without_a_name_is_rejected_like_upstream() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}}),
        );
        assert_eq!(
            err.to_string(),
            "map: map[image:nginx] does not contain declared merge key: name"
        );
    }

    #[test]
    fn lists_of_lists_are_rejected() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"metadata": {"finalizers": [["x"]]}}),
        );
        assert!(matches!(err, PatchError::ListOfLists));
        assert_eq!(err.status_code(), 422);
    }

    #[test]
    fn kubectl_removal_of_a_port_deletes_it_inside_its_container() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                "containers": [{
                    "name": "nginx",
                    "$setElementOrder/ports": [{"containerPort": 80}],
                    "ports": [{"$patch": "delete", "containerPort": 443}],
                    "args": null
                }]
            }}}}),
        );
        let nginx = &pod_spec(&patched)["containers"][0];
        assert_eq!(
            nginx["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}])
        );
        assert!(nginx.get("args").is_none());
        assert_eq!(
            names(&pod_spec(&patched)["containers"], "name"),
            ["nginx", "sidecar"]
        );
    }

    #[test]
    fn set_element_order_entries_need_the_merge_key() {
        let err = patch_err(
            "deployments",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"image": "nginx"}]
            }}}}),
        );
        assert!(
            matches!(err, PatchError::MissingMergeKey { key: "name", .. }),
            "{err}"
        );
    }
}
