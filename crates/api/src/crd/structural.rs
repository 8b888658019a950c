//! Whether a schema is structural: every node specifies its type, value validations
//! (`allOf`, `anyOf`, `oneOf`, `not`) only restrict what the structure declares, and
//! metadata is left to the API server.

use regex::Regex;

use super::schema::{AdditionalProperties, StructuralSchema};
use crate::validation::{FieldError, Path};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The violations of the structural rules, sorted as upstream sorts them (by their
/// rendered text); `base` is the path of the schema's root.
pub fn validate_structural(base: &str, s: &StructuralSchema) -> Vec<FieldError> {
    let path = Path::new(base);
    let mut errs = Vec::new();
    invariants(s, Level::Root, &path, &mut errs);
    completeness_of_value_validation(s, s, &path, &path, &mut errs);
    errs.sort_by_key(ToString::to_string);
    errs
}

fn invariants(s: &StructuralSchema, lvl: Level, path: &Path, errs: &mut Vec<FieldError>) {
    if s.type_ == "array" && s.items.is_none() {
        errs.push(FieldError::required_because(
            path.child("items"),
            "must be specified",
        ));
    }
    if let Some(items) = s.items() {
        invariants(items, Level::Item, &path.child("items"), errs);
    }
    for (k, v) in &s.properties {
        invariants(v, Level::Field, &path.child("properties").key(k), errs);
    }
    if let Some(ap) = &s.additional_properties {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(
                path.child("additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let AdditionalProperties::Schema(ap) = ap {
            invariants(ap, Level::Field, &path.child("additionalProperties"), errs);
        }
    }
    extension_conflicts(s, path, errs);
    value_validation(
        s,
        is_int_or_string_any_of(s),
        is_int_or_string_all_of(s),
        path,
        errs,
    );
    type_rules(s, lvl, path, errs);
    meta_fields(s, lvl, path, errs);
}

fn extension_conflicts(s: &StructuralSchema, path: &Path, errs: &mut Vec<FieldError>) {
    if s.int_or_string && s.preserve_unknown_fields() {
        errs.push(FieldError::invalid(
            path.child("x-kubernetes-preserve-unknown-fields"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if s.int_or_string && s.embedded_resource {
        errs.push(FieldError::invalid(
            path.child("x-kubernetes-embedded-resource"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
}

fn type_rules(s: &StructuralSchema, lvl: Level, path: &Path, errs: &mut Vec<FieldError>) {
    let detail = "must be object if x-kubernetes-embedded-resource is true";
    if s.embedded_resource && s.type_ != "object" {
        if s.type_.is_empty() {
            errs.push(FieldError::required_because(path.child("type"), detail));
        } else {
            errs.push(FieldError::invalid(path.child("type"), &s.type_, detail));
        }
    } else if s.type_.is_empty() && !s.int_or_string && !s.preserve_unknown_fields() {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required_because(path.child("type"), detail));
    }
    if s.embedded_resource && s.additional_properties.is_some() {
        errs.push(FieldError::forbidden(
            path.child("additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !s.type_.is_empty() && s.type_ != "object" {
        errs.push(FieldError::invalid(
            path.child("type"),
            &s.type_,
            "must be object at the root",
        ));
    }
    if s.embedded_resource && !s.preserve_unknown_fields() && s.properties.is_empty() {
        errs.push(FieldError::required_because(
            path.child("properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without \
             x-kubernetes-preserve-unknown-fields",
        ));
    }
}

fn meta_fields(s: &StructuralSchema, lvl: Level, path: &Path, errs: &mut Vec<FieldError>) {
    let check_metadata = lvl == Level::Root || s.embedded_resource;
    for name in ["kind", "apiVersion"] {
        if let Some(p) = s.properties.get(name).filter(|_| check_metadata)
            && p.type_ != "string"
        {
            errs.push(FieldError::invalid(
                path.child("properties").key(name).child("type"),
                &p.type_,
                "must be string",
            ));
        }
    }
    let Some(meta) = s.properties.get("metadata") else {
        return;
    };
    let meta_path = path.child("properties").key("metadata");
    if check_metadata && meta.type_ != "object" {
        errs.push(FieldError::invalid(
            meta_path.child("type"),
            &meta.type_,
            "must be object",
        ));
    }
    if lvl == Level::Root && !metadata_is_plain(meta) {
        errs.push(FieldError::forbidden(
            meta_path,
            "must not specify anything other than name and generateName, but metadata is \
             implicitly specified",
        ));
    }
}

/// The root's `metadata` may only have a type, a default and the properties `name`
/// and `generateName`.
fn metadata_is_plain(meta: &StructuralSchema) -> bool {
    let props_ok = meta.properties.is_empty()
        || meta
            .properties
            .keys()
            .all(|k| k == "name" || k == "generateName");
    let stripped = StructuralSchema {
        type_: String::new(),
        default: None,
        properties: Default::default(),
        raw: serde_json::Value::Null,
        ..meta.clone()
    };
    props_ok
        && stripped
            == StructuralSchema {
                raw: serde_json::Value::Null,
                ..Default::default()
            }
}

fn is_int_or_string_branch(s: &StructuralSchema, ty: &str) -> bool {
    let expected = StructuralSchema {
        type_: ty.to_string(),
        raw: s.raw.clone(),
        ..Default::default()
    };
    *s == expected
}

fn is_int_or_string_any_of(s: &StructuralSchema) -> bool {
    s.any_of.len() == 2
        && is_int_or_string_branch(&s.any_of[0], "integer")
        && is_int_or_string_branch(&s.any_of[1], "string")
}

fn is_int_or_string_all_of(s: &StructuralSchema) -> bool {
    s.all_of.first().is_some_and(is_int_or_string_any_of)
}

fn value_validation(
    s: &StructuralSchema,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, b) in s.any_of.iter().enumerate() {
            nested(b, false, &path.child("anyOf").index(i), errs);
        }
    }
    for (i, b) in s.all_of.iter().enumerate() {
        nested(
            b,
            skip_first_all_of_any_of && i == 0,
            &path.child("allOf").index(i),
            errs,
        );
    }
    for (i, b) in s.one_of.iter().enumerate() {
        nested(b, false, &path.child("oneOf").index(i), errs);
    }
    if let Some(not) = s.not() {
        nested(not, false, &path.child("not"), errs);
    }
    if !s.pattern.is_empty()
        && let Err(e) = Regex::new(&s.pattern)
    {
        errs.push(FieldError::invalid(
            path.child("pattern"),
            &s.pattern,
            &format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// A branch of `allOf`, `anyOf`, `oneOf` or `not`: it may only carry value validations.
fn nested(v: &StructuralSchema, skip_any_of: bool, path: &Path, errs: &mut Vec<FieldError>) {
    value_validation(v, skip_any_of, false, path, errs);
    if let Some(items) = v.items() {
        nested(items, false, &path.child("items"), errs);
    }
    for (k, p) in &v.properties {
        nested(p, false, &path.child("properties").key(k), errs);
    }
    let forbid = |errs: &mut Vec<FieldError>, set: bool, field: &str, detail: &str| {
        if set {
            errs.push(FieldError::forbidden(path.child(field), detail));
        }
    };
    let empty = "must be empty to be structural";
    let undefined = "must be undefined to be structural";
    let falsy = "must be false to be structural";
    forbid(errs, !v.type_.is_empty(), "type", empty);
    let ap_set = matches!(
        v.additional_properties,
        Some(AdditionalProperties::Schema(_)) | Some(AdditionalProperties::Allows(true))
    );
    forbid(errs, ap_set, "additionalProperties", undefined);
    forbid(errs, v.default.is_some(), "default", undefined);
    forbid(errs, !v.title.is_empty(), "title", empty);
    forbid(errs, !v.description.is_empty(), "description", empty);
    forbid(errs, v.nullable, "nullable", falsy);
    forbid(
        errs,
        v.preserve_unknown_fields(),
        "x-kubernetes-preserve-unknown-fields",
        falsy,
    );
    forbid(
        errs,
        v.embedded_resource,
        "x-kubernetes-embedded-resource",
        falsy,
    );
    forbid(errs, v.int_or_string, "x-kubernetes-int-or-string", falsy);
    forbid(
        errs,
        !v.list_map_keys.is_empty(),
        "x-kubernetes-list-map-keys",
        empty,
    );
    forbid(
        errs,
        v.list_type.is_some(),
        "x-kubernetes-list-type",
        undefined,
    );
    forbid(
        errs,
        v.map_type.is_some(),
        "x-kubernetes-map-type",
        undefined,
    );
    forbid(
        errs,
        !v.validations.is_empty(),
        "x-kubernetes-validations",
        empty,
    );
    if v.properties.contains_key("metadata") {
        errs.push(FieldError::forbidden(
            path.child("properties").key("metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Every field a value validation mentions must be specified by the structure it
/// restricts.
fn completeness_of_value_validation(
    v: &StructuralSchema,
    s: &StructuralSchema,
    s_path: &Path,
    v_path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if let Some(not) = v.not() {
        completeness_nested(not, Some(s), s_path, &v_path.child("not"), errs);
    }
    let branches = [
        ("allOf", &v.all_of),
        ("anyOf", &v.any_of),
        ("oneOf", &v.one_of),
    ];
    for (name, list) in branches {
        for (i, b) in list.iter().enumerate() {
            completeness_nested(b, Some(s), s_path, &v_path.child(name).index(i), errs);
        }
    }
}

fn completeness_nested(
    v: &StructuralSchema,
    s: Option<&StructuralSchema>,
    s_path: &Path,
    v_path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        let detail = format!("because it is defined in {v_path}");
        errs.push(FieldError::required_because(s_path, &detail));
        return;
    };
    completeness_of_value_validation(v, s, s_path, v_path, errs);
    if let Some(items) = v.items() {
        completeness_nested(
            items,
            s.items(),
            &s_path.child("items"),
            &v_path.child("items"),
            errs,
        );
    }
    for (k, vp) in &v.properties {
        let sp = s_path.child("properties").key(k);
        let vpp = v_path.child("properties").key(k);
        match s.properties.get(k) {
            Some(sf) => completeness_nested(vp, Some(sf), &sp, &vpp, errs),
            None => {
                let detail = format!("because it is defined in {vpp}");
                errs.push(FieldError::required_because(sp, &detail));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: serde_json::Value) -> Vec<String> {
        let s = StructuralSchema::parse_unchecked(&v);
        validate_structural("openAPIV3Schema", &s)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_field_without_type_is_not_structural() {
        let errs = check(json!({
            "type": "object",
            "properties": {"spec": {"properties": {"replicas": {"type": "integer"}}}}
        }));
        assert_eq!(
            errs,
            vec![
                "openAPIV3Schema.properties[spec].type: Required value: must not be empty for \
                 specified object fields"
            ]
        );
    }

    #[test]
    fn value_validations_may_not_specify_types_or_new_fields() {
        let errs = check(json!({
            "type": "object",
            "properties": {"spec": {"type": "object"}},
            "anyOf": [{"type": "object", "properties": {"other": {}}}]
        }));
        assert_eq!(
            errs,
            vec![
                "openAPIV3Schema.anyOf[0].type: Forbidden: must be empty to be structural",
                "openAPIV3Schema.properties[other]: Required value: because it is defined in \
                 openAPIV3Schema.anyOf[0].properties[other]",
            ]
        );
    }

    #[test]
    fn root_metadata_may_only_restrict_name_and_generate_name() {
        let ok = check(json!({
            "type": "object",
            "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}}}
        }));
        assert!(ok.is_empty(), "{ok:?}");
        let errs = check(json!({
            "type": "object",
            "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}
        }));
        assert_eq!(
            errs,
            vec![
                "openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other \
                 than name and generateName, but metadata is implicitly specified"
            ]
        );
    }

    #[test]
    fn int_or_string_nodes_need_no_type() {
        let errs = check(json!({
            "type": "object",
            "properties": {"port": {
                "x-kubernetes-int-or-string": true,
                "anyOf": [{"type": "integer"}, {"type": "string"}]
            }}
        }));
        assert!(errs.is_empty(), "{errs:?}");
    }
}
