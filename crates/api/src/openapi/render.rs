//! Renders the operations and schemas as a swagger 2.0 document or as OpenAPI v3
//! documents, one per group-version, in the shapes upstream's API server serves.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::operations::{GroupVersion, Operation, PathItem};
use super::params::{Location, Param};
use super::schemas::{self, Catalogue, V2_REF_PREFIX};

/// How OpenAPI v3 references a schema.
pub(super) const V3_REF_PREFIX: &str = "#/components/schemas/";

const TITLE: &str = "Kubernetes";
const VERSION: &str = "unversioned";
const SECURITY_SCHEME: &str = "BearerToken";
const SECURITY_DESCRIPTION: &str = "A bearer token in the Authorization header.";

/// The swagger 2.0 path items of the group-versions, in order.
pub(super) fn v2_paths(gvs: &[GroupVersion]) -> impl Iterator<Item = (String, Value)> + '_ {
    gvs.iter()
        .flat_map(|gv| &gv.items)
        .map(|item| (item.path.clone(), v2_path_item(item)))
}

/// The members of the swagger 2.0 document before `paths` (a JSON object whose last
/// member is `paths`, then `definitions`, then these).
pub(super) fn v2_head() -> Map<String, Value> {
    let mut head = Map::new();
    head.insert("swagger".into(), "2.0".into());
    head.insert("info".into(), json!({"title": TITLE, "version": VERSION}));
    head
}

/// The members of the swagger 2.0 document after `definitions`.
pub(super) fn v2_tail() -> Map<String, Value> {
    let mut tail = Map::new();
    tail.insert("securityDefinitions".into(), security_schemes());
    tail.insert("security".into(), json!([{SECURITY_SCHEME: []}]));
    tail
}

fn security_schemes() -> Value {
    json!({
        SECURITY_SCHEME: {
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
            "description": SECURITY_DESCRIPTION,
        },
    })
}

fn v2_path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.operations {
        out.insert(op.method.as_str().into(), v2_operation(op));
    }
    if !item.params.is_empty() {
        let params = item.params.iter().map(v2_param).collect();
        out.insert("parameters".into(), Value::Array(params));
    }
    Value::Object(out)
}

fn v2_operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = op.params.iter().map(v2_param).collect();
    if let Some(body) = &op.body {
        params.insert(
            0,
            json!({
                "name": "body",
                "in": "body",
                "required": body.required,
                "schema": schemas::v2_ref(&body.schema),
            }),
        );
    }
    let mut responses = Map::new();
    for response in &op.responses {
        let mut entry = Map::new();
        entry.insert("description".into(), response.description().into());
        if let Some(schema) = &response.schema {
            entry.insert("schema".into(), schemas::v2_ref(schema));
        }
        responses.insert(response.code.to_string(), Value::Object(entry));
    }
    let mut out = common_operation_fields(op);
    out.insert("consumes".into(), json!(op.consumes));
    out.insert("produces".into(), json!(op.produces));
    out.insert("schemes".into(), json!(["https"]));
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    out.insert("responses".into(), Value::Object(responses));
    insert_extensions(&mut out, op);
    Value::Object(out)
}

fn v2_param(param: &Param) -> Value {
    let mut out = param_head(param);
    out.insert("type".into(), param.ty.as_str().into());
    // Upstream marks every parameter this way; clients built on its documents expect it.
    out.insert("uniqueItems".into(), true.into());
    Value::Object(out)
}

/// The names of the schemas the operations of one group-version use directly.
pub(super) fn v3_roots(gv: &GroupVersion) -> BTreeSet<String> {
    let mut roots = BTreeSet::new();
    for op in gv.items.iter().flat_map(|item| &item.operations) {
        roots.extend(op.body.iter().map(|b| b.schema.clone()));
        roots.extend(op.responses.iter().filter_map(|r| r.schema.clone()));
    }
    roots
}

/// The v3 components of `roots` and everything they reference, from swagger 2.0
/// definitions.
pub(super) fn v3_components<'a>(
    definitions: &BTreeMap<String, Value>,
    roots: impl IntoIterator<Item = &'a str>,
) -> Map<String, Value> {
    let mut components = Map::new();
    for name in schemas::closure(definitions, roots) {
        if let Some(schema) = definitions.get(&name) {
            let converted = v3_definition(&name, schema);
            components.insert(name, converted);
        }
    }
    components
}

/// The OpenAPI v3 document of one group-version of built-in resources: its paths and
/// the schemas they reach.
pub(super) fn v3_document(gv: &GroupVersion, catalogue: &Catalogue) -> Value {
    let roots = v3_roots(gv);
    let components = v3_components(&catalogue.definitions, roots.iter().map(String::as_str));
    v3_document_with(gv, components)
}

/// The OpenAPI v3 document of one group-version with the given component schemas.
pub(super) fn v3_document_with(gv: &GroupVersion, components: Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for item in &gv.items {
        paths.insert(item.path.clone(), v3_path_item(item));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": security_schemes(),
        },
        "security": [{SECURITY_SCHEME: []}],
    })
}

/// The v3 root: each group-version's document URL, whose hash changes with the document.
pub(super) fn v3_root<'a>(documents: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let mut paths = Map::new();
    for (path, hash) in documents {
        let url = format!("/openapi/v3/{path}?hash={hash}");
        paths.insert(path.to_string(), json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

fn v3_path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.operations {
        out.insert(op.method.as_str().into(), v3_operation(op));
    }
    if !item.params.is_empty() {
        let params = item.params.iter().map(v3_param).collect();
        out.insert("parameters".into(), Value::Array(params));
    }
    Value::Object(out)
}

fn v3_operation(op: &Operation) -> Value {
    let mut out = common_operation_fields(op);
    if !op.params.is_empty() {
        let params = op.params.iter().map(v3_param).collect();
        out.insert("parameters".into(), Value::Array(params));
    }
    if let Some(body) = &op.body {
        let request = json!({
            "content": v3_content(op.consumes, &body.schema),
            "required": body.required,
        });
        out.insert("requestBody".into(), request);
    }
    let mut responses = Map::new();
    for response in &op.responses {
        let mut entry = Map::new();
        entry.insert("description".into(), response.description().into());
        if let Some(schema) = &response.schema {
            entry.insert("content".into(), v3_content(op.produces, schema));
        }
        responses.insert(response.code.to_string(), Value::Object(entry));
    }
    out.insert("responses".into(), Value::Object(responses));
    insert_extensions(&mut out, op);
    Value::Object(out)
}

fn v3_content(media_types: &[&str], schema: &str) -> Value {
    let mut content = Map::new();
    for media_type in media_types {
        let reference = json!({"schema": {"$ref": format!("{V3_REF_PREFIX}{schema}")}});
        content.insert(media_type.to_string(), reference);
    }
    Value::Object(content)
}

fn v3_param(param: &Param) -> Value {
    let mut out = param_head(param);
    out.insert(
        "schema".into(),
        json!({"type": param.ty.as_str(), "uniqueItems": true}),
    );
    Value::Object(out)
}

fn param_head(param: &Param) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("name".into(), param.name.into());
    let location = match param.location {
        Location::Path => "path",
        Location::Query => "query",
    };
    out.insert("in".into(), location.into());
    out.insert("description".into(), param.description.as_ref().into());
    if param.location == Location::Path {
        out.insert("required".into(), true.into());
    }
    out
}

fn common_operation_fields(op: &Operation) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("tags".into(), json!([op.tag]));
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    out
}

fn insert_extensions(out: &mut Map<String, Value>, op: &Operation) {
    out.insert("x-kubernetes-action".into(), op.action.as_str().into());
    if let Some(gvk) = &op.gvk {
        out.insert("x-kubernetes-group-version-kind".into(), gvk.to_value());
    }
}

/// One definition in v3 form. IntOrString and Quantity become the `oneOf` unions
/// upstream's v3 documents give them.
pub(super) fn v3_definition(name: &str, schema: &Value) -> Value {
    let description = schema.get("description").cloned().unwrap_or_default();
    match name {
        schemas::INT_OR_STRING => json!({
            "description": description,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }),
        schemas::QUANTITY => json!({
            "description": description,
            "oneOf": [{"type": "string"}, {"type": "number"}],
        }),
        _ => v3_schema(schema),
    }
}

/// Rewrites references to `#/components/schemas/`. OpenAPI 3.0 ignores the siblings of a
/// `$ref`, so a reference carrying a description is wrapped in `allOf` as upstream does.
pub(super) fn v3_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let reference = map
                .get("$ref")
                .and_then(Value::as_str)
                .map(|r| r.replacen(V2_REF_PREFIX, V3_REF_PREFIX, 1));
            let mut out = Map::new();
            match reference {
                Some(r) if map.len() == 1 => {
                    out.insert("$ref".into(), r.into());
                }
                Some(r) => {
                    out.insert("allOf".into(), json!([{"$ref": r}]));
                }
                None => {}
            }
            for (key, value) in map.iter().filter(|(k, _)| *k != "$ref") {
                out.insert(key.clone(), v3_schema(value));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(v3_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_with_siblings_are_wrapped_in_all_of() {
        let schema = json!({
            "properties": {
                "spec": {"description": "d", "$ref": "#/definitions/a.B"},
                "items": {"type": "array", "items": {"$ref": "#/definitions/a.C"}},
            }
        });
        let v3 = v3_schema(&schema);
        assert_eq!(
            v3["properties"]["spec"],
            json!({"allOf": [{"$ref": "#/components/schemas/a.B"}], "description": "d"})
        );
        assert_eq!(
            v3["properties"]["items"]["items"],
            json!({"$ref": "#/components/schemas/a.C"})
        );
    }

    #[test]
    fn root_links_each_document_with_its_hash() {
        let root = v3_root([("api/v1", "AB12")]);
        assert_eq!(
            root["paths"]["api/v1"]["serverRelativeURL"],
            "/openapi/v3/api/v1?hash=AB12"
        );
    }
}
