//! What a CustomResourceDefinition declares, read from its JSON: group, names, scope,
//! versions with their schemas, subresources, printer columns and selectable fields.

use serde_json::Value;

use super::schema::{NotStructural, StructuralSchema};
use crate::validation::FieldError;

/// `spec.names` (or `status.acceptedNames`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrdNames {
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
}

/// The scale subresource's paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleSubresource {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// A version's subresources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subresources {
    pub status: bool,
    pub scale: Option<ScaleSubresource>,
}

/// One `additionalPrinterColumns` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// One entry of `spec.versions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrdVersion {
    pub name: String,
    pub served: bool,
    pub storage: bool,
    pub deprecated: bool,
    pub deprecation_warning: Option<String>,
    /// `schema.openAPIV3Schema` as written.
    pub schema: Option<Value>,
    pub subresources: Subresources,
    pub additional_printer_columns: Vec<PrinterColumn>,
    /// The `jsonPath` of each selectable field.
    pub selectable_fields: Vec<String>,
}

/// A CustomResourceDefinition's declarations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrdInfo {
    /// `metadata.name`.
    pub name: String,
    pub group: String,
    pub names: CrdNames,
    /// `Namespaced` or `Cluster`.
    pub scope: String,
    pub versions: Vec<CrdVersion>,
    /// `spec.conversion.strategy`, `None` when unset.
    pub conversion_strategy: String,
    pub preserve_unknown_fields: bool,
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

impl CrdNames {
    /// Reads `spec.names` or `status.acceptedNames`.
    pub fn from_value(v: &Value) -> CrdNames {
        CrdNames {
            plural: s(v, "plural"),
            singular: s(v, "singular"),
            kind: s(v, "kind"),
            list_kind: s(v, "listKind"),
            short_names: strings(v, "shortNames"),
            categories: strings(v, "categories"),
        }
    }

    /// The names as JSON, omitting empty fields as upstream serializes them.
    pub fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                m.insert(k.to_string(), Value::from(v));
            }
        };
        put("plural", &self.plural);
        put("singular", &self.singular);
        put("kind", &self.kind);
        put("listKind", &self.list_kind);
        if !self.short_names.is_empty() {
            m.insert("shortNames".into(), Value::from(self.short_names.clone()));
        }
        if !self.categories.is_empty() {
            m.insert("categories".into(), Value::from(self.categories.clone()));
        }
        Value::Object(m)
    }
}

impl Subresources {
    fn from_value(v: Option<&Value>) -> Subresources {
        let Some(v) = v else {
            return Subresources::default();
        };
        Subresources {
            status: v.get("status").is_some_and(|s| !s.is_null()),
            scale: v
                .get("scale")
                .filter(|s| s.is_object())
                .map(|sc| ScaleSubresource {
                    spec_replicas_path: s(sc, "specReplicasPath"),
                    status_replicas_path: s(sc, "statusReplicasPath"),
                    label_selector_path: sc
                        .get("labelSelectorPath")
                        .and_then(Value::as_str)
                        .map(String::from),
                }),
        }
    }
}

impl PrinterColumn {
    fn from_value(v: &Value) -> PrinterColumn {
        PrinterColumn {
            name: s(v, "name"),
            type_: s(v, "type"),
            format: s(v, "format"),
            description: s(v, "description"),
            priority: v.get("priority").and_then(Value::as_i64).unwrap_or(0),
            json_path: s(v, "jsonPath"),
        }
    }
}

impl CrdVersion {
    fn from_value(v: &Value) -> CrdVersion {
        CrdVersion {
            name: s(v, "name"),
            served: v.get("served").and_then(Value::as_bool).unwrap_or(false),
            storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
            deprecated: v
                .get("deprecated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            deprecation_warning: v
                .get("deprecationWarning")
                .and_then(Value::as_str)
                .map(String::from),
            schema: v
                .pointer("/schema/openAPIV3Schema")
                .filter(|s| !s.is_null())
                .cloned(),
            subresources: Subresources::from_value(v.get("subresources")),
            additional_printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(PrinterColumn::from_value).collect())
                .unwrap_or_default(),
            selectable_fields: v
                .get("selectableFields")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|f| s(f, "jsonPath")).collect())
                .unwrap_or_default(),
        }
    }

    /// The version's structural schema; `None` when it has none.
    pub fn structural_schema(&self) -> Option<Result<StructuralSchema, NotStructural>> {
        self.schema.as_ref().map(StructuralSchema::parse)
    }
}

impl CrdInfo {
    /// Reads a CRD leniently: fields of the wrong JSON type count as unset.
    pub fn from_value(crd: &Value) -> CrdInfo {
        let spec = crd.get("spec").unwrap_or(&Value::Null);
        let strategy = spec
            .pointer("/conversion/strategy")
            .and_then(Value::as_str)
            .unwrap_or("None");
        CrdInfo {
            name: crd
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            group: s(spec, "group"),
            names: CrdNames::from_value(spec.get("names").unwrap_or(&Value::Null)),
            scope: s(spec, "scope"),
            versions: spec
                .get("versions")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(CrdVersion::from_value).collect())
                .unwrap_or_default(),
            conversion_strategy: strategy.to_string(),
            preserve_unknown_fields: spec
                .get("preserveUnknownFields")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// Whether objects live in namespaces.
    pub fn namespaced(&self) -> bool {
        self.scope == "Namespaced"
    }

    /// The version objects are stored in.
    pub fn storage_version(&self) -> Option<&CrdVersion> {
        self.versions.iter().find(|v| v.storage)
    }

    /// One version by name.
    pub fn version(&self, name: &str) -> Option<&CrdVersion> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// The versions the API serves.
    pub fn served_versions(&self) -> impl Iterator<Item = &CrdVersion> {
        self.versions.iter().filter(|v| v.served)
    }

    /// `kind` and `apiVersion` of an object must be those of `version`
    /// (`kind: Invalid value: "Other": must be Widget`).
    pub fn validate_type_meta(&self, obj: &Value, version: &str) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind != self.names.kind {
            errs.push(FieldError::invalid(
                "kind",
                kind,
                &format!("must be {}", self.names.kind),
            ));
        }
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let expected = format!("{}/{}", self.group, version);
        if api_version != expected {
            errs.push(FieldError::invalid(
                "apiVersion",
                api_version,
                &format!("must be {expected}"),
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_subresources_and_columns_are_read() {
        let info = CrdInfo::from_value(&json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
                }]
            }
        }));
        assert!(info.namespaced());
        assert_eq!(info.names.short_names, vec!["wd"]);
        let v = info.storage_version().expect("storage version");
        assert!(v.subresources.status);
        assert_eq!(
            v.subresources
                .scale
                .as_ref()
                .map(|s| s.spec_replicas_path.as_str()),
            Some(".spec.replicas")
        );
        assert_eq!(v.additional_printer_columns[0].json_path, ".spec.size");
        assert_eq!(info.conversion_strategy, "None");
        assert!(v.structural_schema().is_some_and(|s| s.is_ok()));
    }
}
