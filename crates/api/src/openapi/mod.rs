//! The OpenAPI documents of the served resources: swagger 2.0 at `/openapi/v2` and
//! OpenAPI v3 at `/openapi/v3` (a root index plus one document per group-version).
//!
//! kubectl reads the v3 documents to decide whether the server validates fields
//! (`fieldValidation` on the kind's PATCH operation), to compute strategic merge patches
//! for client-side apply, and for `kubectl explain`. Schemas of built-in kinds come from
//! k8s-openapi's schemars impls under upstream's definition names; custom resources are
//! published from their CustomResourceDefinitions as apiextensions-apiserver publishes them.
//!
//! The documents are rendered on first use and only their serialized bytes are kept:
//! rendering every document takes some milliseconds and the bytes run to megabytes, which
//! neither server start nor an idle server should pay for. The built-in part is rendered
//! once per process and shared by every set of documents built for the same resources, so
//! that rebuilding the documents when a custom resource is created or deleted renders only
//! the custom group-versions and reassembles the swagger 2.0 document.

mod assemble;
mod builtin;
mod crd_schema;
mod custom;
#[cfg(test)]
mod custom_tests;
mod operations;
mod params;
pub mod patch_meta;
mod render;
mod schemas;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::ResourceInfo;
use assemble::V2Parts;
use builtin::Builtin;
use custom::CustomKind;

/// The OpenAPI documents of one set of resources, rendered lazily.
pub struct OpenApiDocs {
    builtin: Arc<Builtin>,
    /// The served versions of the custom resources, sorted by group-version.
    custom: Vec<CustomKind>,
    v2: OnceLock<Rendered>,
    v3: OnceLock<V3Documents>,
}

/// A serialized document and its content hash.
struct Rendered {
    bytes: Bytes,
    /// Upper-case hex SHA-512 of `bytes`, as upstream computes it.
    hash: String,
    /// `hash` in quotes, for the ETag header.
    etag: String,
}

impl Rendered {
    fn new(document: &Value) -> Self {
        Rendered::from_bytes(Bytes::from(document.to_string()))
    }

    fn from_bytes(bytes: Bytes) -> Self {
        let hash = upper_hex(&Sha512::digest(&bytes));
        let etag = format!("\"{hash}\"");
        Rendered { bytes, hash, etag }
    }
}

struct V3Documents {
    root: Bytes,
    /// Group-version path (`api/v1`, `apis/apps/v1`) and its document; the built-in
    /// documents are shared with the other sets of documents.
    documents: Vec<(String, Arc<Rendered>)>,
}

impl OpenApiDocs {
    /// Prepares the documents of `resources`; they are rendered on first request.
    /// Resources whose kind has no built-in type get no operations or schemas.
    pub fn build(resources: &[Arc<ResourceInfo>]) -> Self {
        OpenApiDocs::build_with_custom(resources, &[])
    }

    /// Prepares the documents of the built-in `resources` plus the served versions of the
    /// custom resources `crds` (full CustomResourceDefinition objects; the caller passes
    /// the Established ones). Resources that stand for custom resources
    /// ([`ResourceInfo::custom`]) are ignored here: `crds` describes them.
    ///
    /// The built-in documents are shared with every other live set of documents built for
    /// the same built-in resources, so build the new set before dropping the old one.
    /// A definition the documents cannot describe (malformed, or taking a built-in
    /// group-version) is left out with a warning.
    pub fn build_with_custom(resources: &[Arc<ResourceInfo>], crds: &[Value]) -> Self {
        let builtin_resources: Vec<Arc<ResourceInfo>> = resources
            .iter()
            .filter(|r| r.custom.is_none())
            .cloned()
            .collect();
        let builtin = Builtin::shared(&builtin_resources);
        let custom = custom::served_kinds(crds, &builtin.gv_paths);
        OpenApiDocs {
            builtin,
            custom,
            v2: OnceLock::new(),
            v3: OnceLock::new(),
        }
    }

    /// The swagger 2.0 document, JSON bytes.
    pub fn v2(&self) -> Bytes {
        self.v2_rendered().bytes.clone()
    }

    /// ETag value for the v2 document (the quoted hash).
    pub fn v2_etag(&self) -> &str {
        &self.v2_rendered().etag
    }

    /// The v3 root index: each group-version path with its hash-bearing document URL.
    pub fn v3_root(&self) -> Bytes {
        self.v3_rendered().root.clone()
    }

    /// The v3 document of one group-version path (`api/v1`, `apis/apps/v1`) and its hash
    /// (upper-case hex, the value of `?hash=` in the root index).
    pub fn v3_document(&self, gv_path: &str) -> Option<(Bytes, &str)> {
        self.v3_rendered()
            .documents
            .iter()
            .find(|(path, _)| path == gv_path)
            .map(|(_, doc)| (doc.bytes.clone(), doc.hash.as_str()))
    }

    fn v2_rendered(&self) -> &Rendered {
        self.v2.get_or_init(|| {
            let started = std::time::Instant::now();
            let custom = match self.custom.is_empty() {
                true => V2Parts::default(),
                false => custom::v2_parts(&self.custom, self.builtin.meta()),
            };
            let document = assemble::v2_document(self.builtin.v2(), &custom);
            let rendered = Rendered::from_bytes(Bytes::from(document));
            tracing::debug!(
                bytes = rendered.bytes.len(),
                elapsed = ?started.elapsed(),
                "assembled openapi v2 document"
            );
            rendered
        })
    }

    fn v3_rendered(&self) -> &V3Documents {
        self.v3.get_or_init(|| {
            let started = std::time::Instant::now();
            let mut documents = self.builtin.v3().to_vec();
            if !self.custom.is_empty() {
                let custom = custom::v3_documents(&self.custom, self.builtin.meta());
                documents.extend(
                    custom
                        .into_iter()
                        .map(|(path, doc)| (path, Arc::new(Rendered::new(&doc)))),
                );
            }
            let index = documents.iter().map(|(p, d)| (p.as_str(), d.hash.as_str()));
            let root = Bytes::from(render::v3_root(index).to_string());
            tracing::debug!(
                documents = documents.len(),
                custom = self.custom.len(),
                elapsed = ?started.elapsed(),
                "rendered openapi v3 documents"
            );
            V3Documents { root, documents }
        })
    }
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::builtin_resources;

    fn docs() -> OpenApiDocs {
        OpenApiDocs::build(&builtin_resources())
    }

    fn parse(bytes: &Bytes) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn v3(docs: &OpenApiDocs, gv_path: &str) -> Value {
        parse(&docs.v3_document(gv_path).unwrap().0)
    }

    /// Every `$ref` in `value` must name an entry of `targets` under `prefix`.
    fn assert_refs_resolve(value: &Value, prefix: &str, targets: &Value) {
        let mut refs = Vec::new();
        collect_all_refs(value, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{r} is not under {prefix}"));
            assert!(targets.get(name).is_some(), "{r} does not resolve");
        }
    }

    fn collect_all_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    out.push(r.to_string());
                }
                map.values().for_each(|v| collect_all_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_all_refs(v, out)),
            _ => {}
        }
    }

    fn patch_operation_of<'a>(doc: &'a Value, gvk: &Value) -> Option<&'a Value> {
        doc["paths"]
            .as_object()?
            .values()
            .filter_map(|item| item.get("patch"))
            .find(|op| op.get("x-kubernetes-group-version-kind") == Some(gvk))
    }

    #[test]
    fn v3_root_lists_group_versions_with_hashes() {
        let docs = docs();
        let root = parse(&docs.v3_root());
        for gv in ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/policy/v1"] {
            let url = root["paths"][gv]["serverRelativeURL"].as_str().unwrap();
            let (_, hash) = docs.v3_document(gv).unwrap();
            assert_eq!(url, format!("/openapi/v3/{gv}?hash={hash}"));
            assert_eq!(hash.len(), 128);
            assert!(
                hash.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            );
        }
        assert!(docs.v3_document("apis/nope/v1").is_none());
    }

    #[test]
    fn apps_document_lets_the_server_validate_deployment_patches() {
        let doc = v3(&docs(), "apis/apps/v1");
        let gvk = json!({"group": "apps", "kind": "Deployment", "version": "v1"});
        let patch = patch_operation_of(&doc, &gvk).expect("a PATCH for Deployment");
        let params = patch["parameters"].as_array().unwrap();
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
        );
        let content = patch["requestBody"]["content"].as_object().unwrap();
        assert!(content.contains_key("application/strategic-merge-patch+json"));
        assert!(content.contains_key("application/apply-patch+yaml"));
    }

    #[test]
    fn pod_spec_containers_reference_the_container_schema() {
        let doc = v3(&docs(), "api/v1");
        let schemas = &doc["components"]["schemas"];
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["type"], "array");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert!(
            containers["description"]
                .as_str()
                .unwrap()
                .contains("containers")
        );
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert_eq!(
            pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
    }

    #[test]
    fn v3_references_resolve_inside_each_document() {
        let docs = docs();
        let root = parse(&docs.v3_root());
        for gv in root["paths"].as_object().unwrap().keys() {
            let doc = v3(&docs, gv);
            let schemas = &doc["components"]["schemas"];
            assert_refs_resolve(&doc, "#/components/schemas/", schemas);
        }
    }

    #[test]
    fn v3_documents_hold_only_their_group_versions_paths() {
        let doc = v3(&docs(), "apis/apps/v1");
        let paths: BTreeSet<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert!(paths.iter().all(|p| p.starts_with("/apis/apps/v1/")));
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodTemplateSpec"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Pod"));
    }

    #[test]
    fn explain_finds_each_kind_from_its_list_path() {
        let docs = docs();
        for r in builtin_resources() {
            let gv_path = match r.group.as_str() {
                "" => format!("api/{}", r.version),
                g => format!("apis/{g}/{}", r.version),
            };
            let doc = v3(&docs, &gv_path);
            let prefix = format!("/{gv_path}");
            let list_path = match r.namespaced {
                true => format!("{prefix}/namespaces/{{namespace}}/{}", r.plural),
                false => format!("{prefix}/{}", r.plural),
            };
            let gvk = &doc["paths"][&list_path]["get"]["x-kubernetes-group-version-kind"];
            assert_eq!(gvk["kind"], r.kind.as_str(), "{list_path}");
            let found = doc["components"]["schemas"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(|s| s["x-kubernetes-group-version-kind"].as_array())
                .any(|gvks| gvks.contains(gvk));
            assert!(found, "no schema for {gvk}");
        }
    }

    #[test]
    fn int_or_string_fields_are_unions_in_v3() {
        let doc = v3(&docs(), "apis/apps/v1");
        let schemas = &doc["components"]["schemas"];
        let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["format"], "int-or-string");
        assert_eq!(int_or_string["oneOf"].as_array().unwrap().len(), 2);
        assert!(int_or_string.get("type").is_none());
    }

    #[test]
    fn v2_has_definitions_and_paths_whose_references_resolve() {
        let docs = docs();
        let doc = parse(&docs.v2());
        assert_eq!(doc["swagger"], "2.0");
        let definitions = &doc["definitions"];
        assert!(definitions.get("io.k8s.api.apps.v1.Deployment").is_some());
        assert_refs_resolve(&doc, "#/definitions/", definitions);

        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(patch["consumes"].as_array().unwrap().len(), 4);
        let body = &patch["parameters"][0];
        assert_eq!(body["in"], "body");
        assert_eq!(
            body["schema"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        );
        let etag = docs.v2_etag();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 130);
    }

    #[test]
    fn documents_are_identical_across_builds() {
        let a = docs();
        let b = docs();
        assert_eq!(a.v3_root(), b.v3_root());
        assert_eq!(a.v2_etag(), b.v2_etag());
    }
}
