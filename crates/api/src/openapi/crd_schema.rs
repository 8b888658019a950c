//! The schema of a custom resource as upstream publishes it: the structural part of the
//! CRD version's `openAPIV3Schema`, with int-or-string fields unfolded, the object
//! metadata and type fields added, and for swagger 2.0 the OpenAPI v3 constructs that
//! kubectl's older validation cannot read taken out.

use serde_json::{Map, Value, json};

use super::render::V3_REF_PREFIX;
use super::schemas::{OBJECT_META, V2_REF_PREFIX};

const PRESERVE_UNKNOWN: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

const METADATA_DESCRIPTION: &str = "Metadata of the object: name, namespace, labels, annotations and the fields the server maintains.";

/// Which OpenAPI version a schema is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    V2,
    V3,
}

impl Form {
    /// A described reference to a definition. OpenAPI v3 ignores the siblings of `$ref`,
    /// so there the reference is wrapped in `allOf`, as the built-in documents do.
    pub fn reference(self, name: &str, description: &str) -> Value {
        match self {
            Form::V2 => json!({
                "description": description,
                "$ref": format!("{V2_REF_PREFIX}{name}"),
            }),
            Form::V3 => json!({
                "allOf": [{"$ref": format!("{V3_REF_PREFIX}{name}")}],
                "description": description,
            }),
        }
    }
}

/// The `apiVersion` and `kind` property schemas of every kind (upstream's TypeMeta).
#[derive(Clone, Debug)]
pub(super) struct TypeMeta {
    pub api_version: Value,
    pub kind: Value,
}

/// The published schema of one version of a custom kind. `schema` is the version's
/// `openAPIV3Schema`; `crd_preserves_unknown` is `spec.preserveUnknownFields`.
pub(super) fn kind_schema(
    schema: Option<&Value>,
    crd_preserves_unknown: bool,
    form: Form,
    type_meta: &TypeMeta,
) -> Value {
    let Some(schema) = schema else {
        return json!({"type": "object"});
    };
    // kubectl's swagger 2.0 validation rejects every field a schema does not list, so
    // a schema that keeps unknown fields is published as an open object.
    if form == Form::V2 && (crd_preserves_unknown || is_true(schema.get(PRESERVE_UNKNOWN))) {
        return json!({"type": "object"});
    }

    let mut schema = structural(schema, false);
    unfold_int_or_string(&mut schema);
    if form == Form::V2 {
        to_v2(&mut schema);
        prune_defaults(&mut schema);
    }

    let metadata = form.reference(OBJECT_META, METADATA_DESCRIPTION);
    set_property(&mut schema, "metadata", metadata);
    set_property(&mut schema, "apiVersion", type_meta.api_version.clone());
    set_property(&mut schema, "kind", type_meta.kind.clone());
    add_embedded_properties(&mut schema, form, type_meta);
    schema
}

/// The members of a schema that upstream's structural schema keeps, converted
/// recursively; everything else (`example`, `externalDocs`, `$schema`, `id`, ...) is
/// dropped. `nested` marks value validations inside `allOf`, `anyOf`, `oneOf` and `not`,
/// which carry no `additionalProperties`.
fn structural(schema: &Value, nested: bool) -> Value {
    let mut out = Map::new();
    if let Some(members) = schema.as_object() {
        for (key, value) in members {
            if let Some(converted) = structural_member(key, value, nested) {
                out.insert(key.clone(), converted);
            }
        }
    }
    Value::Object(out)
}

fn structural_member(key: &str, value: &Value, nested: bool) -> Option<Value> {
    match key {
        "items" => value.is_object().then(|| structural(value, nested)),
        "not" => value.is_object().then(|| structural(value, true)),
        "properties" => {
            let mut properties: Vec<(&String, &Value)> = value.as_object()?.iter().collect();
            properties.sort_by(|a, b| a.0.cmp(b.0));
            let converted = properties
                .into_iter()
                .map(|(name, schema)| (name.clone(), structural(schema, nested)))
                .collect();
            Some(Value::Object(converted))
        }
        "allOf" | "anyOf" | "oneOf" => {
            let items = non_empty_array(value)?;
            Some(items.iter().map(|s| structural(s, true)).collect())
        }
        "additionalProperties" if !nested => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::Object(_) => Some(structural(value, false)),
            _ => None,
        },
        "nullable" | "uniqueItems" | "exclusiveMaximum" | "exclusiveMinimum" | PRESERVE_UNKNOWN
        | EMBEDDED | INT_OR_STRING => is_true(Some(value)).then_some(true.into()),
        "required" | "enum" | "x-kubernetes-list-map-keys" | "x-kubernetes-validations" => {
            non_empty_array(value).map(|_| value.clone())
        }
        "type" | "format" | "title" | "description" | "pattern" => value
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|_| value.clone()),
        "x-kubernetes-list-type" | "x-kubernetes-map-type" => {
            value.is_string().then(|| value.clone())
        }
        "default" => (!value.is_null()).then(|| value.clone()),
        "maximum" | "minimum" | "multipleOf" | "maxLength" | "minLength" | "maxItems"
        | "minItems" | "maxProperties" | "minProperties" => {
            value.is_number().then(|| value.clone())
        }
        _ => None,
    }
}

fn non_empty_array(value: &Value) -> Option<&Vec<Value>> {
    value.as_array().filter(|items| !items.is_empty())
}

fn is_true(value: Option<&Value>) -> bool {
    value == Some(&Value::Bool(true))
}

fn int_or_string_any_of() -> Value {
    json!([{"type": "integer"}, {"type": "string"}])
}

/// Spells out `x-kubernetes-int-or-string` as the `anyOf` of an integer and a string,
/// unless the schema already says so, as upstream's Unfold does.
fn unfold_int_or_string(schema: &mut Value) {
    for_each_child(schema, unfold_int_or_string);
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if !is_true(map.get(INT_OR_STRING)) {
        return;
    }
    let pattern = int_or_string_any_of();
    let first_all_of = map
        .get("allOf")
        .and_then(|a| a.get(0))
        .and_then(|s| s.get("anyOf"));
    if map.get("anyOf") == Some(&pattern) || first_all_of == Some(&pattern) {
        return;
    }
    if !map.contains_key("anyOf") {
        map.insert("anyOf".into(), pattern);
        return;
    }
    let mut all_of = vec![json!({"anyOf": pattern})];
    if let Some(Value::Array(rest)) = map.remove("allOf") {
        all_of.extend(rest);
    }
    map.insert("allOf".into(), Value::Array(all_of));
}

/// Upstream's conversion to swagger 2.0 (ToStructuralOpenAPIV2): no junctors, nullable
/// values become untyped, fields that keep unknown members lose their item and property
/// schemas, and nullable properties are no longer required.
fn to_v2(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    for junctor in ["allOf", "anyOf", "oneOf", "not"] {
        map.remove(junctor);
    }
    if is_true(map.get("nullable")) {
        for key in ["type", "nullable", "items", "properties"] {
            map.remove(key);
        }
    }
    let preserves = is_true(map.get(PRESERVE_UNKNOWN));
    if preserves {
        map.remove("items");
        map.remove("properties");
    }
    let ty = map.get("type").and_then(Value::as_str);
    if (ty == Some("array") && !map.contains_key("items")) || (preserves && ty == Some("object")) {
        map.remove("type");
    }
    drop_nullable_from_required(map);
    for_each_child(schema, to_v2);
}

fn drop_nullable_from_required(map: &mut Map<String, Value>) {
    let nullable = |s: &Value| is_true(s.get("nullable"));
    if map.get("additionalProperties").is_some_and(nullable) {
        map.remove("required");
        return;
    }
    let Some(properties) = map.get("properties").and_then(Value::as_object) else {
        return;
    };
    let nullable_names: Vec<String> = properties
        .iter()
        .filter(|(_, s)| nullable(s))
        .map(|(name, _)| name.clone())
        .collect();
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.retain(|name| {
            !nullable_names
                .iter()
                .any(|n| Some(n.as_str()) == name.as_str())
        });
        if required.is_empty() {
            map.remove("required");
        }
    }
}

/// The swagger 2.0 document carries no defaults, as upstream prunes them.
fn prune_defaults(schema: &mut Value) {
    if let Some(map) = schema.as_object_mut() {
        map.remove("default");
    }
    for_each_child(schema, prune_defaults);
}

/// Gives every embedded resource (`x-kubernetes-embedded-resource`) the apiVersion,
/// kind and metadata properties, and requires apiVersion and kind. Swagger 2.0 leaves out
/// embedded resources that keep unknown fields, whose properties kubectl would enforce.
fn add_embedded_properties(schema: &mut Value, form: Form, type_meta: &TypeMeta) {
    for_each_child(schema, |child| {
        add_embedded_properties(child, form, type_meta)
    });
    let Some(map) = schema.as_object() else {
        return;
    };
    if (form == Form::V2 && is_true(map.get(PRESERVE_UNKNOWN))) || !is_true(map.get(EMBEDDED)) {
        return;
    }
    set_property(schema, "apiVersion", type_meta.api_version.clone());
    set_property(schema, "kind", type_meta.kind.clone());
    let metadata = form.reference(OBJECT_META, METADATA_DESCRIPTION);
    set_property(schema, "metadata", metadata);
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let required = map.entry("required").or_insert_with(|| json!([]));
    if let Value::Array(required) = required {
        for name in ["kind", "apiVersion"] {
            if !required.iter().any(|r| r == name) {
                required.push(name.into());
            }
        }
    }
}

/// Sets one property, keeping the properties sorted by name.
fn set_property(schema: &mut Value, name: &str, property: Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let properties = map.entry("properties").or_insert_with(|| json!({}));
    let Value::Object(properties) = properties else {
        return;
    };
    properties.insert(name.to_string(), property);
    let mut sorted: Vec<(String, Value)> = std::mem::take(properties).into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    properties.extend(sorted);
}

/// Calls `f` on the structural children of a schema: its property, item and
/// additional-property schemas (not the value validations inside junctors).
fn for_each_child(schema: &mut Value, mut f: impl FnMut(&mut Value)) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(&mut f);
    }
    if let Some(items @ Value::Object(_)) = map.get_mut("items") {
        f(items);
    }
    if let Some(additional @ Value::Object(_)) = map.get_mut("additionalProperties") {
        f(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_meta() -> TypeMeta {
        TypeMeta {
            api_version: json!({"type": "string", "description": "version"}),
            kind: json!({"type": "string", "description": "kind"}),
        }
    }

    fn publish(schema: Value, form: Form) -> Value {
        kind_schema(Some(&schema), false, form, &type_meta())
    }

    fn cron_tab() -> Value {
        json!({
            "type": "object",
            "example": {"spec": {}},
            "properties": {
                "status": {"type": "object", "nullable": true, "properties": {"x": {"type": "string"}}},
                "spec": {
                    "type": "object",
                    "required": ["cronSpec", "image"],
                    "properties": {
                        "replicas": {"type": "integer", "default": 1, "minimum": 0},
                        "image": {"type": "string", "nullable": true},
                        "cronSpec": {"type": "string", "pattern": "^\\S+$"},
                        "port": {"x-kubernetes-int-or-string": true},
                        "mode": {"type": "string", "oneOf": [{"enum": ["a"]}, {"enum": ["b"]}]},
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                        },
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {"known": {"type": "string"}}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                            "x-kubernetes-preserve-unknown-fields": true},
                    },
                },
            },
        })
    }

    #[test]
    fn the_root_gets_metadata_api_version_and_kind_in_sorted_order() {
        let schema = publish(cron_tab(), Form::V3);
        let names: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["apiVersion", "kind", "metadata", "spec", "status"]);
        assert_eq!(
            schema["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(schema.get("example").is_none());
        let v2 = publish(cron_tab(), Form::V2);
        assert_eq!(
            v2["properties"]["metadata"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
    }

    #[test]
    fn v3_keeps_nullable_defaults_junctors_and_list_extensions() {
        let spec = &publish(cron_tab(), Form::V3)["properties"]["spec"];
        assert_eq!(spec["properties"]["image"]["nullable"], true);
        assert_eq!(spec["required"], json!(["cronSpec", "image"]));
        assert_eq!(spec["properties"]["replicas"]["default"], 1);
        assert_eq!(
            spec["properties"]["mode"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            spec["properties"]["ports"]["x-kubernetes-list-map-keys"],
            json!(["name"])
        );
        assert_eq!(spec["properties"]["ports"]["x-kubernetes-list-type"], "map");
        assert_eq!(spec["properties"]["port"]["anyOf"], int_or_string_any_of());
        assert_eq!(
            spec["properties"]["extra"]["properties"]["known"]["type"],
            "string"
        );
    }

    #[test]
    fn v2_drops_what_kubectls_swagger_validation_cannot_read() {
        let v2 = publish(cron_tab(), Form::V2);
        let spec = &v2["properties"]["spec"];
        let image = &spec["properties"]["image"];
        assert!(image.get("type").is_none() && image.get("nullable").is_none());
        assert_eq!(spec["required"], json!(["cronSpec"]));
        assert!(spec["properties"]["replicas"].get("default").is_none());
        assert_eq!(spec["properties"]["replicas"]["minimum"], 0);
        assert!(spec["properties"]["mode"].get("oneOf").is_none());
        assert!(spec["properties"]["port"].get("anyOf").is_none());
        assert_eq!(
            spec["properties"]["port"]["x-kubernetes-int-or-string"],
            true
        );
        let extra = &spec["properties"]["extra"];
        assert!(extra.get("type").is_none() && extra.get("properties").is_none());
        assert_eq!(extra["x-kubernetes-preserve-unknown-fields"], true);
        assert!(v2["properties"]["status"].get("properties").is_none());
    }

    #[test]
    fn embedded_resources_get_type_and_object_metadata() {
        let v3 = publish(cron_tab(), Form::V3);
        let template = &v3["properties"]["spec"]["properties"]["template"];
        assert_eq!(template["properties"]["kind"]["type"], "string");
        assert!(template["properties"]["metadata"]["allOf"].is_array());
        assert_eq!(template["required"], json!(["kind", "apiVersion"]));
        // Swagger 2.0 leaves an embedded resource that keeps unknown fields open.
        let v2 = publish(cron_tab(), Form::V2);
        let template = &v2["properties"]["spec"]["properties"]["template"];
        assert!(template.get("properties").is_none());
    }

    #[test]
    fn int_or_string_with_its_own_any_of_gets_the_union_in_all_of() {
        let schema = json!({"type": "object", "properties": {"p": {
            "x-kubernetes-int-or-string": true,
            "anyOf": [{"maximum": 3}],
        }}});
        let p = &publish(schema, Form::V3)["properties"]["p"];
        assert_eq!(p["allOf"][0]["anyOf"], int_or_string_any_of());
        assert_eq!(p["anyOf"], json!([{"maximum": 3}]));
    }

    #[test]
    fn schemas_that_keep_unknown_fields_are_open_objects_in_v2() {
        let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        assert_eq!(publish(schema.clone(), Form::V2), json!({"type": "object"}));
        assert!(publish(schema.clone(), Form::V3)["properties"]["metadata"].is_object());
        let open = kind_schema(Some(&cron_tab()), true, Form::V2, &type_meta());
        assert_eq!(open, json!({"type": "object"}));
        assert_eq!(
            kind_schema(None, false, Form::V3, &type_meta()),
            json!({"type": "object"})
        );
    }

    #[test]
    fn arrays_without_items_lose_their_type_in_v2() {
        let schema = json!({"type": "object", "properties": {
            "list": {"type": "array", "x-kubernetes-preserve-unknown-fields": true,
                "items": {"type": "string"}},
            "values": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}},
        }, "required": ["values"]});
        let v2 = publish(schema, Form::V2);
        assert!(v2["properties"]["list"].get("type").is_none());
        assert!(v2["properties"]["list"].get("items").is_none());
        assert!(
            v2["properties"]["values"]["additionalProperties"]
                .get("type")
                .is_none()
        );
    }
}
