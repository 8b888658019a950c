//! JSON schemas of the served kinds, generated from k8s-openapi's schemars impls under
//! upstream's definition names, plus the list, watch and meta types the operations use.
//!
//! Schemas are kept in swagger 2.0 form (`#/definitions/...` references with siblings);
//! the v3 renderer rewrites them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::patch_meta;
use crate::{ResourceInfo, Subresource};

/// How swagger 2.0 references a definition; the form schemas are generated in.
pub(super) const V2_REF_PREFIX: &str = "#/definitions/";

pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub(super) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(super) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const RAW_EXTENSION: &str = "io.k8s.apimachinery.pkg.runtime.RawExtension";

/// A group, version and kind, as `x-kubernetes-group-version-kind` spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// The extension's object; explain matches it key for key against the schemas'.
    pub fn to_value(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// Definition names of one resource's kind and list.
#[derive(Clone, Debug)]
pub(super) struct KindNames {
    pub kind: String,
    pub list: String,
}

/// The definitions a set of resources needs, in swagger 2.0 form.
pub(super) struct Catalogue {
    /// Sorted by name, as upstream lists them.
    pub definitions: BTreeMap<String, Value>,
    /// Definition names per resource, in the order given; `None` for a kind without
    /// a built-in type, which gets neither schema nor operations.
    pub names: Vec<Option<KindNames>>,
    /// autoscaling/v1 Scale, always generated: custom resources may enable the scale
    /// subresource at run time and reference it from their documents.
    pub scale: Option<String>,
    /// core/v1 Binding, when a resource has the binding subresource.
    pub binding: Option<String>,
}

type Adder = fn(&mut SchemaGenerator) -> String;

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

macro_rules! adder {
    ($t:ty) => {
        add::<$t> as Adder
    };
}

fn adder_for(group: &str, version: &str, kind: &str) -> Option<Adder> {
    with_builtin_type!(group, version, kind, adder)
}

/// Whether the kind of `resource` has a built-in type, and so schemas and operations.
pub(super) fn has_builtin_type(resource: &ResourceInfo) -> bool {
    adder_for(&resource.group, &resource.version, &resource.kind).is_some()
}

impl Catalogue {
    pub fn generate(resources: &[Arc<ResourceInfo>]) -> Self {
        let mut generator = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/definitions".into();
                s.meta_schema = None;
            })
            .into_generator();
        let names: Vec<Option<KindNames>> = resources
            .iter()
            .map(|r| {
                let adder = adder_for(&r.group, &r.version, &r.kind)?;
                let kind = adder(&mut generator);
                let list = format!("{kind}List");
                Some(KindNames { kind, list })
            })
            .collect();
        for adder in [
            adder!(meta::ObjectMeta),
            adder!(meta::Status),
            adder!(meta::DeleteOptions),
            adder!(meta::Patch),
            adder!(meta::APIResourceList),
            adder!(meta::ListMeta),
            adder!(RawExtension),
        ] {
            adder(&mut generator);
        }
        let scale = adder_for("autoscaling", "v1", "Scale").map(|a| a(&mut generator));
        let binding = has_subresource(resources, Subresource::Binding)
            .then(|| adder_for("", "v1", "Binding").map(|a| a(&mut generator)))
            .flatten();

        let mut catalogue = Catalogue {
            definitions: generator.take_definitions(false).into_iter().collect(),
            names,
            scale,
            binding,
        };
        catalogue.add_lists(resources);
        catalogue.add_watch_event();
        catalogue.rewrite_special_types();
        for (name, schema) in catalogue.definitions.iter_mut() {
            patch_meta::annotate(name, schema);
        }
        catalogue.add_kind_extensions(resources);
        catalogue
    }

    fn add_lists(&mut self, resources: &[Arc<ResourceInfo>]) {
        for (r, names) in resources.iter().zip(&self.names) {
            let Some(names) = names else { continue };
            let item = self.definitions.get(&names.kind);
            let list = list_schema(&r.kind, &names.kind, item);
            self.definitions.insert(names.list.clone(), list);
        }
    }

    fn add_watch_event(&mut self) {
        let schema = json!({
            "description": "One change to a watched collection, as a watch streams it.",
            "type": "object",
            "properties": {
                "object": {
                    "description": "The object the event is about: the new state for ADDED and MODIFIED, the last state for DELETED, an object carrying only metadata.resourceVersion for BOOKMARK, a Status for ERROR.",
                    "$ref": format!("{V2_REF_PREFIX}{RAW_EXTENSION}"),
                },
                "type": {
                    "description": "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.",
                    "type": "string",
                },
            },
            "required": ["type", "object"],
        });
        self.definitions.insert(WATCH_EVENT.to_string(), schema);
    }

    /// k8s-openapi marks IntOrString and Quantity with `x-kubernetes-int-or-string`,
    /// a CRD extension; upstream's documents give them a string type instead.
    fn rewrite_special_types(&mut self) {
        if let Some(schema) = self.definitions.get_mut(INT_OR_STRING) {
            *schema = json!({
                "description": schema.get("description").cloned().unwrap_or_default(),
                "type": "string",
                "format": "int-or-string",
            });
        }
        if let Some(schema) = self.definitions.get_mut(QUANTITY) {
            *schema = json!({
                "description": schema.get("description").cloned().unwrap_or_default(),
                "type": "string",
            });
        }
    }

    fn add_kind_extensions(&mut self, resources: &[Arc<ResourceInfo>]) {
        let mut group_versions: Vec<(&str, &str)> = vec![("", "v1")];
        for (r, names) in resources.iter().zip(&self.names) {
            let Some(names) = names else { continue };
            set_gvk(
                &mut self.definitions,
                &names.kind,
                &[Gvk::new(&r.group, &r.version, &r.kind)],
            );
            let list_gvk = Gvk::new(&r.group, &r.version, &r.list_kind());
            set_gvk(&mut self.definitions, &names.list, &[list_gvk]);
            if !group_versions.contains(&(&r.group, &r.version)) {
                group_versions.push((&r.group, &r.version));
            }
        }

        // Every group-version accepts DeleteOptions and streams WatchEvents.
        for kind in ["DeleteOptions", "WatchEvent"] {
            let gvks: Vec<Gvk> = group_versions
                .iter()
                .map(|(g, v)| Gvk::new(g, v, kind))
                .collect();
            let name = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}");
            set_gvk(&mut self.definitions, &name, &gvks);
        }
        set_gvk(
            &mut self.definitions,
            STATUS,
            &[Gvk::new("", "v1", "Status")],
        );
        set_gvk(
            &mut self.definitions,
            API_RESOURCE_LIST,
            &[Gvk::new("", "v1", "APIResourceList")],
        );
        if let Some(scale) = self.scale.clone() {
            set_gvk(
                &mut self.definitions,
                &scale,
                &[Gvk::new("autoscaling", "v1", "Scale")],
            );
        }
        if let Some(binding) = self.binding.clone() {
            set_gvk(
                &mut self.definitions,
                &binding,
                &[Gvk::new("", "v1", "Binding")],
            );
        }
    }

    /// The names of `roots` and of every definition they reference, transitively.
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        closure(&self.definitions, roots)
    }

    /// The definitions the documents of custom resources reference: object and list
    /// metadata, Status, DeleteOptions, Patch and Scale, with everything they reach.
    pub fn custom_resource_meta(&self) -> BTreeMap<String, Value> {
        let roots = [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH, SCALE];
        self.closure(roots)
            .into_iter()
            .filter_map(|name| {
                let schema = self.definitions.get(&name)?.clone();
                Some((name, schema))
            })
            .collect()
    }
}

/// The names of `roots` and of every definition of `definitions` they reference,
/// transitively; roots that are not in `definitions` are left out.
pub(super) fn closure<'a>(
    definitions: &BTreeMap<String, Value>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().map(str::to_string).collect();
    while let Some(name) = pending.pop() {
        let Some(schema) = definitions.get(&name) else {
            continue;
        };
        if seen.insert(name) {
            collect_refs(schema, &mut pending);
        }
    }
    seen
}

fn set_gvk(definitions: &mut BTreeMap<String, Value>, definition: &str, gvks: &[Gvk]) {
    if let Some(Value::Object(schema)) = definitions.get_mut(definition) {
        let values = gvks.iter().map(Gvk::to_value).collect();
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            Value::Array(values),
        );
    }
}

fn has_subresource(resources: &[Arc<ResourceInfo>], sub: Subresource) -> bool {
    resources.iter().any(|r| r.has_subresource(sub))
}

/// A `<Kind>List`: k8s-openapi has no schema for its generic `List<T>`.
pub(super) fn list_schema(kind: &str, item: &str, item_schema: Option<&Value>) -> Value {
    let type_meta = |field: &str| {
        item_schema
            .and_then(|s| s.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    json!({
        "description": format!("A list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": type_meta("apiVersion"),
            "items": {
                "description": format!("The {kind} objects."),
                "type": "array",
                "items": {"$ref": format!("{V2_REF_PREFIX}{item}")},
            },
            "kind": type_meta("kind"),
            "metadata": {
                "description": "List metadata: the resourceVersion of the list and the continue token of a limited list.",
                "$ref": format!("{V2_REF_PREFIX}{LIST_META}"),
            },
        },
        "required": ["items"],
    })
}

/// Pushes the definition names of every `$ref` inside `schema`.
pub(super) fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(V2_REF_PREFIX))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// A `$ref` schema in swagger 2.0 form.
pub(super) fn v2_ref(name: &str) -> Value {
    let mut map = Map::new();
    map.insert("$ref".into(), format!("{V2_REF_PREFIX}{name}").into());
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;

    #[test]
    fn every_builtin_resource_gets_a_kind_and_list_definition() {
        let resources = builtin_resources();
        let catalogue = Catalogue::generate(&resources);
        for (r, names) in resources.iter().zip(&catalogue.names) {
            let names = names.as_ref().unwrap();
            let kind = &catalogue.definitions[&names.kind];
            assert_eq!(
                kind["x-kubernetes-group-version-kind"][0],
                json!({"group": r.group, "kind": r.kind, "version": r.version})
            );
            let list = &catalogue.definitions[&names.list];
            assert_eq!(
                list["x-kubernetes-group-version-kind"][0]["kind"],
                r.list_kind()
            );
        }
        assert_eq!(
            catalogue.names[1].as_ref().unwrap().list,
            "io.k8s.api.core.v1.PodList"
        );
    }

    #[test]
    fn int_or_string_and_quantity_are_typed_strings() {
        let catalogue = Catalogue::generate(&builtin_resources());
        let int_or_string = &catalogue.definitions[INT_OR_STRING];
        assert_eq!(int_or_string["format"], "int-or-string");
        assert!(int_or_string.get("x-kubernetes-int-or-string").is_none());
        assert_eq!(catalogue.definitions[QUANTITY]["type"], "string");
    }

    #[test]
    fn closure_follows_references_transitively() {
        let catalogue = Catalogue::generate(&builtin_resources());
        let names = catalogue.closure(["io.k8s.api.core.v1.PodList"]);
        assert!(names.contains("io.k8s.api.core.v1.Pod"));
        assert!(names.contains("io.k8s.api.core.v1.Container"));
        assert!(names.contains(QUANTITY));
        assert!(!names.contains("io.k8s.api.apps.v1.Deployment"));
    }

    #[test]
    fn unknown_kinds_get_no_definitions() {
        let mut widget = (*builtin_resources()[0]).clone();
        widget.group = "example.com".into();
        widget.kind = "Widget".into();
        let catalogue = Catalogue::generate(&[Arc::new(widget)]);
        assert!(catalogue.names[0].is_none());
        assert!(catalogue.definitions.contains_key(STATUS));
    }
}
