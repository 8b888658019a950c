//! delete and deletecollection: preconditions, finalizers, graceful pod deletion and
//! the propagation policy recorded for the garbage collector.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Value, json};
use skiff_api::ResourceInfo;

use super::read::Filter;
use super::write::guarded;
use super::{Api, Items, Reply, ResourceRequest};
use crate::apiextensions;
use crate::codec::{self, BodyType};
use crate::conversion;
use crate::object;
use crate::status::{ApiError, Details, success_status};

const MAX_ATTEMPTS: usize = 8;

/// The parts of DeleteOptions the server acts on.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// From the body (JSON, YAML or protobuf DeleteOptions) and the query parameters.
    pub fn from_request(req: &ResourceRequest) -> Result<Self, ApiError> {
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
            codec::decode_object(&req.body, body_type)?
        };
        let q = &req.query;
        let mut opts = DeleteOptions {
            grace_period: body.get("gracePeriodSeconds").and_then(Value::as_i64),
            propagation: body
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(String::from),
            precondition_uid: body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from),
            precondition_rv: body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from),
            dry_run: q.dry_run()?
                || body
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty()),
        };
        if let Some(g) = q.int("gracePeriodSeconds")? {
            opts.grace_period = Some(g);
        }
        if let Some(p) = q.get("propagationPolicy") {
            opts.propagation = Some(p.to_string());
        }
        let orphan = body
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| q.get("orphanDependents").map(|v| v == "true"));
        if orphan == Some(true) && opts.propagation.is_none() {
            opts.propagation = Some("Orphan".into());
        }
        match opts.propagation.as_deref() {
            None | Some("Background") | Some("Foreground") | Some("Orphan") => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                )));
            }
        }
        if opts.grace_period.is_some_and(|g| g < 0) {
            opts.grace_period = Some(0);
        }
        Ok(opts)
    }

    /// The finalizer a propagation policy asks the garbage collector to honour.
    fn finalizer(&self) -> Option<&'static str> {
        match self.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        }
    }
}

pub async fn delete(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    req.require_namespace()?;
    let opts = DeleteOptions::from_request(&req)?;
    let key = req.key()?;
    for _ in 0..MAX_ATTEMPTS {
        match delete_once(api, &req, &key, &opts).await {
            Err(ApiError::Conflict { .. }) if opts.precondition_rv.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict_modified(&req.resource, req.name()?))
}

async fn delete_once(
    api: &Api,
    req: &ResourceRequest,
    key: &str,
    opts: &DeleteOptions,
) -> Result<Reply, ApiError> {
    let name = req.name()?;
    let current = api
        .store
        .get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(&req.resource, name))?;
    let mut obj = object::decode_from_store(&current.value, current.mod_revision)?;
    check_preconditions(&req.resource, &obj, opts)?;
    if let Some(marked) = mark_for_deletion(&req.resource, &mut obj, opts) {
        if marked && !opts.dry_run {
            let bytes = object::encode_for_store(&mut obj)?;
            let kv = guarded(
                api.store.update(key, bytes, current.mod_revision).await,
                req,
            )?;
            object::set_resource_version(&mut obj, kv.mod_revision);
        } else {
            object::set_resource_version(&mut obj, current.mod_revision);
        }
        conversion::to_served(&req.resource, &mut obj);
        return Ok(Reply::Object {
            code: StatusCode::OK,
            value: obj,
        });
    }
    if !opts.dry_run {
        let kv = guarded(api.store.delete(key, Some(current.mod_revision)).await, req)?;
        object::set_resource_version(&mut obj, kv.mod_revision);
    }
    tracing::debug!(resource = %req.resource.plural, name, "deleted");
    Ok(deleted_reply(&req.resource, obj))
}

/// Pods answer with the deleted object, other kinds with a Success Status.
fn deleted_reply(resource: &ResourceInfo, obj: Value) -> Reply {
    if resource.group.is_empty() && resource.kind == "Pod" {
        return Reply::Object {
            code: StatusCode::OK,
            value: obj,
        };
    }
    let mut details = Details::of(resource, object::name(&obj));
    details.kind = resource.plural.clone();
    let mut status = success_status(Some(details));
    if let Some(uid) = object::meta_str(&obj, "uid") {
        status["details"]["uid"] = json!(uid);
    }
    Reply::Other {
        code: StatusCode::OK,
        value: status,
    }
}

fn check_preconditions(
    resource: &ResourceInfo,
    obj: &Value,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    let name = object::name(obj);
    if let Some(uid) = &opts.precondition_uid {
        let actual = object::meta_str(obj, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict(
                resource,
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_rv {
        let actual = object::meta_str(obj, "resourceVersion").unwrap_or_default();
        if rv != actual {
            return Err(ApiError::conflict(
                resource,
                name,
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    Ok(())
}

/// Decides whether the object only gets marked (finalizers, graceful pod deletion,
/// namespaces). `Some(changed)` when it stays; `None` when it goes now.
fn mark_for_deletion(
    resource: &ResourceInfo,
    obj: &mut Value,
    opts: &DeleteOptions,
) -> Option<bool> {
    let mut changed = false;
    let finalizer = match resource.kind.as_str() {
        // A definition's objects are deleted before the definition itself.
        "CustomResourceDefinition" if resource.group == "apiextensions.k8s.io" => {
            Some(apiextensions::CLEANUP_FINALIZER)
        }
        _ => opts.finalizer(),
    };
    if let Some(f) = finalizer
        && !object::finalizers(obj).iter().any(|x| x == f)
        && !object::is_deleting(obj)
    {
        let meta = object::meta_mut(obj);
        let list = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!(f));
        }
        changed = true;
    }
    let grace = graceful_pod_period(resource, obj, opts);
    let namespace_finalizers = resource.group.is_empty()
        && resource.kind == "Namespace"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
    if object::finalizers(obj).is_empty() && grace.is_none() && !namespace_finalizers {
        return None;
    }
    if !object::is_deleting(obj) {
        let when = chrono::Utc::now() + chrono::Duration::seconds(grace.unwrap_or(0));
        let meta = object::meta_mut(obj);
        meta.insert(
            "deletionTimestamp".into(),
            json!(when.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        meta.insert(
            "deletionGracePeriodSeconds".into(),
            json!(grace.unwrap_or(0)),
        );
        if namespace_finalizers {
            obj["status"]["phase"] = json!("Terminating");
        }
        changed = true;
    }
    Some(changed)
}

/// Pods bound to a node and still running get a grace period for the node agent to
/// stop them; upstream deletes unscheduled and finished pods at once.
fn graceful_pod_period(resource: &ResourceInfo, pod: &Value, opts: &DeleteOptions) -> Option<i64> {
    if !(resource.group.is_empty() && resource.kind == "Pod") {
        return None;
    }
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !scheduled || phase == "Succeeded" || phase == "Failed" {
        return None;
    }
    let default = pod
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    Some(opts.grace_period.unwrap_or(default)).filter(|g| *g > 0)
}

pub async fn delete_collection(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let filter = Filter::from_request(&req)?;
    let opts = DeleteOptions::from_request(&req)?;
    let global = api.cache.wait_fresh(None).await?;
    let prefix = req.resource.namespace_prefix(req.namespace.as_deref());
    let snapshot = api
        .cache
        .resource(&req.resource.storage_prefix())
        .snapshot(&prefix, global);
    let mut deleted = Vec::new();
    for obj in snapshot
        .objects
        .iter()
        .filter(|o| filter.matches_cached(&req, o))
    {
        let value = obj.value()?;
        let key = obj.key.clone();
        let one = ResourceRequest {
            name: Some(object::name(&value).to_string()),
            namespace: object::meta_str(&value, "namespace").map(String::from),
            method: req.method.clone(),
            resource: req.resource.clone(),
            subresource: None,
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            output: req.output,
            warnings: req.warnings.clone(),
        };
        match delete_once(api, &one, &key, &opts).await {
            Ok(_) => deleted.push(value),
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Reply::List {
        items: Items::Values(deleted),
        revision: api.cache.revision(),
        continue_token: None,
        remaining: None,
    })
}
