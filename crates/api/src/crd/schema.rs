//! The schema of one custom resource version, parsed from its `openAPIV3Schema` into an
//! owned tree that pruning, defaulting, validation and server-side apply read.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::structural;
use crate::validation::FieldError;

/// One `x-kubernetes-validations` rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidationRule {
    pub rule: String,
    pub message: String,
    pub message_expression: String,
    pub reason: Option<String>,
    pub field_path: String,
    pub optional_old_self: Option<bool>,
    /// The rule as written, for error values.
    pub raw: Value,
}

/// `additionalProperties`: a bare boolean or a schema for every map value.
#[derive(Clone, Debug, PartialEq)]
pub enum AdditionalProperties {
    Allows(bool),
    Schema(Box<StructuralSchema>),
}

/// The schema of a node of a custom resource. The root of a version's schema is one, and
/// so is every property, item, map value and `allOf`/`anyOf`/`oneOf`/`not` branch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StructuralSchema {
    pub(crate) type_: String,
    pub(crate) format: String,
    pub(crate) description: String,
    pub(crate) title: String,
    pub(crate) nullable: bool,
    pub(crate) default: Option<Value>,
    pub(crate) properties: BTreeMap<String, StructuralSchema>,
    pub(crate) items: Option<Box<StructuralSchema>>,
    pub(crate) items_is_array: bool,
    pub(crate) additional_properties: Option<AdditionalProperties>,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_maximum: bool,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_minimum: bool,
    pub(crate) max_length: Option<i64>,
    pub(crate) min_length: Option<i64>,
    pub(crate) pattern: String,
    pub(crate) max_items: Option<i64>,
    pub(crate) min_items: Option<i64>,
    pub(crate) unique_items: bool,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) enum_: Option<Vec<Value>>,
    pub(crate) max_properties: Option<i64>,
    pub(crate) min_properties: Option<i64>,
    pub(crate) required: Vec<String>,
    pub(crate) all_of: Vec<StructuralSchema>,
    pub(crate) any_of: Vec<StructuralSchema>,
    pub(crate) one_of: Vec<StructuralSchema>,
    pub(crate) not: Option<Box<StructuralSchema>>,
    /// `x-kubernetes-preserve-unknown-fields` as written (`false` is rejected).
    pub(crate) preserve_unknown_fields: Option<bool>,
    pub(crate) embedded_resource: bool,
    pub(crate) int_or_string: bool,
    pub(crate) list_type: Option<String>,
    pub(crate) list_map_keys: Vec<String>,
    /// `list_map_keys` with each key's default, as server-side apply matches items.
    pub(crate) list_keys: Vec<crate::apply::ListKey>,
    pub(crate) map_type: Option<String>,
    pub(crate) validations: Vec<ValidationRule>,
    /// JSON Schema keywords CRDs do not support that this node sets (`id`, `$ref`...).
    pub(crate) unsupported: Vec<&'static str>,
    /// The node as written.
    pub(crate) raw: Value,
}

/// The schema is not structural; each cause names one violation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("schema is not structural: {}", causes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
pub struct NotStructural {
    pub causes: Vec<FieldError>,
}

impl StructuralSchema {
    /// Parses a version's `openAPIV3Schema` and checks that it is structural; the causes
    /// carry paths relative to `openAPIV3Schema`.
    pub fn parse(schema: &Value) -> Result<StructuralSchema, NotStructural> {
        let parsed = StructuralSchema::parse_unchecked(schema);
        let causes = structural::validate_structural("openAPIV3Schema", &parsed);
        if causes.is_empty() {
            Ok(parsed)
        } else {
            Err(NotStructural { causes })
        }
    }

    /// Parses a schema without checking it, reading leniently: fields of the wrong JSON
    /// type count as unset.
    pub fn parse_unchecked(schema: &Value) -> StructuralSchema {
        let empty = Map::new();
        let m = schema.as_object().unwrap_or(&empty);
        let mut s = StructuralSchema {
            raw: schema.clone(),
            ..Default::default()
        };
        read_generic(m, &mut s);
        read_value_validation(m, &mut s);
        read_extensions(m, &mut s);
        read_children(m, &mut s);
        s.list_keys = s
            .list_map_keys
            .iter()
            .map(|name| crate::apply::ListKey {
                name: name.clone(),
                default: s
                    .items
                    .as_ref()
                    .and_then(|i| i.properties.get(name))
                    .and_then(|p| p.default.clone()),
            })
            .collect();
        s
    }

    /// `type`, empty when unset.
    pub fn type_(&self) -> &str {
        &self.type_
    }

    /// `format`, empty when unset.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// `description`, empty when unset.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `nullable`.
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// `default`; a `null` default counts as none, as upstream converts it.
    pub fn default_value(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    /// `properties`, sorted by name.
    pub fn properties(&self) -> &BTreeMap<String, StructuralSchema> {
        &self.properties
    }

    /// One property's schema.
    pub fn property(&self, name: &str) -> Option<&StructuralSchema> {
        self.properties.get(name)
    }

    /// `items`.
    pub fn items(&self) -> Option<&StructuralSchema> {
        self.items.as_deref()
    }

    /// `additionalProperties` as written.
    pub fn additional_properties(&self) -> Option<&AdditionalProperties> {
        self.additional_properties.as_ref()
    }

    /// The schema of map values, when `additionalProperties` is a schema.
    pub fn additional_properties_schema(&self) -> Option<&StructuralSchema> {
        match &self.additional_properties {
            Some(AdditionalProperties::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The schema of the value under `key` of an object: its property, or the map value
    /// schema.
    pub fn child(&self, key: &str) -> Option<&StructuralSchema> {
        self.properties
            .get(key)
            .or_else(|| self.additional_properties_schema())
    }

    /// `required`.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// `x-kubernetes-preserve-unknown-fields: true`.
    pub fn preserve_unknown_fields(&self) -> bool {
        self.preserve_unknown_fields == Some(true)
    }

    /// `x-kubernetes-int-or-string: true`.
    pub fn int_or_string(&self) -> bool {
        self.int_or_string
    }

    /// `x-kubernetes-embedded-resource: true`.
    pub fn embedded_resource(&self) -> bool {
        self.embedded_resource
    }

    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub fn list_type(&self) -> Option<&str> {
        self.list_type.as_deref()
    }

    /// `x-kubernetes-list-map-keys`.
    pub fn list_map_keys(&self) -> &[String] {
        &self.list_map_keys
    }

    /// `x-kubernetes-map-type` (`atomic`, `granular`).
    pub fn map_type(&self) -> Option<&str> {
        self.map_type.as_deref()
    }

    /// `x-kubernetes-validations`.
    pub fn validations(&self) -> &[ValidationRule] {
        &self.validations
    }

    /// `enum`.
    pub fn enum_values(&self) -> Option<&[Value]> {
        self.enum_.as_deref()
    }

    /// `allOf`.
    pub fn all_of(&self) -> &[StructuralSchema] {
        &self.all_of
    }

    /// `anyOf`.
    pub fn any_of(&self) -> &[StructuralSchema] {
        &self.any_of
    }

    /// `oneOf`.
    pub fn one_of(&self) -> &[StructuralSchema] {
        &self.one_of
    }

    /// `not`.
    pub fn not(&self) -> Option<&StructuralSchema> {
        self.not.as_deref()
    }

    /// The node as written in the CRD.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// Whether this node or one below it has `x-kubernetes-validations`.
    pub fn has_validations(&self) -> bool {
        !self.validations.is_empty()
            || self.items().is_some_and(StructuralSchema::has_validations)
            || self
                .additional_properties_schema()
                .is_some_and(StructuralSchema::has_validations)
            || self
                .properties
                .values()
                .any(StructuralSchema::has_validations)
    }
}

fn str_field(m: &Map<String, Value>, key: &str) -> String {
    m.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn bool_field(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int_field(m: &Map<String, Value>, key: &str) -> Option<i64> {
    m.get(key).and_then(Value::as_i64)
}

fn float_field(m: &Map<String, Value>, key: &str) -> Option<f64> {
    m.get(key).and_then(Value::as_f64)
}

fn strings_field(m: &Map<String, Value>, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn read_generic(m: &Map<String, Value>, s: &mut StructuralSchema) {
    s.type_ = str_field(m, "type");
    s.format = str_field(m, "format");
    s.description = str_field(m, "description");
    s.title = str_field(m, "title");
    s.nullable = bool_field(m, "nullable");
    s.default = m.get("default").filter(|d| !d.is_null()).cloned();
}

fn read_value_validation(m: &Map<String, Value>, s: &mut StructuralSchema) {
    s.maximum = float_field(m, "maximum");
    s.exclusive_maximum = bool_field(m, "exclusiveMaximum");
    s.minimum = float_field(m, "minimum");
    s.exclusive_minimum = bool_field(m, "exclusiveMinimum");
    s.max_length = int_field(m, "maxLength");
    s.min_length = int_field(m, "minLength");
    s.pattern = str_field(m, "pattern");
    s.max_items = int_field(m, "maxItems");
    s.min_items = int_field(m, "minItems");
    s.unique_items = bool_field(m, "uniqueItems");
    s.multiple_of = float_field(m, "multipleOf");
    s.enum_ = m.get("enum").and_then(Value::as_array).cloned();
    s.max_properties = int_field(m, "maxProperties");
    s.min_properties = int_field(m, "minProperties");
    s.required = strings_field(m, "required");
}

fn read_extensions(m: &Map<String, Value>, s: &mut StructuralSchema) {
    s.preserve_unknown_fields = m
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool);
    s.embedded_resource = bool_field(m, "x-kubernetes-embedded-resource");
    s.int_or_string = bool_field(m, "x-kubernetes-int-or-string");
    s.list_type = m
        .get("x-kubernetes-list-type")
        .and_then(Value::as_str)
        .map(String::from);
    s.list_map_keys = strings_field(m, "x-kubernetes-list-map-keys");
    s.map_type = m
        .get("x-kubernetes-map-type")
        .and_then(Value::as_str)
        .map(String::from);
    s.validations = m
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().map(read_rule).collect())
        .unwrap_or_default();
    for (key, name) in [
        ("id", "id"),
        ("$schema", "schema"),
        ("$ref", "$ref"),
        ("patternProperties", "patternProperties"),
        ("dependencies", "dependencies"),
        ("additionalItems", "additionalItems"),
        ("definitions", "definitions"),
    ] {
        if m.get(key).is_some_and(|v| !is_zero(v)) {
            s.unsupported.push(name);
        }
    }
}

fn read_rule(v: &Value) -> ValidationRule {
    let empty = Map::new();
    let m = v.as_object().unwrap_or(&empty);
    ValidationRule {
        rule: str_field(m, "rule"),
        message: str_field(m, "message"),
        message_expression: str_field(m, "messageExpression"),
        reason: m.get("reason").and_then(Value::as_str).map(String::from),
        field_path: str_field(m, "fieldPath"),
        optional_old_self: m.get("optionalOldSelf").and_then(Value::as_bool),
        raw: v.clone(),
    }
}

fn read_children(m: &Map<String, Value>, s: &mut StructuralSchema) {
    match m.get("items") {
        Some(Value::Array(_)) => s.items_is_array = true,
        Some(items @ Value::Object(_)) => {
            s.items = Some(Box::new(StructuralSchema::parse_unchecked(items)))
        }
        _ => {}
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            s.properties
                .insert(k.clone(), StructuralSchema::parse_unchecked(v));
        }
    }
    s.additional_properties = match m.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(AdditionalProperties::Allows(*b)),
        Some(v @ Value::Object(_)) => Some(AdditionalProperties::Schema(Box::new(
            StructuralSchema::parse_unchecked(v),
        ))),
        _ => None,
    };
    let list = |key: &str| -> Vec<StructuralSchema> {
        m.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(StructuralSchema::parse_unchecked).collect())
            .unwrap_or_default()
    };
    s.all_of = list("allOf");
    s.any_of = list("anyOf");
    s.one_of = list("oneOf");
    s.not = m
        .get("not")
        .filter(|v| v.is_object())
        .map(|v| Box::new(StructuralSchema::parse_unchecked(v)));
}

/// Go's zero values as JSON: false, 0, "", [], {} and null.
pub(crate) fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parsing_reads_properties_items_and_extensions() {
        let s = StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {"name": {"type": "string"}}}
                        },
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                }
            }
        }));
        let spec = s.property("spec").expect("spec");
        let ports = spec.property("ports").expect("ports");
        assert_eq!(ports.list_type(), Some("map"));
        assert_eq!(ports.list_map_keys(), ["name".to_string()]);
        assert_eq!(ports.items().map(StructuralSchema::type_), Some("object"));
        let labels = spec.property("labels").expect("labels");
        assert_eq!(
            labels
                .additional_properties_schema()
                .map(StructuralSchema::type_),
            Some("string")
        );
    }

    #[test]
    fn a_null_default_counts_as_no_default() {
        let s = StructuralSchema::parse_unchecked(&json!({"type": "string", "default": null}));
        assert!(s.default_value().is_none());
    }
}
