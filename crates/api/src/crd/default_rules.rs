//! Checks of the `default`s in a CRD's schema: each must be pruned (no unknown fields)
//! and valid against the schema it defaults, including its `x-kubernetes-validations`.

use serde_json::Value;

use super::cel;
use super::prune::prune_fields;
use super::schema::StructuralSchema;
use super::values::validate_value;
use crate::validation::{FieldError, Path};

const TYPE_AND_META: &[&str] = &["apiVersion", "kind", "metadata"];

/// Errors of the defaults under `s`, rooted at `path` (`...openAPIV3Schema`). The root
/// counts as a resource, so its `metadata`, `apiVersion` and `kind` are resource meta.
pub(crate) fn validate_defaults(
    path: &Path,
    s: &StructuralSchema,
    require_pruned: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut root = s.clone();
    root.embedded_resource = true;
    walk(path, &root, true, false, require_pruned, &mut errs);
    errs
}

fn walk(
    path: &Path,
    s: &StructuralSchema,
    resource_root: bool,
    inside_meta: bool,
    require_pruned: bool,
    errs: &mut Vec<FieldError>,
) {
    let inside_meta = inside_meta && !s.embedded_resource;
    let resource_root = resource_root || s.embedded_resource;
    if let Some(d) = &s.default {
        check_default(path, s, d, resource_root, inside_meta, require_pruned, errs);
    }
    if let Some(items) = s.items() {
        walk(
            &path.child("items"),
            items,
            false,
            inside_meta,
            require_pruned,
            errs,
        );
    }
    for (k, prop) in &s.properties {
        let meta = inside_meta || (s.embedded_resource && TYPE_AND_META.contains(&k.as_str()));
        walk(
            &path.child("properties").key(k),
            prop,
            false,
            meta,
            require_pruned,
            errs,
        );
    }
}

fn check_default(
    path: &Path,
    s: &StructuralSchema,
    d: &Value,
    resource_root: bool,
    inside_meta: bool,
    require_pruned: bool,
    errs: &mut Vec<FieldError>,
) {
    let default_path = path.child("default");
    if require_pruned && !inside_meta {
        let mut pruned = d.clone();
        prune_fields(&mut pruned, s, s.embedded_resource);
        if pruned != *d {
            errs.push(FieldError::invalid(
                &default_path,
                d,
                "must not have unknown fields",
            ));
        }
    }
    let value_errs = validate_value(s, d, None, Some(default_path.as_str()));
    if !value_errs.is_empty() {
        errs.extend(value_errs);
        return;
    }
    errs.extend(cel::evaluate_rules_on_default(
        d,
        s,
        &default_path,
        resource_root,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errs(schema: Value) -> Vec<String> {
        let s = StructuralSchema::parse_unchecked(&schema);
        validate_defaults(&Path::new("spec.validation.openAPIV3Schema"), &s, true)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn defaults_must_match_their_schema() {
        let e = errs(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "replicas": {"type": "integer", "default": "one"}
            }}}
        }));
        assert_eq!(
            e,
            vec![
                "spec.validation.openAPIV3Schema.properties[spec].properties[replicas].default: \
                 Invalid value: \"string\":  in body must be of type integer: \"string\""
            ]
        );
    }

    #[test]
    fn defaults_must_not_carry_unknown_fields() {
        let e = errs(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "strategy": {"type": "object", "properties": {"type": {"type": "string"}}, "default": {"type": "A", "extra": 1}}
            }}}
        }));
        assert_eq!(e.len(), 1);
        assert!(e[0].ends_with("must not have unknown fields"), "{e:?}");
    }
}
