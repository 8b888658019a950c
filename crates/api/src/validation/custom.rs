//! Defaulting, pruning and validation of CustomResourceDefinitions and of custom
//! resources, which the definitions' schemas drive instead of built-in types.

use serde_json::{Value, json};

use super::field::FieldError;
use super::meta::{self, MetaRules};
use super::names::NameRule;
use crate::{CustomResource, ResourceInfo, crd};

/// Whether `resource` is apiextensions.k8s.io's CustomResourceDefinition.
pub fn is_crd(resource: &ResourceInfo) -> bool {
    resource.group == "apiextensions.k8s.io" && resource.kind == "CustomResourceDefinition"
}

fn meta_rules(resource: &ResourceInfo) -> MetaRules {
    MetaRules {
        namespaced: resource.namespaced,
        name: NameRule::Subdomain,
        kube_finalizers: true,
    }
}

/// Upstream's defaults of a definition: conversion strategy `None`, the singular name
/// and list kind derived from the kind.
pub fn default_crd(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("conversion")
        .or_insert_with(|| json!({"strategy": "None"}));
    let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) else {
        return;
    };
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if names
        .get("singular")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        names.insert("singular".into(), json!(kind.to_ascii_lowercase()));
    }
    if names
        .get("listKind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        names.insert("listKind".into(), json!(format!("{kind}List")));
    }
}

/// Removes the fields the schema does not know; returns their paths.
pub fn prune(custom: &CustomResource, obj: &mut Value) -> Vec<String> {
    match &custom.schema {
        Some(schema) => crd::prune(obj, schema),
        None => Vec::new(),
    }
}

/// Applies the schema's defaults.
pub fn default(custom: &CustomResource, obj: &mut Value) {
    if let Some(schema) = &custom.schema {
        crd::default(obj, schema);
    }
}

/// Validation of a new custom resource or definition.
pub fn validate_create(resource: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    meta::validate_create(obj, meta_rules(resource), &mut errs);
    if is_crd(resource) {
        errs.extend(crd::validate_crd(obj));
    } else if let Some(custom) = &resource.custom {
        errs.extend(custom.info.validate_type_meta(obj, &custom.version.name));
        if let Some(schema) = &custom.schema {
            errs.extend(crd::validate(obj, schema));
        }
        errs.extend(scale_errors(custom, obj));
    }
    errs
}

/// Validation of an updated custom resource or definition against the stored one.
pub fn validate_update(resource: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    meta::validate_update(new, old, meta_rules(resource), &mut errs);
    if is_crd(resource) {
        errs.extend(crd::validate_crd_update(new, old));
    } else if let Some(custom) = &resource.custom {
        errs.extend(custom.info.validate_type_meta(new, &custom.version.name));
        if let Some(schema) = &custom.schema {
            errs.extend(crd::validate_update(new, old, schema));
        }
        errs.extend(scale_errors(custom, new));
    }
    errs
}

fn scale_errors(custom: &CustomResource, obj: &Value) -> Vec<FieldError> {
    let Some(scale) = &custom.version.subresources.scale else {
        return Vec::new();
    };
    crd::validate_scale(obj, scale, true)
}
