//! Document-level tests of custom resources in the OpenAPI documents.

use std::sync::Arc;

use serde_json::{Value, json};

use super::OpenApiDocs;
use crate::builtin_resources;

fn cron_tab_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                "shortNames": ["ct"]},
            "versions": [
                {
                    "name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}, "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                    }},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {
                                "cronSpec": {"type": "string"},
                                "replicas": {"type": "integer", "default": 1},
                                "tags": {"type": "array", "items": {"type": "string"},
                                    "x-kubernetes-list-type": "set"},
                            }},
                            "status": {"type": "object",
                                "x-kubernetes-preserve-unknown-fields": true},
                        },
                    }},
                },
                {"name": "v2", "served": false, "storage": false,
                    "schema": {"openAPIV3Schema": {"type": "object"}}},
            ],
        },
    })
}

/// A cluster-scoped custom resource in a group of its own, the n-th of a series.
fn widget_crd(n: usize) -> Value {
    let group = format!("w{n}.example.org");
    let mut properties = serde_json::Map::new();
    for field in 0..30 {
        properties.insert(
            format!("field{field}"),
            json!({"type": "string", "description": format!("Field {field} of the widget.")}),
        );
    }
    json!({
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": properties},
                }}}}],
        },
    })
}

fn docs_with(crds: &[Value]) -> OpenApiDocs {
    OpenApiDocs::build_with_custom(&builtin_resources(), crds)
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

const CRON_TABS: &str = "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs";

#[test]
fn a_custom_kind_is_a_v2_definition_with_its_group_version_kind() {
    let docs = docs_with(&[cron_tab_crd()]);
    let doc = parse(&docs.v2());
    let definition = &doc["definitions"]["com.example.stable.v1.CronTab"];
    assert_eq!(
        definition["x-kubernetes-group-version-kind"],
        json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
    );
    assert_eq!(
        definition["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(definition["properties"]["kind"]["type"], "string");
    let spec = &definition["properties"]["spec"]["properties"];
    assert!(spec["replicas"].get("default").is_none());
    assert_eq!(spec["tags"]["x-kubernetes-list-type"], "set");
    let list = &doc["definitions"]["com.example.stable.v1.CronTabList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/definitions/com.example.stable.v1.CronTab"
    );
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "CronTabList"
    );

    let patch = &doc["paths"][format!("{CRON_TABS}/{{name}}")]["patch"];
    assert_eq!(
        patch["operationId"],
        "patchStableExampleComV1NamespacedCronTab"
    );
    assert_eq!(patch["tags"], json!(["stableExampleCom_v1"]));
    assert!(doc["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
}

#[test]
fn v2_definitions_stay_sorted_and_references_resolve() {
    let doc = parse(&docs_with(&[cron_tab_crd(), widget_crd(1)]).v2());
    let definitions = doc["definitions"].as_object().unwrap();
    let names: Vec<&String> = definitions.keys().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let mut refs = Vec::new();
    super::schemas::collect_refs(&doc, &mut refs);
    for name in refs {
        assert!(definitions.contains_key(&name), "{name} does not resolve");
    }
}

#[test]
fn the_v3_document_lets_the_server_validate_patches_of_the_custom_kind() {
    let docs = docs_with(&[cron_tab_crd()]);
    let (bytes, _) = docs.v3_document("apis/stable.example.com/v1").unwrap();
    let doc = parse(&bytes);
    let gvk = json!({"group": "stable.example.com", "kind": "CronTab", "version": "v1"});
    let patch = &doc["paths"][format!("{CRON_TABS}/{{name}}")]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"], gvk);
    let params = patch["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    let content: Vec<&String> = patch["requestBody"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        content,
        [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml"
        ]
    );

    let schemas = &doc["components"]["schemas"];
    let kind = &schemas["com.example.stable.v1.CronTab"];
    assert_eq!(kind["x-kubernetes-group-version-kind"], json!([gvk]));
    assert_eq!(
        kind["properties"]["spec"]["properties"]["replicas"]["default"],
        1
    );
    assert!(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());
    assert!(schemas["io.k8s.api.autoscaling.v1.Scale"].is_object());
    let mut refs = Vec::new();
    collect_v3_refs(&doc, &mut refs);
    for name in refs {
        assert!(schemas.get(&name).is_some(), "{name} does not resolve");
    }
}

fn collect_v3_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_v3_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_v3_refs(v, out)),
        _ => {}
    }
}

#[test]
fn status_and_scale_subresources_get_their_paths() {
    let docs = docs_with(&[cron_tab_crd()]);
    let doc = parse(&docs.v3_document("apis/stable.example.com/v1").unwrap().0);
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "/apis/stable.example.com/v1/crontabs",
            CRON_TABS,
            "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}",
            "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale",
            "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status",
        ]
    );
    let scale = &paths[&format!("{CRON_TABS}/{{name}}/scale")]["put"];
    assert_eq!(
        scale["operationId"],
        "replaceStableExampleComV1NamespacedCronTabScale"
    );
    assert_eq!(
        scale["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    );
    let list = &paths["/apis/stable.example.com/v1/crontabs"]["get"];
    assert_eq!(
        list["operationId"],
        "listStableExampleComV1CronTabForAllNamespaces"
    );
}

#[test]
fn the_v3_root_lists_the_custom_group_version_with_its_hash() {
    let docs = docs_with(&[cron_tab_crd()]);
    let root = parse(&docs.v3_root());
    let (_, hash) = docs.v3_document("apis/stable.example.com/v1").unwrap();
    assert_eq!(
        root["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"],
        format!("/openapi/v3/apis/stable.example.com/v1?hash={hash}")
    );
    assert!(root["paths"]["apis/apps/v1"].is_object());
}

#[test]
fn versions_that_are_not_served_are_absent() {
    let docs = docs_with(&[cron_tab_crd()]);
    assert!(docs.v3_document("apis/stable.example.com/v2").is_none());
    let root = parse(&docs.v3_root());
    assert!(root["paths"].get("apis/stable.example.com/v2").is_none());
    let doc = parse(&docs.v2());
    assert!(
        doc["definitions"]
            .get("com.example.stable.v2.CronTab")
            .is_none()
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        !paths
            .keys()
            .any(|p| p.starts_with("/apis/stable.example.com/v2"))
    );
}

#[test]
fn builds_with_different_custom_resources_share_the_builtin_documents() {
    let a = docs_with(&[cron_tab_crd()]);
    let b = docs_with(&[widget_crd(1), widget_crd(2)]);
    assert!(Arc::ptr_eq(&a.builtin, &b.builtin));
    let (apps_a, hash_a) = a.v3_document("apis/apps/v1").unwrap();
    let (apps_b, hash_b) = b.v3_document("apis/apps/v1").unwrap();
    assert_eq!(apps_a.as_ptr(), apps_b.as_ptr());
    assert_eq!(hash_a, hash_b);
    assert_ne!(a.v2_etag(), b.v2_etag());
    assert!(a.v3_document("apis/w1.example.org/v1").is_none());
    assert!(b.v3_document("apis/w1.example.org/v1").is_some());
}

#[test]
fn without_custom_resources_the_documents_equal_the_builtin_ones() {
    let plain = OpenApiDocs::build(&builtin_resources());
    let none = docs_with(&[]);
    assert_eq!(plain.v2_etag(), none.v2_etag());
    assert_eq!(plain.v3_root(), none.v3_root());
    let doc = parse(&plain.v2());
    assert_eq!(doc["swagger"], "2.0");
    assert!(doc["securityDefinitions"]["BearerToken"].is_object());
}

#[test]
fn the_documents_of_twenty_custom_resources_stay_under_ten_mebibytes() {
    let crds: Vec<Value> = (0..20).map(widget_crd).collect();
    let docs = docs_with(&crds);
    let root = parse(&docs.v3_root());
    let mut custom_v3 = 0;
    for path in root["paths"].as_object().unwrap().keys() {
        if path.contains("example.org") {
            custom_v3 += docs.v3_document(path).unwrap().0.len();
        }
    }
    let v2 = docs.v2().len();
    let shared = docs.builtin.heap_size();
    let total = shared + v2 + custom_v3 + docs.v3_root().len();
    println!(
        "openapi bytes with 20 custom resources: shared built-in part {shared}, \
         assembled v2 {v2}, custom v3 documents {custom_v3}, total {total}"
    );
    assert!(total < 10 * 1024 * 1024, "{total} bytes");
}
