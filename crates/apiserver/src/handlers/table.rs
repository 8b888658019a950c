//! Assembles `meta.k8s.io/v1` Tables from the printers' columns and cells.

use serde_json::{Value, json};
use skiff_api::ResourceInfo;
use skiff_store::Revision;

use super::partial_metadata;
use crate::codec::IncludeObject;
use crate::status::ApiError;

/// A Table of `objects`, one row each.
pub fn table(
    resource: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    revision: Option<Revision>,
    continue_token: Option<String>,
    remaining: Option<i64>,
) -> Result<Value, ApiError> {
    let now = chrono::Utc::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": skiff_api::printers::row_cells(resource, obj, now)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(obj),
                IncludeObject::Object => row["object"] = obj.clone(),
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rev) = revision {
        metadata["resourceVersion"] = json!(rev.to_string());
    }
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    Ok(json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": skiff_api::printers::column_definitions(resource),
        "rows": rows,
    }))
}
