//! Version conversion of custom resources. Every served version of a custom resource
//! shares the stored objects; with conversion strategy `None` converting only rewrites
//! `apiVersion` between the storage version and the version a request names.

use std::borrow::Cow;

use serde_json::Value;
use skiff_api::ResourceInfo;

use crate::cache::CachedObject;
use crate::status::ApiError;

/// Whether objects of `resource` may be stored at another version than the one served.
fn converts(resource: &ResourceInfo) -> bool {
    resource.custom.as_ref().is_some_and(|c| {
        c.crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .is_some_and(|v| v.len() > 1)
    })
}

/// Rewrites `obj` to the version `resource` is served at.
pub fn to_served(resource: &ResourceInfo, obj: &mut Value) {
    if converts(resource) {
        set_api_version(obj, resource.api_version());
    }
}

/// Rewrites `obj` to the version objects of `resource` are stored at.
pub fn to_stored(resource: &ResourceInfo, obj: &mut Value) {
    if let Some(custom) = resource.custom.as_ref().filter(|_| converts(resource)) {
        set_api_version(
            obj,
            format!("{}/{}", resource.group, custom.storage_version),
        );
    }
}

/// The JSON of a cached object at the served version, converted only when needed.
pub fn served_json<'a>(
    resource: &ResourceInfo,
    obj: &'a CachedObject,
) -> Result<Cow<'a, [u8]>, ApiError> {
    if !converts(resource) {
        return Ok(Cow::Borrowed(&obj.json));
    }
    let mut value = obj.value()?;
    to_served(resource, &mut value);
    serde_json::to_vec(&value)
        .map(Cow::Owned)
        .map_err(ApiError::internal)
}

/// A cached object decoded at the served version.
pub fn served_value(resource: &ResourceInfo, obj: &CachedObject) -> Result<Value, ApiError> {
    let mut value = obj.value()?;
    to_served(resource, &mut value);
    Ok(value)
}

fn set_api_version(obj: &mut Value, api_version: String) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(api_version));
    }
}
