//! The rules a CRD's `openAPIV3Schema` must follow node by node: unsupported JSON
//! Schema keywords, list and map types, list map keys, defaults where they are not
//! allowed, and `x-kubernetes-validations` (static checks, then compilation).

use serde_json::Value;

use super::cel::{self, CompileError};
use super::schema::{AdditionalProperties, StructuralSchema, ValidationRule};
use crate::validation::{BadValue, FieldError, Path};

const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: &[&str] = &["metadata", "kind", "apiVersion"];
const RULE_REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// Which rules apply; updates relax those the stored CRD already broke.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SchemaOpts {
    pub require_valid_property_type: bool,
    pub require_atomic_set_type: bool,
    pub require_map_list_keys_map_set: bool,
    /// Whether rules are compiled (the schema is structural and its defaults valid).
    pub compile_rules: bool,
}

/// What the walk knows about where a node sits.
#[derive(Clone, Default)]
struct Ctx {
    /// Why defaults are not allowed here, when they are not.
    no_defaults: Option<String>,
    inside_meta: bool,
    /// The nearest enclosing path whose values cannot be correlated with old ones.
    uncorrelatable: Option<String>,
}

impl Ctx {
    fn forbid_defaults(&self, reason: &str) -> Ctx {
        Ctx {
            no_defaults: Some(reason.to_string()),
            ..self.clone()
        }
    }

    fn forbid_old_self(&self, path: &Path) -> Ctx {
        if self.uncorrelatable.is_some() {
            return self.clone();
        }
        Ctx {
            uncorrelatable: Some(path.to_string()),
            ..self.clone()
        }
    }
}

#[derive(Default)]
struct Errors {
    schema: Vec<FieldError>,
    cel: Vec<FieldError>,
}

impl Errors {
    fn append(&mut self, other: Errors) {
        self.schema.extend(other.schema);
        self.cel.extend(other.cel);
    }
}

/// The errors of a schema rooted at `path` (`...openAPIV3Schema`): schema errors first,
/// then rule compilation errors.
pub(crate) fn check_schema(
    s: &StructuralSchema,
    path: &Path,
    opts: &SchemaOpts,
) -> Vec<FieldError> {
    let e = node(s, path, &Ctx::default(), true, opts, opts.compile_rules);
    let mut out = e.schema;
    out.extend(e.cel);
    out
}

fn node(
    s: &StructuralSchema,
    path: &Path,
    ctx: &Ctx,
    is_root: bool,
    opts: &SchemaOpts,
    cel_ok: bool,
) -> Errors {
    let mut e = Errors::default();
    keywords(s, path, ctx, opts, &mut e.schema);
    if s.unique_items {
        e.schema.push(FieldError::forbidden(
            path.child("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    children(s, path, ctx, is_root, opts, cel_ok, &mut e);
    if s.preserve_unknown_fields == Some(false) {
        e.schema.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    map_and_list_types(s, path, opts, &mut e.schema);
    list_map_keys(s, path, &mut e.schema);
    if opts.require_map_list_keys_map_set {
        e.schema.extend(map_list_keys_map_set(s, path));
    }
    if !s.validations.is_empty() {
        for (i, rule) in s.validations.iter().enumerate() {
            rule_static(
                rule,
                s,
                &path.child("x-kubernetes-validations").index(i),
                &mut e.schema,
            );
        }
        if e.schema.is_empty() && cel_ok {
            compile_rules(s, path, ctx, &mut e.cel);
        }
    }
    e
}

/// Upstream's per-node keyword checks.
fn keywords(
    s: &StructuralSchema,
    path: &Path,
    ctx: &Ctx,
    opts: &SchemaOpts,
    errs: &mut Vec<FieldError>,
) {
    if opts.require_valid_property_type
        && !s.type_.is_empty()
        && !OPENAPI_TYPES.contains(&s.type_.as_str())
    {
        errs.push(FieldError::not_supported(
            path.child("type"),
            &s.type_,
            OPENAPI_TYPES,
        ));
    }
    if s.default.is_some()
        && let Some(reason) = &ctx.no_defaults
    {
        let detail = if reason.is_empty() {
            "must not be set".to_string()
        } else {
            format!("must not be set {reason}")
        };
        errs.push(FieldError::forbidden(path.child("default"), &detail));
    }
    for name in &s.unsupported {
        let (field, detail) = match *name {
            "id" => ("id", "id is not supported"),
            "additionalItems" => ("additionalItems", "additionalItems is not supported"),
            "patternProperties" => ("patternProperties", "patternProperties is not supported"),
            "definitions" => ("definitions", "definitions is not supported"),
            "dependencies" => ("dependencies", "dependencies is not supported"),
            "$ref" => ("$ref", "$ref is not supported"),
            _ => continue,
        };
        errs.push(FieldError::forbidden(path.child(field), detail));
    }
    if s.type_ == "null" {
        errs.push(FieldError::forbidden(
            path.child("type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if s.items_is_array {
        errs.push(FieldError::forbidden(
            path.child("items"),
            "items must be a schema object and not an array",
        ));
    }
    if ctx.inside_meta && s.embedded_resource {
        errs.push(FieldError::forbidden(
            path.child("x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

fn children(
    s: &StructuralSchema,
    path: &Path,
    ctx: &Ctx,
    is_root: bool,
    opts: &SchemaOpts,
    cel_ok: bool,
    e: &mut Errors,
) {
    if let Some(ap) = &s.additional_properties {
        additional_properties_child(s, ap, path, ctx, opts, cel_ok, e);
    }
    for (name, prop) in &s.properties {
        let sub = property_context(s, name, path, ctx, is_root);
        let prop_path = path.child("properties").key(name);
        e.append(node(prop, &prop_path, &sub, false, opts, cel_ok));
    }
    if let Some(not) = s.not() {
        e.append(node(not, &path.child("not"), ctx, false, opts, false));
    }
    let branches = [
        ("allOf", &s.all_of),
        ("oneOf", &s.one_of),
        ("anyOf", &s.any_of),
    ];
    for (name, list) in branches {
        for (i, b) in list.iter().enumerate() {
            e.append(node(b, &path.child(name).index(i), ctx, false, opts, false));
        }
    }
    if let Some(items) = s.items() {
        let sub = if s.list_type.as_deref() != Some("map") {
            ctx.forbid_old_self(path)
        } else {
            ctx.clone()
        };
        e.append(node(items, &path.child("items"), &sub, false, opts, cel_ok));
    }
}

fn additional_properties_child(
    s: &StructuralSchema,
    ap: &AdditionalProperties,
    path: &Path,
    ctx: &Ctx,
    opts: &SchemaOpts,
    cel_ok: bool,
    e: &mut Errors,
) {
    let mutual = !s.properties.is_empty()
        && matches!(
            ap,
            AdditionalProperties::Allows(false) | AdditionalProperties::Schema(_)
        );
    if mutual {
        e.schema.push(FieldError::forbidden(
            path.child("additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if let AdditionalProperties::Schema(ap) = ap {
        let sub = if ctx.inside_meta {
            ctx.forbid_defaults("inside additionalProperties applying to object metadata")
        } else {
            ctx.clone()
        };
        let ap_path = path.child("additionalProperties");
        e.append(node(ap, &ap_path, &sub, false, opts, cel_ok));
    }
}

/// Properties of uncorrelatable maps cannot use `oldSelf`; the type and object meta
/// fields of resources are resource meta, where the root allows no defaults.
fn property_context(
    s: &StructuralSchema,
    name: &str,
    path: &Path,
    ctx: &Ctx,
    is_root: bool,
) -> Ctx {
    let mut sub = ctx.clone();
    if !map_is_correlatable(s.map_type.as_deref()) {
        sub = sub.forbid_old_self(path);
    }
    if (is_root || s.embedded_resource) && META_FIELDS.contains(&name) {
        sub.inside_meta = true;
        if is_root {
            sub = sub.forbid_defaults(&format!("in top-level {name}"));
        }
    }
    sub
}

pub(crate) fn map_is_correlatable(map_type: Option<&str>) -> bool {
    matches!(map_type, None | Some("granular") | Some("atomic"))
}

fn map_and_list_types(
    s: &StructuralSchema,
    path: &Path,
    opts: &SchemaOpts,
    errs: &mut Vec<FieldError>,
) {
    if let Some(mt) = &s.map_type {
        if s.type_ != "object" {
            type_must_be(
                s,
                path,
                "must be object if x-kubernetes-map-type is specified",
                errs,
            );
        }
        if mt != "atomic" && mt != "granular" {
            errs.push(FieldError::not_supported(
                path.child("x-kubernetes-map-type"),
                mt,
                &["atomic", "granular"],
            ));
        }
    }
    if let Some(lt) = &s.list_type {
        if s.type_ != "array" {
            type_must_be(
                s,
                path,
                "must be array if x-kubernetes-list-type is specified",
                errs,
            );
        } else if opts.require_atomic_set_type && lt == "set" {
            set_items_atomic(s, path, errs);
        }
        if !["atomic", "set", "map"].contains(&lt.as_str()) {
            errs.push(FieldError::not_supported(
                path.child("x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
    }
}

fn type_must_be(s: &StructuralSchema, path: &Path, detail: &str, errs: &mut Vec<FieldError>) {
    if s.type_.is_empty() {
        errs.push(FieldError::required_because(path.child("type"), detail));
    } else {
        errs.push(FieldError::invalid(path.child("type"), &s.type_, detail));
    }
}

fn set_items_atomic(s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(items) = s.items() else {
        return;
    };
    let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
    let shown = |v: &Option<String>| match v {
        Some(t) => BadValue::from(t.as_str()),
        None => BadValue::Raw("null".into()),
    };
    match items.type_.as_str() {
        "array" if items.list_type.as_deref().is_some_and(|t| t != "atomic") => {
            errs.push(FieldError::invalid(
                path.child("items").child("x-kubernetes-list-type"),
                shown(&items.list_type),
                detail,
            ));
        }
        "object" if items.map_type.as_deref() != Some("atomic") => {
            errs.push(FieldError::invalid(
                path.child("items").child("x-kubernetes-map-type"),
                shown(&items.list_type),
                detail,
            ));
        }
        _ => {}
    }
}

fn list_map_keys(s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    if !s.list_map_keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match s.list_type.as_deref() {
            None => errs.push(FieldError::required_because(
                path.child("x-kubernetes-list-type"),
                detail,
            )),
            Some("map") => {}
            Some(other) => errs.push(FieldError::invalid(
                path.child("x-kubernetes-list-type"),
                other,
                detail,
            )),
        }
    }
    if s.list_type.as_deref() != Some("map") {
        return;
    }
    if s.list_map_keys.is_empty() {
        errs.push(FieldError::required_because(
            path.child("x-kubernetes-list-map-keys"),
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    if s.items_is_array {
        errs.push(FieldError::invalid(
            path.child("items"),
            &s.raw["items"],
            "must only have a single schema if x-kubernetes-list-type is map",
        ));
        return;
    }
    let Some(items) = s.items() else {
        errs.push(FieldError::required_because(
            path.child("items"),
            "must have a schema if x-kubernetes-list-type is map",
        ));
        return;
    };
    if items.type_ != "object" {
        errs.push(FieldError::invalid(
            path.child("items").child("type"),
            &items.type_,
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    map_key_properties(s, items, path, errs);
}

fn map_key_properties(
    s: &StructuralSchema,
    items: &StructuralSchema,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let keys_json = Value::from(s.list_map_keys.clone());
    let mut seen: Vec<&String> = Vec::new();
    for k in &s.list_map_keys {
        match items.properties.get(k) {
            Some(p) if p.type_ == "array" || p.type_ == "object" => errs.push(FieldError::invalid(
                path.child("items").child("properties").key(k).child("type"),
                &items.type_,
                "must be a scalar type if parent array's x-kubernetes-list-type is map",
            )),
            Some(_) => {}
            None => errs.push(FieldError::invalid(
                path.child("x-kubernetes-list-map-keys"),
                &keys_json,
                "entries must all be names of item properties",
            )),
        }
        if seen.contains(&k) {
            errs.push(FieldError::invalid(
                path.child("x-kubernetes-list-map-keys"),
                &keys_json,
                "must not contain duplicate entries",
            ));
        }
        seen.push(k);
    }
}

/// Items of set and map lists may not be nullable, and map keys must be required or
/// defaulted and not nullable.
pub(crate) fn map_list_keys_map_set(s: &StructuralSchema, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (Some(items), Some(lt)) = (s.items(), s.list_type.as_deref()) else {
        return errs;
    };
    if lt != "set" && lt != "map" {
        return errs;
    }
    if items.nullable {
        errs.push(FieldError::forbidden(
            path.child("items").child("nullable"),
            &format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
        ));
    }
    if lt == "map" {
        for k in &s.list_map_keys {
            let Some(p) = items.properties.get(k) else {
                continue;
            };
            let key_path = path.child("items").child("properties").key(k);
            if !items.required.contains(k) && p.default.is_none() {
                errs.push(FieldError::required_because(
                    key_path.child("default"),
                    "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                ));
            }
            if p.nullable {
                errs.push(FieldError::forbidden(
                    key_path.child("nullable"),
                    "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                ));
            }
        }
    }
    errs
}

fn rule_static(
    rule: &ValidationRule,
    s: &StructuralSchema,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let trimmed_rule = rule.rule.trim();
    let trimmed_msg = rule.message.trim();
    let newline = |t: &str| t.contains('\n') || t.contains('\r');
    if trimmed_rule.is_empty() {
        errs.push(FieldError::required_because(
            path.child("rule"),
            "rule is not specified",
        ));
    } else if !rule.message.is_empty() && trimmed_msg.is_empty() {
        errs.push(FieldError::invalid(
            path.child("message"),
            &rule.message,
            "must be non-empty if specified",
        ));
    } else if newline(trimmed_msg) {
        errs.push(FieldError::invalid(
            path.child("message"),
            &rule.message,
            "must not contain line breaks",
        ));
    } else if newline(trimmed_rule) && trimmed_msg.is_empty() {
        errs.push(FieldError::required_because(
            path.child("message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    if !rule.message_expression.is_empty() && rule.message_expression.trim().is_empty() {
        errs.push(FieldError::required_because(
            path.child("messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(reason) = rule.reason.as_deref().filter(|r| !RULE_REASONS.contains(r)) {
        errs.push(FieldError::not_supported(
            path.child("reason"),
            reason,
            RULE_REASONS,
        ));
    }
    if !rule.field_path.is_empty() && rule.field_path.trim().is_empty() {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            &rule.field_path,
            "must be non-empty if specified",
        ));
    }
    if newline(&rule.field_path) {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            &rule.field_path,
            "must not contain line breaks",
        ));
    }
    if !rule.field_path.is_empty() && cel::resolve_field_path(&rule.field_path, s).is_err() {
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            &rule.field_path,
            "must be a valid path",
        ));
    }
}

/// A rule as upstream prints it in errors: its fields in declaration order.
fn rule_value(rule: &ValidationRule) -> BadValue {
    let mut parts = vec![format!("\"rule\":{}", Value::from(rule.rule.as_str()))];
    let mut add = |name: &str, v: &str| {
        if !v.is_empty() {
            parts.push(format!("\"{name}\":{}", Value::from(v)));
        }
    };
    add("message", &rule.message);
    add("messageExpression", &rule.message_expression);
    add("reason", rule.reason.as_deref().unwrap_or(""));
    add("fieldPath", &rule.field_path);
    if let Some(b) = rule.optional_old_self {
        parts.push(format!("\"optionalOldSelf\":{b}"));
    }
    BadValue::Raw(format!("{{{}}}", parts.join(",")))
}

fn compile_rules(s: &StructuralSchema, path: &Path, ctx: &Ctx, errs: &mut Vec<FieldError>) {
    for (i, rule) in s.validations.iter().enumerate() {
        let rule_path = path.child("x-kubernetes-validations").index(i);
        match cel::compile(rule) {
            Err(CompileError::Rule(detail)) => {
                errs.push(FieldError::invalid(
                    rule_path.child("rule"),
                    rule_value(rule),
                    &detail,
                ));
            }
            Err(CompileError::MessageExpression(detail)) => {
                errs.push(FieldError::invalid(
                    rule_path.child("messageExpression"),
                    rule_value(rule),
                    &detail,
                ));
            }
            Ok(compiled) if compiled.uses_old_self => {
                if let Some(within) = &ctx.uncorrelatable {
                    let detail = format!(
                        "oldSelf cannot be used on the uncorrelatable portion of the schema within {within}"
                    );
                    errs.push(FieldError::invalid(
                        rule_path.child("rule"),
                        &rule.rule,
                        &detail,
                    ));
                }
            }
            Ok(_) => {
                if let Some(b) = rule.optional_old_self {
                    errs.push(FieldError::invalid(
                        rule_path.child("optionalOldSelf"),
                        b,
                        "may not be set if oldSelf is not used in rule",
                    ));
                }
            }
        }
    }
}
