//! Strategic merge patch (`application/strategic-merge-patch+json`) of the built-in kinds.
//!
//! Objects merge key by key and `null` deletes a key. Lists are replaced whole unless
//! upstream declares a merge strategy for their field: lists of objects then merge by a
//! key (containers by `name`), lists of scalars merge as sets (finalizers). The patch may
//! carry the directives `$patch` (`replace`, `delete`), `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//!
//! The field types come from k8s-openapi's schemas and the merge strategies from upstream's
//! `patchStrategy`/`patchMergeKey` tags ([`crate::openapi::patch_meta`]). Custom resources
//! have neither, so they cannot be patched this way.

#[cfg(test)]
mod fixtures;
mod lists;
mod strategic;
pub(crate) mod type_graph;

use serde_json::Value;

use crate::ResourceInfo;
use type_graph::TypeGraph;

/// How a strategic merge patch combines a list of the original with the patch's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// Objects matched by the value of `key`: matches merge, others are added.
    /// `retain_keys` marks lists whose elements also honour `$retainKeys` (PodSpec.volumes).
    Merge {
        key: &'static str,
        retain_keys: bool,
    },
    /// Scalars merged as a set (`patchStrategy:"merge"` without a merge key).
    Set,
    /// The patch's list replaces the original's (atomic, the default).
    Replace,
}

/// Why a strategic merge patch could not be applied. Messages follow upstream's.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The kind has no built-in type (custom resources).
    #[error("strategic merge patch format is not supported")]
    Unsupported,
    #[error("invalid JSON document")]
    NotAnObject,
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey { map: String, key: &'static str },
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchType { directive: String, map: String },
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    #[error("unknown patch directive: {0}")]
    UnknownDirective(String),
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    #[error("invalid patch format of primitive list")]
    BadPrimitiveList,
    #[error("the order in patch list {patch} doesn't match $setElementOrder list {order}")]
    OrderMismatch { patch: String, order: String },
    #[error("lists of lists are not supported")]
    ListOfLists,
    #[error("list element types are not identical: {0}")]
    MixedElementTypes(String),
    #[error("expected a {expected}, but received a {actual}")]
    WrongType {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("cannot merge lists of objects without a merge key")]
    NoMergeKey,
}

impl PatchError {
    /// The HTTP status upstream answers with: 400 (BadRequest) for a malformed patch, 422
    /// for lists of lists, and 500 for the rest, which upstream passes on as plain errors
    /// (a Status with an empty reason).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Unsupported
            | PatchError::NotAnObject
            | PatchError::BadRetainKeys
            | PatchError::BadSetElementOrder
            | PatchError::BadPrimitiveList => 400,
            PatchError::ListOfLists => 422,
            _ => 500,
        }
    }
}

/// Applies a strategic merge patch to `original`, a built-in kind's object in JSON form.
pub fn strategic_merge(
    resource: &ResourceInfo,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    strategic_merge_kind(
        &resource.group,
        &resource.version,
        &resource.kind,
        original,
        patch,
    )
}

/// [`strategic_merge`] for a kind named by group, version and kind; besides the served
/// kinds this knows autoscaling/v1 Scale, for patches of the `scale` subresource.
pub fn strategic_merge_kind(
    group: &str,
    version: &str,
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let name = type_graph::schema_name(group, version, kind).ok_or(PatchError::Unsupported)?;
    let root = TypeGraph::get()
        .root(&name)
        .ok_or(PatchError::Unsupported)?;
    strategic::apply(original, patch, root)
}

/// The merge strategy of the list at a JSON path of a kind, for server-side apply and
/// OpenAPI (`["spec", "template", "spec", "containers"]`). Paths step through lists into
/// their elements without an index (`["spec", "containers", "env"]`). `None` when the
/// path is no list the schema knows, or the kind has no built-in type.
pub fn list_strategy(resource: &ResourceInfo, path: &[&str]) -> Option<ListStrategy> {
    let name = type_graph::schema_name(&resource.group, &resource.version, &resource.kind)?;
    let mut at = TypeGraph::get().root(&name)?;
    for key in path {
        if at.is_list() {
            at = at.items();
        }
        let field = at.field(key);
        if !field.declared {
            return None;
        }
        at = field.at;
    }
    at.is_list().then(|| at.list_strategy())
}

/// A value as Go's `%v` prints it, which upstream's error messages embed
/// (`map[image:nginx ports:[map[containerPort:80]]]`).
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_format(v)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// The Go type upstream names in its type errors for a JSON value.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixtures::{deployment, names, patch, pod_spec, resource};
    use super::*;

    #[test]
    fn kubectl_client_side_apply_body_updates_image_and_replicas() {
        // The body kubectl 1.35 sends for `kubectl apply` after nginx:1.27 -> 1.28 and
        // replicas 2 -> 3 (633 bytes on the wire).
        let last_applied = concat!(
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"#,
            r#""labels":{"app":"web"},"name":"web","namespace":"default"},"spec":{"replicas":3,"#,
            r#""selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":"#,
            r#"{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.28","name":"nginx","#,
            r#""ports":[{"containerPort":80}]}]}}}}"#,
            "\n"
        );
        let body = json!({
            "metadata": {"annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": last_applied
            }},
            "spec": {
                "replicas": 3,
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"image": "nginx:1.28", "name": "nginx"}]
                }}
            }
        });
        assert_eq!(serde_json::to_vec(&body).unwrap().len(), 633);
        let mut original = deployment();
        original["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]);

        let patched = patch("deployments", original.clone(), body);

        assert_eq!(patched["spec"]["replicas"], 3);
        let containers = &pod_spec(&patched)["containers"];
        assert_eq!(
            containers,
            &json!([{"name": "nginx", "image": "nginx:1.28", "ports": [{"containerPort": 80}]}])
        );
        let annotations = &patched["metadata"]["annotations"];
        assert_eq!(annotations["deployment.kubernetes.io/revision"], "1");
        assert_eq!(
            annotations["kubectl.kubernetes.io/last-applied-configuration"],
            last_applied
        );
        assert_eq!(patched["status"], original["status"]);
        assert!(
            pod_spec(&patched)
                .get("$setElementOrder/containers")
                .is_none()
        );
    }

    #[test]
    fn scale_subresource_patches_apply_to_scale() {
        let scale = json!({
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web"}, "spec": {"replicas": 2}, "status": {"replicas": 2}
        });
        let patched = strategic_merge_kind(
            "autoscaling",
            "v1",
            "Scale",
            &scale,
            &json!({"spec": {"replicas": 5}}),
        )
        .expect("patch applies");
        assert_eq!(patched["spec"]["replicas"], 5);
    }

    #[test]
    fn custom_resources_are_not_supported() {
        let mut widgets = resource("pods");
        widgets.group = "example.com".into();
        widgets.kind = "Widget".into();
        let err = strategic_merge(&widgets, &json!({}), &json!({})).expect_err("unsupported");
        assert!(matches!(err, PatchError::Unsupported));
        assert_eq!(
            err.to_string(),
            "strategic merge patch format is not supported"
        );
    }

    #[test]
    fn list_strategy_reports_the_merge_metadata_of_a_path() {
        let deployments = resource("deployments");
        let pods = resource("pods");
        assert_eq!(
            list_strategy(&deployments, &["spec", "template", "spec", "containers"]),
            Some(ListStrategy::Merge {
                key: "name",
                retain_keys: false
            })
        );
        assert_eq!(
            list_strategy(&pods, &["spec", "volumes"]),
            Some(ListStrategy::Merge {
                key: "name",
                retain_keys: true
            })
        );
        assert_eq!(
            list_strategy(&pods, &["spec", "containers", "ports"]),
            Some(ListStrategy::Merge {
                key: "containerPort",
                retain_keys: false
            })
        );
        assert_eq!(
            list_strategy(&pods, &["metadata", "finalizers"]),
            Some(ListStrategy::Set)
        );
        assert_eq!(
            list_strategy(&pods, &["spec", "tolerations"]),
            Some(ListStrategy::Replace)
        );
        assert_eq!(
            list_strategy(&resource("nodes"), &["status", "conditions"]),
            Some(ListStrategy::Merge {
                key: "type",
                retain_keys: false
            })
        );
        assert_eq!(list_strategy(&pods, &["spec", "nodeName"]), None);
        assert_eq!(list_strategy(&pods, &["spec", "nope"]), None);
    }

    #[test]
    fn go_format_prints_maps_with_sorted_keys_like_go() {
        let value =
            json!({"name": "c", "ports": [{"containerPort": 80}], "args": null, "on": true});
        assert_eq!(
            go_format(&value),
            "map[args:<nil> name:c on:true ports:[map[containerPort:80]]]"
        );
    }

    #[test]
    fn deployment_conditions_merge_by_type() {
        let patched = patch(
            "deployments",
            deployment(),
            json!({"status": {"conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
                {"type": "ReplicaFailure", "status": "True"}
            ]}}),
        );
        let conditions = &patched["status"]["conditions"];
        assert_eq!(
            names(conditions, "type"),
            ["Available", "Progressing", "ReplicaFailure"]
        );
        assert_eq!(conditions[1]["reason"], "ProgressDeadlineExceeded");
        assert_eq!(conditions[0]["reason"], "MinimumReplicasAvailable");
    }

    #[test]
    fn node_conditions_and_addresses_merge_by_type() {
        let node = json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {
                "conditions": [{"type": "Ready", "status": "False"}],
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.0.1"},
                    {"type": "Hostname", "address": "n1"}
                ]
            }
        });
        let patched = patch(
            "nodes",
            node,
            json!({"status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]
            }}),
        );
        assert_eq!(
            patched["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}])
        );
        assert_eq!(
            patched["status"]["addresses"],
            json!([
                {"type": "InternalIP", "address": "10.0.0.2"},
                {"type": "Hostname", "address": "n1"}
            ])
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443}
            ]}
        });
        let patched = patch(
            "services",
            service,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            patched["spec"]["ports"],
            json!([
                {"name": "http", "port": 80, "targetPort": 9090},
                {"name": "https", "port": 443}
            ])
        );
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let config_map = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1"}
            ]},
            "data": {"a": "1"}
        });
        let patched = patch(
            "configmaps",
            config_map,
            json!({"metadata": {"ownerReferences": [
                {"uid": "u1", "controller": true},
                {"apiVersion": "v1", "kind": "Pod", "name": "q", "uid": "u2"}
            ]}, "data": {"b": "2"}}),
        );
        let owners = &patched["metadata"]["ownerReferences"];
        assert_eq!(names(owners, "uid"), ["u1", "u2"]);
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(patched["data"], json!({"a": "1", "b": "2"}));
    }
}
