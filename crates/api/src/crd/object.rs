//! Validation of custom resources against their version's schema: OpenAPI value rules,
//! embedded resources, list uniqueness and `x-kubernetes-validations`, in upstream's
//! order and with its field paths.

use serde_json::Value;

use super::cel;
use super::embedded::validate_embedded;
use super::listtype::validate_lists;
use super::names;
use super::schema::StructuralSchema;
use super::values::validate_value;
use crate::validation::{FieldError, Path, reason};

/// Errors of a new custom resource (after pruning and defaulting).
pub fn validate(obj: &Value, schema: &StructuralSchema) -> Vec<FieldError> {
    let mut errs = validate_value(schema, obj, None, None);
    errs.extend(validate_embedded(obj, schema));
    errs.extend(validate_lists(obj, schema));
    run_rules(obj, None, schema, &mut errs);
    errs
}

/// Errors of an updated custom resource. Values equal to their old counterparts keep
/// no schema or rule errors (upstream's ratcheting); transition rules see `oldSelf`.
pub fn validate_update(new: &Value, old: &Value, schema: &StructuralSchema) -> Vec<FieldError> {
    let mut errs = validate_value(schema, new, Some(old), None);
    errs.extend(validate_embedded(new, schema));
    if validate_lists(old, schema).is_empty() {
        errs.extend(validate_lists(new, schema));
    }
    run_rules(new, Some(old), schema, &mut errs);
    errs
}

/// Rules run only on an object the other checks accept; otherwise one error says they
/// were skipped.
fn run_rules(
    obj: &Value,
    old: Option<&Value>,
    schema: &StructuralSchema,
    errs: &mut Vec<FieldError>,
) {
    if !schema.has_validations() {
        return;
    }
    let blocking = errs.iter().any(|e| {
        [
            reason::NOT_SUPPORTED,
            reason::REQUIRED,
            reason::TOO_LONG,
            reason::TOO_MANY,
            reason::TYPE_INVALID,
        ]
        .contains(&e.reason)
    });
    if blocking {
        errs.push(FieldError {
            reason: reason::INVALID,
            field: "<nil>".into(),
            message: "Invalid value: null: some validation rules were not checked because the object was \
                      invalid; correct the existing errors to complete validation"
                .into(),
        });
        return;
    }
    errs.extend(cel::evaluate_rules(obj, old, schema));
}

/// The name rules of a custom resource's metadata: `metadata.name` (or `generateName`)
/// is a DNS subdomain; `metadata.namespace` is set exactly when the resource is
/// namespaced. Labels, annotations, owner references and finalizers follow the rules
/// of every object.
pub fn validate_metadata_names(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = Path::new("metadata");
    let get = |k: &str| {
        obj.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let generate = get("generateName");
    if !generate.is_empty() {
        for msg in names::dns1123_subdomain(&names::mask_trailing_dash(generate)) {
            errs.push(FieldError::invalid(
                meta.child("generateName"),
                generate,
                &msg,
            ));
        }
    }
    let name = get("name");
    if name.is_empty() {
        errs.push(FieldError::required_because(
            meta.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in names::dns1123_subdomain(name) {
            errs.push(FieldError::invalid(meta.child("name"), name, &msg));
        }
    }
    let ns = get("namespace");
    match (namespaced, ns.is_empty()) {
        (true, true) => errs.push(FieldError::required(meta.child("namespace"))),
        (true, false) => {
            for msg in names::dns1123_label(ns) {
                errs.push(FieldError::invalid(meta.child("namespace"), ns, &msg));
            }
        }
        (false, false) => errs.push(FieldError::forbidden(
            meta.child("namespace"),
            "not allowed on this type",
        )),
        (false, true) => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> StructuralSchema {
        StructuralSchema::parse(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "x-kubernetes-validations": [{"rule": "self.size <= 10", "message": "size too big"}],
                    "properties": {"size": {"type": "integer"}}
                }
            }
        }))
        .expect("structural")
    }

    #[test]
    fn rules_run_on_otherwise_valid_objects() {
        let errs = validate(&json!({"spec": {"size": 11}}), &schema());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "spec: Invalid value: size too big");
    }

    #[test]
    fn schema_errors_block_rules() {
        let errs: Vec<String> = validate(&json!({"spec": {}}), &schema())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.size: Required value",
                "<nil>: Invalid value: null: some validation rules were not checked because the \
                 object was invalid; correct the existing errors to complete validation",
            ]
        );
    }

    #[test]
    fn custom_resource_names_are_dns_subdomains() {
        let errs = validate_metadata_names(
            &json!({"metadata": {"name": "Bad_Name", "namespace": "ns"}}),
            true,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.name");
        assert!(validate_metadata_names(&json!({"metadata": {"name": "a.b-c"}}), false).is_empty());
    }
}
