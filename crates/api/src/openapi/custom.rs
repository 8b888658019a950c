//! Custom resources in the OpenAPI documents: each served version of a
//! CustomResourceDefinition gets the operations apiextensions-apiserver publishes under
//! `/apis/<group>/<version>` and two definitions, the kind and its list, named as upstream
//! names them (`com.example.stable.v1.CronTab`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::assemble::{Members, V2Parts};
use super::crd_schema::{self, Form, TypeMeta};
use super::operations::{self, GroupVersion};
use super::render;
use super::schemas::{self, Catalogue, Gvk, KindNames};
use crate::{ResourceInfo, Subresource};

/// A CustomResourceDefinition the documents cannot describe.
#[derive(Debug, thiserror::Error)]
pub(super) enum CrdError {
    #[error("custom resource definition {crd} has no {field}")]
    Missing { crd: String, field: &'static str },
    #[error("custom resource definition {crd} would replace the built-in group-version {path}")]
    BuiltinGroupVersion { crd: String, path: String },
    #[error("custom resource definition {crd} repeats the {kind} of {path}, already published")]
    Duplicate {
        crd: String,
        kind: String,
        path: String,
    },
}

/// One served version of a custom resource.
pub(super) struct CustomKind {
    pub resource: ResourceInfo,
    pub list_kind: String,
    pub names: KindNames,
    /// The version's `openAPIV3Schema`.
    schema: Option<Value>,
    /// The CRD's `spec.preserveUnknownFields`.
    preserves_unknown: bool,
    /// `selectableFields[].jsonPath` of the version.
    selectable_fields: Vec<String>,
}

/// What the custom documents take from the built-in definitions: the swagger 2.0
/// definitions they reference (object and list metadata, Status, DeleteOptions, Patch,
/// Scale) and the TypeMeta property schemas.
pub(super) struct MetaSchemas {
    pub definitions: BTreeMap<String, Value>,
    type_meta: TypeMeta,
}

impl MetaSchemas {
    pub fn from_catalogue(catalogue: &Catalogue) -> Self {
        let definitions = catalogue.custom_resource_meta();
        let type_meta_property = |name: &str| {
            definitions
                .get(schemas::STATUS)
                .and_then(|s| s.pointer(&format!("/properties/{name}")))
                .cloned()
                .unwrap_or_else(|| json!({"type": "string"}))
        };
        let type_meta = TypeMeta {
            api_version: type_meta_property("apiVersion"),
            kind: type_meta_property("kind"),
        };
        MetaSchemas {
            definitions,
            type_meta,
        }
    }

    /// The serialized size of the definitions, an estimate of the bytes they hold.
    #[cfg(test)]
    pub fn heap_size(&self) -> usize {
        self.definitions
            .iter()
            .map(|(name, schema)| name.len() + schema.to_string().len())
            .sum()
    }
}

/// The served versions of `crds`, sorted by group, version and plural. Definitions that
/// are malformed or clash with a built-in group-version (`reserved`, as `apis/apps/v1`) or
/// an earlier definition are left out with a warning.
pub(super) fn served_kinds(crds: &[Value], reserved: &BTreeSet<String>) -> Vec<CustomKind> {
    let mut kinds: Vec<CustomKind> = Vec::new();
    for crd in crds {
        let parsed = kinds_of(crd).and_then(|found| {
            found
                .into_iter()
                .map(|kind| check_clashes(crd, kind, reserved, &kinds))
                .collect::<Result<Vec<_>, _>>()
        });
        match parsed {
            Ok(found) => kinds.extend(found),
            Err(error) => {
                tracing::warn!(%error, "custom resource left out of the openapi documents")
            }
        }
    }
    kinds.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    kinds
}

fn sort_key(kind: &CustomKind) -> (&str, &str, &str) {
    let r = &kind.resource;
    (&r.group, &r.version, &r.plural)
}

fn crd_name(crd: &Value) -> String {
    crd.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn check_clashes(
    crd: &Value,
    kind: CustomKind,
    reserved: &BTreeSet<String>,
    earlier: &[CustomKind],
) -> Result<CustomKind, CrdError> {
    let path = gv_path(&kind.resource.group, &kind.resource.version);
    if reserved.contains(&path) {
        return Err(CrdError::BuiltinGroupVersion {
            crd: crd_name(crd),
            path,
        });
    }
    let same = |other: &CustomKind| {
        let (a, b) = (&other.resource, &kind.resource);
        a.group == b.group && a.version == b.version && (a.plural == b.plural || a.kind == b.kind)
    };
    if earlier.iter().any(same) {
        return Err(CrdError::Duplicate {
            crd: crd_name(crd),
            kind: kind.resource.kind,
            path,
        });
    }
    Ok(kind)
}

fn gv_path(group: &str, version: &str) -> String {
    format!("apis/{group}/{version}")
}

/// The served versions of one CRD.
fn kinds_of(crd: &Value) -> Result<Vec<CustomKind>, CrdError> {
    let text = |pointer: &str, field: &'static str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CrdError::Missing {
                crd: crd_name(crd),
                field,
            })
    };
    let group = text("/spec/group", "spec.group")?;
    let kind = text("/spec/names/kind", "spec.names.kind")?;
    let plural = text("/spec/names/plural", "spec.names.plural")?;
    let list_kind = text("/spec/names/listKind", "spec.names.listKind")
        .map(str::to_string)
        .unwrap_or_else(|_| format!("{kind}List"));
    let singular = text("/spec/names/singular", "spec.names.singular")
        .map(str::to_string)
        .unwrap_or_else(|_| kind.to_ascii_lowercase());
    let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
    let preserves_unknown = crd.pointer("/spec/preserveUnknownFields") == Some(&json!(true));
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or_else(|| CrdError::Missing {
            crd: crd_name(crd),
            field: "spec.versions",
        })?;

    let mut out = Vec::new();
    for version in versions.iter().filter(|v| v["served"] == json!(true)) {
        let name = version["name"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CrdError::Missing {
                crd: crd_name(crd),
                field: "spec.versions[].name",
            })?;
        let resource = ResourceInfo {
            group: group.to_string(),
            version: name.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: singular.clone(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            subresources: subresources(version),
            custom: None,
        };
        let kind_name = model_name(group, name, kind);
        out.push(CustomKind {
            names: KindNames {
                list: model_name(group, name, &list_kind),
                kind: kind_name,
            },
            resource,
            list_kind: list_kind.clone(),
            schema: version.pointer("/schema/openAPIV3Schema").cloned(),
            preserves_unknown,
            selectable_fields: selectable_fields(version),
        });
    }
    Ok(out)
}

fn subresources(version: &Value) -> Vec<Subresource> {
    let mut out = Vec::new();
    if version
        .pointer("/subresources/status")
        .is_some_and(Value::is_object)
    {
        out.push(Subresource::Status);
    }
    if version
        .pointer("/subresources/scale")
        .is_some_and(Value::is_object)
    {
        out.push(Subresource::Scale);
    }
    out
}

fn selectable_fields(version: &Value) -> Vec<String> {
    let Some(fields) = version["selectableFields"].as_array() else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|f| f["jsonPath"].as_str())
        .map(|path| path.trim_start_matches('.').to_string())
        .collect()
}

/// Upstream's definition name of a custom kind: the group reversed, then version and kind
/// (`stable.example.com`, `v1`, `CronTab` -> `com.example.stable.v1.CronTab`).
pub(super) fn model_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

impl CustomKind {
    /// The kind and list definitions in the given form.
    fn definitions(&self, form: Form, meta: &MetaSchemas) -> [(String, Value); 2] {
        let r = &self.resource;
        let mut kind = crd_schema::kind_schema(
            self.schema.as_ref(),
            self.preserves_unknown,
            form,
            &meta.type_meta,
        );
        self.annotate(&mut kind, &r.kind, form);

        let type_meta = json!({"properties": {
            "apiVersion": meta.type_meta.api_version,
            "kind": meta.type_meta.kind,
        }});
        let list = schemas::list_schema(&r.kind, &self.names.kind, Some(&type_meta));
        let mut list = match form {
            Form::V2 => list,
            Form::V3 => render::v3_schema(&list),
        };
        self.annotate(&mut list, &self.list_kind, form);
        [
            (self.names.kind.clone(), kind),
            (self.names.list.clone(), list),
        ]
    }

    /// Adds the kind (`x-kubernetes-group-version-kind`) and, in v3, the selectable fields.
    fn annotate(&self, schema: &mut Value, kind: &str, form: Form) {
        let Some(map) = schema.as_object_mut() else {
            return;
        };
        let r = &self.resource;
        let gvk = Gvk::new(&r.group, &r.version, kind);
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([gvk.to_value()]),
        );
        if form == Form::V3 && !self.selectable_fields.is_empty() {
            let fields: Vec<Value> = self
                .selectable_fields
                .iter()
                .map(|path| json!({"fieldPath": path}))
                .collect();
            map.insert(
                "x-kubernetes-selectable-fields".into(),
                Value::Array(fields),
            );
        }
    }
}

/// The kinds of each group-version, in order.
fn by_group_version(kinds: &[CustomKind]) -> impl Iterator<Item = &[CustomKind]> {
    kinds.chunk_by(|a, b| {
        a.resource.group == b.resource.group && a.resource.version == b.resource.version
    })
}

fn group_version(kinds: &[CustomKind]) -> Option<GroupVersion> {
    let first = kinds.first()?;
    let pairs: Vec<(&ResourceInfo, &KindNames)> =
        kinds.iter().map(|k| (&k.resource, &k.names)).collect();
    let (group, version) = (&first.resource.group, &first.resource.version);
    Some(operations::custom_group_version(
        group,
        version,
        &pairs,
        schemas::SCALE,
    ))
}

/// The OpenAPI v3 document of each custom group-version, by path (`apis/<group>/<version>`).
pub(super) fn v3_documents(kinds: &[CustomKind], meta: &MetaSchemas) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for kinds in by_group_version(kinds) {
        let Some(gv) = group_version(kinds) else {
            continue;
        };
        let own: BTreeMap<String, Value> = kinds
            .iter()
            .flat_map(|k| k.definitions(Form::V3, meta))
            .collect();
        let mut roots = render::v3_roots(&gv);
        roots.retain(|name| !own.contains_key(name));
        roots.extend([schemas::OBJECT_META.into(), schemas::LIST_META.into()]);
        let shared = render::v3_components(&meta.definitions, roots.iter().map(String::as_str));
        let components: BTreeMap<String, Value> = shared.into_iter().chain(own).collect();
        let components: Map<String, Value> = components.into_iter().collect();
        out.push((gv.path.clone(), render::v3_document_with(&gv, components)));
    }
    out
}

/// The swagger 2.0 paths and definitions of the custom resources; the definitions they
/// reference are the built-in document's.
pub(super) fn v2_parts(kinds: &[CustomKind], meta: &MetaSchemas) -> V2Parts {
    let gvs: Vec<GroupVersion> = by_group_version(kinds).filter_map(group_version).collect();
    let definitions: BTreeMap<String, Value> = kinds
        .iter()
        .flat_map(|k| k.definitions(Form::V2, meta))
        .collect();
    V2Parts {
        paths: Members::new(render::v2_paths(&gvs)),
        definitions: Members::new(definitions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn crd(group: &str, kind: &str, versions: Value) -> Value {
        let plural = format!("{}s", kind.to_ascii_lowercase());
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural},
                "versions": versions,
            },
        })
    }

    #[test]
    fn model_names_reverse_the_group() {
        assert_eq!(
            model_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
        assert_eq!(model_name("example", "v1", "A"), "example.v1.A");
    }

    #[test]
    fn only_served_versions_are_published() {
        let versions = json!([
            {"name": "v1", "served": true, "storage": true},
            {"name": "v2", "served": false, "storage": false},
        ]);
        let kinds = served_kinds(&[crd("a.example.com", "Foo", versions)], &BTreeSet::new());
        let served: Vec<&str> = kinds.iter().map(|k| k.resource.version.as_str()).collect();
        assert_eq!(served, ["v1"]);
        assert_eq!(kinds[0].names.list, "com.example.a.v1.FooList");
        assert_eq!(kinds[0].resource.singular, "foo");
    }

    #[test]
    fn malformed_and_clashing_definitions_are_left_out() {
        let v1 = json!([{"name": "v1", "served": true}]);
        let mut nameless = crd("a.example.com", "Foo", v1.clone());
        nameless["spec"]["names"]
            .as_object_mut()
            .unwrap()
            .remove("kind");
        let reserved = BTreeSet::from(["apis/apps/v1".to_string()]);
        let crds = [
            nameless,
            crd("apps", "Bar", v1.clone()),
            crd("b.example.com", "Baz", v1.clone()),
            crd("b.example.com", "Baz", v1),
        ];
        let kinds = served_kinds(&crds, &reserved);
        assert_eq!(kinds.len(), 1);
        assert_eq!(kinds[0].resource.kind, "Baz");
    }

    #[test]
    fn subresources_and_selectable_fields_follow_the_version() {
        let versions = json!([{
            "name": "v1", "served": true,
            "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas"}},
            "selectableFields": [{"jsonPath": ".spec.color"}],
        }]);
        let kinds = served_kinds(&[crd("a.example.com", "Foo", versions)], &BTreeSet::new());
        let kind = &kinds[0];
        assert_eq!(
            kind.resource.subresources,
            [Subresource::Status, Subresource::Scale]
        );
        assert_eq!(kind.selectable_fields, ["spec.color"]);
    }
}
