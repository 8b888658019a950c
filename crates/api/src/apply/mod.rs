//! Server-side apply and field management (`metadata.managedFields`) with the semantics of
//! upstream's structured-merge-diff v6 as kube-apiserver 1.35 uses it.
//!
//! [`apply`] merges an applied configuration into the live object for a field manager,
//! removes what the manager stopped applying, detects conflicts with other managers and
//! records ownership. [`update_managed_fields`] records ownership for creates, updates and
//! patches. Both are pure: the caller passes the current time and stores the result.
//!
//! Known limitations: every manager's fields are compared in the request's version (skiff
//! serves one version per kind); scalar types are not checked against the schema.

mod builtin_types;
mod compare;
mod error;
mod fields_v1;
mod fieldset;
mod last_applied;
mod managed;
mod merge;
mod path;
mod schema;
mod typed;
mod updater;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::{Map, Value};

pub use compare::{Comparison, compare};
pub use error::{ApplyError, Conflict, Conflicts};
pub use fields_v1::{FieldsV1Error, decode as decode_fields_v1, encode as encode_fields_v1};
pub use fieldset::FieldSet;
pub use managed::{ManagedFields, ManagedFieldsEntry, ManagedFieldsError, Operation};
pub use path::{Path, PathElement};
pub use schema::{
    ApplySchema, BuiltinSchema, DeducedSchema, ElementType, Field, ListKey, builtin_schema,
};
pub use typed::{ValidationError, ValidationErrors, field_set};

/// The longest field manager name upstream accepts, in bytes.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// What an operation on managed fields needs to know about its request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a, S> {
    /// The field manager (`fieldManager`, or [`default_manager`] for non-apply requests);
    /// an empty name is recorded as `unknown`.
    pub manager: &'a str,
    /// The group/version of the request (`apps/v1`, `v1`).
    pub api_version: &'a str,
    /// The kind of the object.
    pub kind: &'a str,
    /// The subresource written (`status`, `scale`), if any.
    pub subresource: Option<&'a str>,
    /// The type of the object.
    pub schema: &'a S,
    /// Fields this request may not own, with everything below them: `status` for the main
    /// resource, everything but `status` for the status subresource (upstream's reset
    /// fields). See [`FieldSet::top_level`].
    pub reset_fields: Option<&'a FieldSet>,
    /// The current time, RFC 3339 (`2024-05-01T10:00:00Z`).
    pub now: &'a str,
}

/// The object after a server-side apply of `config` by the request's manager, with its
/// `metadata.managedFields` updated; `live` is `None` when the apply creates the object.
///
/// Applying the same configuration again returns an equal object (times included), so the
/// caller can skip the write. Without `force`, fields other managers own whose value the
/// apply would change make it fail with [`ApplyError::Conflicts`].
pub fn apply<S: ApplySchema>(
    live: Option<&Value>,
    config: &Value,
    force: bool,
    request: &Request<'_, S>,
) -> Result<Value, ApplyError> {
    let config = config_object(config)?;
    check_kind(&config, request)?;
    let managed = match live {
        Some(live) => {
            ManagedFields::of(live).map_err(|e| ApplyError::InvalidManagedFields(e.to_string()))?
        }
        None => ManagedFields::default(),
    };
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(Value::is_array)
    {
        return Err(ApplyError::ManagedFieldsSet);
    }
    typed::validate(&config, request.schema).map_err(|errors| ApplyError::InvalidConfig {
        object: describe(&config, request),
        errors,
    })?;

    let config = without_managed_fields(&config);
    let empty = Value::Object(Map::new());
    let attempt = |force: bool| {
        let mut managed = managed.clone();
        let object = updater::apply_config(
            live.unwrap_or(&empty),
            live.is_some(),
            &config,
            &mut managed,
            force,
            request,
        )?;
        Ok::<_, ApplyError>((object, managed))
    };
    let (mut object, managed) = match attempt(force) {
        Err(ApplyError::Conflicts(conflicts)) if request.manager == last_applied::KUBECTL => {
            let allowed = live.and_then(|l| last_applied::allowed_conflicts(l, request));
            let Some(allowed) = allowed else {
                return Err(ApplyError::Conflicts(conflicts));
            };
            let rest = last_applied::remaining(&conflicts.0, &allowed);
            if !rest.is_empty() {
                return Err(ApplyError::Conflicts(Conflicts(rest)));
            }
            attempt(true)?
        }
        result => result?,
    };
    if request.manager == last_applied::KUBECTL {
        last_applied::refresh(&mut object, &config);
    }
    managed.write_to(&mut object);
    Ok(object)
}

/// Records in `new.metadata.managedFields` that the request's manager turned `old` into
/// `new` (create when `old` is `None`, update or non-apply patch otherwise): fields it
/// added or changed become its own, removed fields leave every entry.
///
/// As upstream: managed fields the client sent in `new` are taken as the starting point
/// when they are valid and not empty, an empty list (or one empty entry) drops them all,
/// subresource writes always start from the stored ones, and an existing object without
/// managed fields keeps none until it is applied to. Never fails: unreadable managed
/// fields fall back to the stored ones, or to none.
pub fn update_managed_fields<S: ApplySchema>(
    old: Option<&Value>,
    new: &mut Value,
    request: &Request<'_, S>,
) {
    let stored = || {
        old.and_then(|o| ManagedFields::of(o).ok())
            .unwrap_or_default()
    };
    let sent = new.pointer("/metadata/managedFields");
    let mut managed = if request.subresource.is_some_and(|s| !s.is_empty()) {
        stored()
    } else if ManagedFields::is_reset(sent) {
        ManagedFields::default()
    } else {
        match sent.map(ManagedFields::decode) {
            Some(Ok(managed)) if !managed.is_empty() => managed,
            _ => stored(),
        }
    };
    if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.shift_remove("managedFields");
    }

    let existing = old.is_some_and(|o| {
        o.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .is_some_and(|uid| !uid.is_empty())
    });
    if managed.is_empty() && existing {
        return;
    }
    // The old object's managed fields count as one atomic field, which nobody owns.
    let empty = Value::Object(Map::new());
    updater::record_update(
        old.unwrap_or(&empty),
        new,
        &mut managed,
        request.manager,
        request,
    );
    managed.write_to(new);
}

/// The field manager of a request that names none: the User-Agent up to its first `/`,
/// without unprintable characters, cut to [`FIELD_MANAGER_MAX_LENGTH`] bytes
/// (`kubectl/v1.35.0 (linux/amd64)` -> `kubectl`). Empty without a User-Agent; such
/// requests are recorded as `unknown`.
pub fn default_manager(user_agent: Option<&str>) -> String {
    let prefix = user_agent.unwrap_or("").split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in prefix
        .chars()
        .filter(|c| crate::gojson::is_go_printable(*c))
    {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

/// Why a `fieldManager` parameter is invalid; messages follow upstream's field errors.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FieldManagerError {
    #[error("fieldManager: Too long: may not be more than 128 bytes")]
    TooLong,
    #[error(
        "fieldManager: Invalid value: {value}: invalid character U+{code:04X} (at position {position})"
    )]
    InvalidCharacter {
        /// The whole name, quoted.
        value: String,
        code: u32,
        /// Byte offset of the character.
        position: usize,
    },
}

/// Checks a `fieldManager` parameter: at most 128 bytes, printable characters only.
pub fn validate_field_manager(name: &str) -> Vec<FieldManagerError> {
    let mut errors = Vec::new();
    if name.len() > FIELD_MANAGER_MAX_LENGTH {
        errors.push(FieldManagerError::TooLong);
    }
    for (position, c) in name.char_indices() {
        if !crate::gojson::is_go_printable(c) {
            errors.push(FieldManagerError::InvalidCharacter {
                value: crate::gojson::go_quote(name),
                code: c as u32,
                position,
            });
        }
    }
    errors
}

fn config_object(config: &Value) -> Result<Cow<'_, Value>, ApplyError> {
    match config {
        Value::Object(_) => Ok(Cow::Borrowed(config)),
        Value::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        Value::Array(_) => Err(ApplyError::NotAnObject("array")),
        Value::String(_) => Err(ApplyError::NotAnObject("string")),
        Value::Number(_) => Err(ApplyError::NotAnObject("number")),
        Value::Bool(_) => Err(ApplyError::NotAnObject("bool")),
    }
}

/// Group and version of an apiVersion; malformed ones have neither.
fn group_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        None => ("", api_version),
        Some((_, version)) if version.contains('/') => ("", ""),
        Some((group, version)) => (group, version),
    }
}

/// `group/version, Kind=kind` of `object`, as upstream prints a GroupVersionKind.
fn gvk_of(object: &Value) -> String {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = group_version(api_version);
    let kind = if api_version.matches('/').count() > 1 {
        ""
    } else {
        kind
    };
    format!("{group}/{version}, Kind={kind}")
}

fn check_kind<S>(config: &Value, request: &Request<'_, S>) -> Result<(), ApplyError> {
    let (group, version) = group_version(request.api_version);
    let expected = format!("{group}/{version}, Kind={}", request.kind);
    let actual = gvk_of(config);
    if actual == expected {
        Ok(())
    } else {
        Err(ApplyError::WrongKind(actual))
    }
}

/// `namespace/name; group/version, Kind=kind` of a configuration, for error messages.
fn describe<S>(config: &Value, request: &Request<'_, S>) -> String {
    let text = |key: &str| {
        config
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (group, version) = group_version(request.api_version);
    format!(
        "{}/{}; {group}/{version}, Kind={}",
        text("namespace"),
        text("name"),
        request.kind
    )
}

/// `object` without `metadata.managedFields`, copied only when it has them.
fn without_managed_fields(object: &Value) -> Cow<'_, Value> {
    let has = object
        .get("metadata")
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key("managedFields"));
    if !has {
        return Cow::Borrowed(object);
    }
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.shift_remove("managedFields");
    }
    Cow::Owned(copy)
}
