//! kubectl's migration from client-side apply: a server-side apply by the `kubectl`
//! manager may take the fields its `kubectl.kubernetes.io/last-applied-configuration`
//! annotation still matches, and keeps that annotation up to date.

use serde_json::{Map, Value};

use super::Request;
use super::compare::compare;
use super::error::Conflict;
use super::fieldset::FieldSet;
use super::schema::ApplySchema;
use super::typed::{field_set, validate};
use crate::gojson::write_json;

/// The annotation client-side apply keeps the last applied configuration in.
pub(super) const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager name `kubectl apply --server-side` uses, which gets this treatment.
pub(super) const KUBECTL: &str = "kubectl";

/// Upstream's limit on the total size of an object's annotations.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn annotation(object: &Value) -> Option<&str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields whose conflicts kubectl may override: those the last applied configuration
/// sets and the live object still holds unchanged. `None` when there is no usable
/// annotation.
pub(super) fn allowed_conflicts<S: ApplySchema>(
    live: &Value,
    request: &Request<'_, S>,
) -> Option<FieldSet> {
    let last: Value = serde_json::from_str(annotation(live)?).ok()?;
    if !last.is_object()
        || last.get("apiVersion").and_then(Value::as_str) != Some(request.api_version)
    {
        return None;
    }
    validate(&last, request.schema).ok()?;
    let comparison = compare(&last, live, request.schema);
    Some(
        field_set(&last, request.schema)
            .difference(&comparison.modified)
            .difference(&comparison.added)
            .difference(&comparison.removed),
    )
}

/// The conflicts that remain once those on `allowed` fields are dropped.
pub(super) fn remaining(conflicts: &[Conflict], allowed: &FieldSet) -> Vec<Conflict> {
    conflicts
        .iter()
        .filter(|c| !allowed.has(&c.path.0))
        .cloned()
        .collect()
}

/// Rewrites the annotation of `object`, when it has one, to `config` without the
/// annotation, as Go's JSON encoder writes it; drops it when annotations grow too big.
pub(super) fn refresh(object: &mut Value, config: &Value) {
    if annotation(object).is_none() {
        return;
    }
    let mut last = config.clone();
    if let Some(annotations) = last
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove(ANNOTATION);
    }
    let mut text = String::new();
    write_json(&mut text, &last);
    text.push('\n');

    let Some(annotations) = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    annotations.insert(ANNOTATION.into(), Value::String(text));
    if annotations_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT {
        annotations.shift_remove(ANNOTATION);
    }
}

fn annotations_size(annotations: &Map<String, Value>) -> usize {
    annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}
