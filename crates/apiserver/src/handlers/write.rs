//! create, update and patch: decoding, server-set metadata, defaulting, validation and
//! the guarded store write.

use std::sync::Arc;

use http::StatusCode;
use rand::Rng;
use serde_json::{Value, json};
use skiff_api::{ResourceInfo, Subresource, validation};
use skiff_store::{KeyValue, Revision};

use super::fields::Manager;
use super::{Api, Reply, ResourceRequest};
use crate::codec::{self, BodyType};
use crate::conversion;
use crate::object;
use crate::status::ApiError;

/// Attempts of a patch or unconditional update that races other writers.
const MAX_ATTEMPTS: usize = 8;

/// Characters of generated name suffixes, as upstream picks them (no vowels, no
/// look-alike digits).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub async fn create(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let manager = Manager::of(&req, false)?;
    let mut obj = decode_body(&req)?;
    check_type(&req.resource, &mut obj)?;
    set_namespace(&req, &mut obj)?;
    generate_name(&mut obj);
    check_fields(&req, &mut obj)?;
    create_object(api, &req, obj, Some(&manager)).await
}

/// Stores a new object decoded from a request. `manager` records the fields it set;
/// without one the object carries managed fields already (server-side apply).
async fn create_object(
    api: &Arc<Api>,
    req: &ResourceRequest,
    mut obj: Value,
    manager: Option<&Manager>,
) -> Result<Reply, ApiError> {
    if req.resource.namespaced && req.namespace.is_none() {
        return Err(ApiError::MethodNotAllowed {
            message: format!("{} must be created in a namespace", req.resource.plural),
        });
    }
    if let Some(custom) = req.resource.custom.as_ref().filter(|c| c.terminating()) {
        return Err(ApiError::MethodNotAllowed {
            message: format!(
                "create not allowed while custom resource definition is terminating: {}",
                object::name(&custom.crd)
            ),
        });
    }
    let name = object::name(&obj).to_string();
    init_metadata(&req.resource, &mut obj);
    prepare_for_create(&req.resource, &mut obj);
    validation::apply_defaults(&req.resource, &mut obj);
    if req.resource.group == "batch" && req.resource.kind == "Job" {
        let uid = object::meta_str(&obj, "uid")
            .unwrap_or_default()
            .to_string();
        validation::generate_job_selector(&mut obj, &uid);
    }
    if let Some(manager) = manager {
        manager.record(&req.resource, None, &mut obj);
    }
    let errors = validation::validate_create(&req.resource, &obj);
    if !errors.is_empty() {
        return Err(ApiError::invalid(&req.resource, &name, errors));
    }
    check_namespace_accepts(api, req, &name).await?;
    if req.query.dry_run()? {
        return Ok(Reply::Object {
            code: StatusCode::CREATED,
            value: obj,
        });
    }
    let key = req.resource.storage_key(req.namespace.as_deref(), &name);
    let bytes = stored_bytes(&req.resource, &mut obj)?;
    let kv = api.store.create(&key, bytes).await.map_err(|e| match e {
        skiff_store::Error::AlreadyExists(_) => ApiError::already_exists(&req.resource, &name),
        other => other.into(),
    })?;
    object::set_resource_version(&mut obj, kv.mod_revision);
    tracing::debug!(resource = %req.resource.plural, name = %name, rev = kv.mod_revision, "created");
    Ok(Reply::Object {
        code: StatusCode::CREATED,
        value: obj,
    })
}

/// The object in a create or update body. Custom resources have no protobuf form.
fn decode_body(req: &ResourceRequest) -> Result<Value, ApiError> {
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
    if body_type == BodyType::Protobuf
        && !skiff_api::protobuf::decodes(&req.resource.api_version(), &req.resource.kind)
    {
        return Err(ApiError::UnsupportedMediaType {
            message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".into(),
        });
    }
    codec::decode_object(&req.body, body_type)
}

/// Fills in a missing apiVersion or kind from the endpoint, as upstream's decoder
/// defaults them, and rejects ones that name another type.
pub fn check_type(resource: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let expected_version = resource.api_version();
    let fields = [
        ("apiVersion", expected_version.as_str()),
        ("kind", resource.kind.as_str()),
    ];
    for (field, expected) in fields {
        match obj.get(field) {
            None | Some(Value::Null) => obj[field] = json!(expected),
            Some(Value::String(s)) if s.is_empty() => obj[field] = json!(expected),
            Some(Value::String(s)) if s == expected => {}
            Some(other) => {
                let what = if field == "kind" {
                    "kind"
                } else {
                    "API version"
                };
                let got = other
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| other.to_string());
                return Err(ApiError::bad_request(format!(
                    "the {what} in the data ({got}) does not match the expected {what} ({expected})"
                )));
            }
        }
    }
    Ok(())
}

fn set_namespace(req: &ResourceRequest, obj: &mut Value) -> Result<(), ApiError> {
    let meta = object::meta_mut(obj);
    if !req.resource.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let expected = req.namespace.as_deref().unwrap_or_default();
    match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() && ns != expected => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), json!(expected));
            Ok(())
        }
    }
}

fn generate_name(obj: &mut Value) {
    if !object::name(obj).is_empty() {
        return;
    }
    let Some(prefix) = object::meta_str(obj, "generateName").map(String::from) else {
        return;
    };
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect();
    let mut name = prefix;
    name.truncate(253 - 5);
    name.push_str(&suffix);
    object::meta_mut(obj).insert("name".into(), json!(name));
}

/// Decoding check and unknown fields: an error with fieldValidation=Strict, a warning
/// with Warn (the default), nothing with Ignore. Custom resources lose their unknown
/// fields whatever the setting.
fn check_fields(req: &ResourceRequest, obj: &mut Value) -> Result<(), ApiError> {
    let pruned = validation::prune_unknown(&req.resource, obj);
    validation::check_decodes(&req.resource, obj).map_err(ApiError::bad_request)?;
    let strict = match req.query.get("fieldValidation") {
        Some("Ignore") => return Ok(()),
        None | Some("Warn") => false,
        Some("Strict") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation {other:?} is invalid: supported values: \"Ignore\", \"Warn\", \"Strict\""
            )));
        }
    };
    let unknown: Vec<String> = validation::unknown_fields(&req.resource, obj)
        .iter()
        .chain(&pruned)
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    if strict {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        )));
    }
    for warning in unknown {
        req.warnings.push(warning);
    }
    Ok(())
}

/// Server-owned metadata of a new object.
fn init_metadata(resource: &ResourceInfo, obj: &mut Value) {
    let has_spec = obj.get("spec").is_some();
    let meta = object::meta_mut(obj);
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
    meta.remove("resourceVersion");
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if has_spec || resource.has_subresource(Subresource::Scale) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
}

/// What upstream's strategies reset on create: status written by controllers.
fn prepare_for_create(resource: &ResourceInfo, obj: &mut Value) {
    if resource.custom.is_some() && resource.has_subresource(Subresource::Status) {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
        return;
    }
    if resource.kind == "CustomResourceDefinition" && resource.group == "apiextensions.k8s.io" {
        return skiff_api::crd::prepare_for_create(obj);
    }
    let status = match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Namespace") => json!({"phase": "Active"}),
        ("", "Pod") => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        ("", "PersistentVolumeClaim") | ("", "PersistentVolume") => json!({"phase": "Pending"}),
        ("", "Service") => json!({"loadBalancer": {}}),
        ("apps", _) | ("batch", _) | ("policy", "PodDisruptionBudget") | ("", "ResourceQuota") => {
            json!({})
        }
        _ => return,
    };
    if resource.kind == "Namespace" {
        let name = object::name(obj).to_string();
        let labels = object::meta_mut(obj)
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
        let spec = obj
            .as_object_mut()
            .map(|o| o.entry("spec").or_insert_with(|| json!({})));
        if let Some(spec) = spec.and_then(Value::as_object_mut) {
            spec.entry("finalizers")
                .or_insert_with(|| json!(["kubernetes"]));
        }
    }
    obj["status"] = status;
}

/// The pod's QoS class from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed && !containers.is_empty()) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// New objects need an existing namespace that is not being deleted. Read from the
/// watch cache; a namespace the cache does not know yet gets one freshness wait.
async fn check_namespace_accepts(
    api: &Api,
    req: &ResourceRequest,
    name: &str,
) -> Result<(), ApiError> {
    let Some(ns) = req.namespace.as_deref().filter(|_| req.resource.namespaced) else {
        return Ok(());
    };
    let namespaces = api
        .registry
        .find("", "v1", "namespaces")
        .ok_or(ApiError::NoSuchPath)?;
    let key = namespaces.storage_key(None, ns);
    let cache = api.cache.resource(&namespaces.storage_prefix());
    let cached = match cache.get(&key) {
        Some(c) => c,
        None => {
            api.cache.wait_fresh(None).await?;
            cache
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&namespaces, ns))?
        }
    };
    if object::is_deleting(&cached.value()?) {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                req.resource.group_resource(),
                name
            ),
            details: None,
        });
    }
    Ok(())
}

pub async fn update(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    req.require_namespace()?;
    let mut obj = decode_body(&req)?;
    check_type(&req.resource, &mut obj)?;
    set_namespace(&req, &mut obj)?;
    let name = req.name()?.to_string();
    if object::name(&obj) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            object::name(&obj)
        )));
    }
    check_fields(&req, &mut obj)?;
    let precondition = object::meta_str(&obj, "resourceVersion")
        .filter(|rv| !rv.is_empty())
        .map(object::parse_resource_version)
        .transpose()?;
    let mode = if req.subresource == Some(Subresource::Status) {
        Mode::Status
    } else {
        Mode::Main
    };
    update_with(api, &req, precondition, mode, |_| Ok(obj.clone())).await
}

/// Which part of an object an update may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything but status, for resources with a status subresource.
    Main,
    /// Only status.
    Status,
    /// Spec and status together, for server-side changes such as a binding that are
    /// not user updates and skip update validation.
    Internal,
}

/// Reads the current object, computes the new one with `change`, prepares and
/// validates it, and writes it guarded by the revision read; retries on races unless
/// the client gave a resourceVersion precondition.
pub async fn update_with(
    api: &Api,
    req: &ResourceRequest,
    precondition: Option<Revision>,
    mode: Mode,
    mut change: impl FnMut(&Value) -> Result<Value, ApiError>,
) -> Result<Reply, ApiError> {
    let key = req.key()?;
    let name = req.name()?;
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE));
    // A binding writes the pod straight through, as upstream's does: it records no
    // field manager.
    let manager = match body_type {
        Ok(BodyType::ApplyPatch) => None,
        _ if req.subresource == Some(Subresource::Binding) => None,
        _ => Some(Manager::of(req, false)?),
    };
    for _ in 0..MAX_ATTEMPTS {
        let current = current_object(api, req, &key).await?;
        let mut old = object::decode_from_store(&current.value, current.mod_revision)?;
        conversion::to_served(&req.resource, &mut old);
        if let Some(rev) = precondition
            && rev != current.mod_revision
        {
            return Err(ApiError::conflict_modified(&req.resource, name));
        }
        let mut new = change(&old)?;
        validation::prune_unknown(&req.resource, &mut new);
        check_type(&req.resource, &mut new)?;
        prepare_update(&req.resource, &old, &mut new, mode)?;
        if let Some(manager) = &manager {
            manager.record(&req.resource, Some(&old), &mut new);
        }
        let errors = match mode {
            Mode::Internal => Vec::new(),
            _ => validation::validate_update(&req.resource, &new, &old),
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid(&req.resource, name, errors));
        }
        match commit_update(api, req, &key, &old, new, current.mod_revision).await {
            Err(ApiError::Conflict { .. }) if precondition.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict_modified(&req.resource, name))
}

async fn current_object(api: &Api, req: &ResourceRequest, key: &str) -> Result<KeyValue, ApiError> {
    api.store
        .get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(&req.resource, req.name.as_deref().unwrap_or_default()))
}

/// Carries server-owned fields over from `old` and applies the subresource rules.
pub fn prepare_update(
    resource: &ResourceInfo,
    old: &Value,
    new: &mut Value,
    mode: Mode,
) -> Result<(), ApiError> {
    if mode == Mode::Status {
        let status = new.get("status").cloned();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return Ok(());
    }
    let old_meta = object::meta(old).cloned().unwrap_or_default();
    let uid = old_meta.get("uid").cloned().unwrap_or(Value::Null);
    if let Some(new_uid) = object::meta_str(new, "uid").filter(|u| !u.is_empty())
        && Some(new_uid) != uid.as_str()
    {
        return Err(ApiError::conflict(
            resource,
            object::name(old),
            format!(
                "Precondition failed: UID in precondition: {new_uid}, UID in object meta: {}",
                uid.as_str().unwrap_or("")
            ),
        ));
    }
    let spec_changed = new.get("spec") != old.get("spec");
    let meta = object::meta_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    if spec_changed && let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        meta.insert("generation".into(), json!(g + 1));
    }
    if mode == Mode::Main && resource.has_subresource(Subresource::Status) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    if mode == Mode::Main
        && resource.kind == "CustomResourceDefinition"
        && resource.group == "apiextensions.k8s.io"
    {
        skiff_api::crd::prepare_for_update(new, old);
    }
    validation::apply_defaults(resource, new);
    Ok(())
}

/// Writes an update, or finishes a deletion whose last finalizer went away, or does
/// nothing when the object did not change.
pub async fn commit_update(
    api: &Api,
    req: &ResourceRequest,
    key: &str,
    old: &Value,
    mut new: Value,
    revision: Revision,
) -> Result<Reply, ApiError> {
    let dry_run = req.query.dry_run()?;
    object::set_resource_version(&mut new, revision);
    if &new == old {
        return Ok(Reply::Object {
            code: StatusCode::OK,
            value: new,
        });
    }
    if object::is_deleting(&new) && object::finalizers(&new).is_empty() && !namespace_held(&new) {
        if !dry_run {
            guarded(api.store.delete(key, Some(revision)).await, req)?;
        }
        return Ok(Reply::Object {
            code: StatusCode::OK,
            value: new,
        });
    }
    if dry_run {
        return Ok(Reply::Object {
            code: StatusCode::OK,
            value: new,
        });
    }
    let bytes = stored_bytes(&req.resource, &mut new)?;
    let kv = guarded(api.store.update(key, bytes, revision).await, req)?;
    object::set_resource_version(&mut new, kv.mod_revision);
    Ok(Reply::Object {
        code: StatusCode::OK,
        value: new,
    })
}

/// The bytes to store for `obj`: at the storage version, without resourceVersion.
/// `obj` loses its resourceVersion on the way.
fn stored_bytes(resource: &ResourceInfo, obj: &mut Value) -> Result<bytes::Bytes, ApiError> {
    if resource.custom.is_none() {
        return object::encode_for_store(obj);
    }
    let mut stored = obj.clone();
    conversion::to_stored(resource, &mut stored);
    object::encode_for_store(&mut stored)
}

/// A namespace also waits for its `spec.finalizers` (emptied through `finalize`).
fn namespace_held(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Namespace")
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

/// Maps the failures of a revision-guarded write.
pub fn guarded<T>(result: skiff_store::Result<T>, req: &ResourceRequest) -> Result<T, ApiError> {
    let name = req.name.as_deref().unwrap_or_default();
    result.map_err(|e| match e {
        skiff_store::Error::Conflict { .. } => ApiError::conflict_modified(&req.resource, name),
        skiff_store::Error::NotFound(_) => ApiError::not_found(&req.resource, name),
        other => other.into(),
    })
}

pub async fn patch(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    req.require_namespace()?;
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
    if body_type == BodyType::ApplyPatch {
        return apply_patch(api, req).await;
    }
    let mode = if req.subresource == Some(Subresource::Status) {
        Mode::Status
    } else {
        Mode::Main
    };
    let patch = Patch::decode(&req)?;
    let precondition = patch.precondition()?;
    let resource = req.resource.clone();
    update_with(api, &req, precondition, mode, |old| {
        patch.apply(&resource.group, &resource.version, &resource.kind, old)
    })
    .await
}

/// Server-side apply (`application/apply-patch+yaml`): merges the applied configuration
/// for its field manager, creating the object when it does not exist.
async fn apply_patch(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let manager = Manager::of(&req, true)?;
    let force = req.query.flag("force");
    let mode = if req.subresource == Some(Subresource::Status) {
        Mode::Status
    } else {
        Mode::Main
    };
    let mut config = codec::decode_yaml(&req.body)?;
    if config.is_null() {
        config = json!({});
    }
    if let Some(m) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    check_fields(&req, &mut config)?;
    let name = req.name()?.to_string();
    if !object::name(&config).is_empty() && object::name(&config) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            object::name(&config)
        )));
    }
    for _ in 0..MAX_ATTEMPTS {
        let updated = update_with(api, &req, None, mode, |old| {
            manager.apply(&req.resource, Some(old), &config, force)
        })
        .await;
        match updated {
            Err(ApiError::NotFound(_)) if mode == Mode::Main => {}
            other => return other,
        }
        let mut obj = manager.apply(&req.resource, None, &config, force)?;
        check_type(&req.resource, &mut obj)?;
        set_namespace(&req, &mut obj)?;
        object::meta_mut(&mut obj).insert("name".into(), json!(name));
        match create_object(api, &req, obj, None).await {
            Err(ApiError::AlreadyExists(_)) => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict_modified(&req.resource, &name))
}

/// Maps a strategic merge failure to the status upstream answers with.
fn strategic_error(e: skiff_api::patch::PatchError) -> ApiError {
    let message = e.to_string();
    if matches!(e, skiff_api::patch::PatchError::Unsupported) {
        return ApiError::UnsupportedMediaType { message };
    }
    match e.status_code() {
        400 => ApiError::bad_request(message),
        415 => ApiError::UnsupportedMediaType { message },
        422 => ApiError::Invalid {
            message,
            details: Default::default(),
            causes: vec![],
        },
        _ => ApiError::Internal { message },
    }
}

/// A decoded patch body.
pub enum Patch {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value),
}

impl Patch {
    pub fn decode(req: &ResourceRequest) -> Result<Self, ApiError> {
        let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
        match body_type {
            BodyType::JsonPatch => serde_json::from_slice(&req.body)
                .map(Patch::Json)
                .map_err(|e| ApiError::bad_request(format!("the request body is not a valid JSON patch: {e}"))),
            BodyType::MergePatch => {
                let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
                    ApiError::bad_request(format!("the request body is not a valid JSON merge patch: {e}"))
                })?;
                Ok(Patch::Merge(v))
            }
            // Upstream has no merge metadata for custom resources and refuses the type.
            BodyType::StrategicMergePatch if req.resource.custom.is_some() => {
                Err(ApiError::UnsupportedMediaType {
                    message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
                })
            }
            BodyType::StrategicMergePatch => {
                let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
                    ApiError::bad_request(format!("the request body is not a valid strategic merge patch: {e}"))
                })?;
                if !v.is_object() {
                    return Err(ApiError::bad_request("a strategic merge patch must be a JSON object"));
                }
                Ok(Patch::Strategic(v))
            }
            _ => Err(ApiError::UnsupportedMediaType {
                message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json".into(),
            }),
        }
    }

    /// A resourceVersion the patch sets, which then acts as a precondition.
    pub fn precondition(&self) -> Result<Option<Revision>, ApiError> {
        match self {
            Patch::Merge(v) | Patch::Strategic(v) => v
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(object::parse_resource_version)
                .transpose(),
            Patch::Json(_) => Ok(None),
        }
    }

    /// Applies the patch to `old`, an object of the given kind.
    pub fn apply(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        old: &Value,
    ) -> Result<Value, ApiError> {
        let mut new = old.clone();
        match self {
            Patch::Strategic(p) => {
                new = skiff_api::patch::strategic_merge_kind(group, version, kind, old, p)
                    .map_err(strategic_error)?;
            }
            Patch::Json(p) => json_patch::patch(&mut new, p).map_err(|e| ApiError::Invalid {
                message: format!(
                    "the server rejected our request due to an error in our request: {e}"
                ),
                details: Default::default(),
                causes: vec![],
            })?,
            Patch::Merge(p) => json_patch::merge(&mut new, p),
        }
        if !new.is_object() {
            return Err(ApiError::bad_request("the patch does not leave an object"));
        }
        Ok(new)
    }
}
