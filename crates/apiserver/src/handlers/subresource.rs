//! Subresources: `status` (only `.status` changes), `scale` (an autoscaling/v1 Scale
//! view of `.spec.replicas`) and pods' `binding`.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use skiff_api::selectors::LabelSelector;
use skiff_api::{ResourceInfo, Subresource};

use super::write::{self, Mode, Patch, update_with};
use super::{Api, Reply, ResourceRequest, read};
use crate::codec::{self, BodyType};
use crate::object;
use crate::status::{ApiError, success_status};

pub async fn handle(
    api: &Arc<Api>,
    req: ResourceRequest,
    sub: Subresource,
) -> Result<Reply, ApiError> {
    req.require_namespace()?;
    match (sub, req.method.clone()) {
        (Subresource::Status, Method::GET) => read::get(api, req).await,
        (Subresource::Status, Method::PUT) => write::update(api, req).await,
        (Subresource::Status, Method::PATCH) => write::patch(api, req).await,
        (Subresource::Scale, Method::GET) => {
            let obj = read::get_object(api, &req).await?;
            Ok(Reply::Other {
                code: StatusCode::OK,
                value: scale_of(&req.resource, &obj),
            })
        }
        (Subresource::Scale, Method::PUT) => update_scale(api, req).await,
        (Subresource::Scale, Method::PATCH) => patch_scale(api, req).await,
        (Subresource::Binding, Method::POST) => bind(api, req).await,
        (Subresource::Finalize, Method::PUT) => finalize(api, req).await,
        (sub, method) => Err(ApiError::MethodNotAllowed {
            message: format!(
                "the server does not allow {method} on the {} subresource",
                sub.name()
            ),
        }),
    }
}

/// Where a custom resource keeps what its scale subresource shows.
fn custom_scale(resource: &ResourceInfo) -> Option<&skiff_api::crd::ScaleSubresource> {
    resource
        .custom
        .as_ref()
        .and_then(|c| c.version.subresources.scale.as_ref())
}

/// Sets the desired replicas of a scalable object.
fn set_replicas(resource: &ResourceInfo, obj: &mut Value, replicas: i64) {
    match custom_scale(resource) {
        Some(scale) => skiff_api::crd::write_spec_replicas(obj, scale, replicas),
        None => obj["spec"]["replicas"] = json!(replicas),
    }
}

/// The autoscaling/v1 Scale of a scalable object.
fn scale_of(resource: &ResourceInfo, obj: &Value) -> Value {
    let meta = object::meta(obj).cloned().unwrap_or_default();
    let mut metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(field) {
            metadata[field] = v.clone();
        }
    }
    let (replicas, mut status) = match custom_scale(resource) {
        Some(scale) => {
            let values = skiff_api::crd::read_scale(obj, scale);
            let mut status = json!({"replicas": values.status_replicas});
            if !values.selector.is_empty() {
                status["selector"] = json!(values.selector);
            }
            (values.spec_replicas, status)
        }
        None => {
            let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64);
            let status = obj.pointer("/status/replicas").and_then(Value::as_i64);
            (
                replicas.unwrap_or(0),
                json!({"replicas": status.unwrap_or(0)}),
            )
        }
    };
    let selector = obj
        .pointer("/spec/selector")
        .filter(|_| resource.custom.is_none())
        .map(LabelSelector::from_label_selector_json);
    if let Some(Ok(sel)) = selector {
        status["selector"] = json!(sel.to_string());
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": replicas},
        "status": status,
    })
}

fn replicas_of_scale(scale: &Value) -> Result<i64, ApiError> {
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_i64().filter(|r| *r >= 0).ok_or_else(|| {
            ApiError::bad_request(format!(
                "spec.replicas: Invalid value: {v}: must be a non-negative integer"
            ))
        }),
    }
}

async fn update_scale(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
    let scale = codec::decode_object(&req.body, body_type)?;
    let replicas = replicas_of_scale(&scale)?;
    let precondition = object::meta_str(&scale, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(object::parse_resource_version)
        .transpose()?;
    let resource = req.resource.clone();
    let reply = update_with(api, &req, precondition, Mode::Main, |old| {
        let mut new = old.clone();
        set_replicas(&req.resource, &mut new, replicas);
        Ok(new)
    })
    .await?;
    Ok(as_scale(&resource, reply))
}

async fn patch_scale(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let patch = Patch::decode(&req)?;
    let precondition = patch.precondition()?;
    let resource = req.resource.clone();
    let reply = update_with(api, &req, precondition, Mode::Main, |old| {
        let scale = patch.apply("autoscaling", "v1", "Scale", &scale_of(&req.resource, old))?;
        let replicas = replicas_of_scale(&scale)?;
        let mut new = old.clone();
        set_replicas(&req.resource, &mut new, replicas);
        Ok(new)
    })
    .await?;
    Ok(as_scale(&resource, reply))
}

fn as_scale(resource: &ResourceInfo, reply: Reply) -> Reply {
    match reply {
        Reply::Object { code, value } => Reply::Other {
            code,
            value: scale_of(resource, &value),
        },
        other => other,
    }
}

/// Binds a pod to a node: sets `spec.nodeName` once and the PodScheduled condition.
async fn bind(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
    let binding = codec::decode_object(&req.body, body_type)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        let cause = skiff_api::validation::FieldError::required("target.name");
        return Err(ApiError::invalid(&req.resource, req.name()?, vec![cause]));
    }
    let name = req.name()?.to_string();
    update_with(api, &req, None, Mode::Internal, |old| {
        let current = old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !current.is_empty() {
            return Err(ApiError::conflict(
                &req.resource,
                &name,
                format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        if object::is_deleting(old) {
            return Err(ApiError::conflict(
                &req.resource,
                &name,
                format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!(node);
        set_scheduled_condition(&mut new);
        Ok(new)
    })
    .await?;
    Ok(Reply::Other {
        code: StatusCode::CREATED,
        value: success_status(None),
    })
}

fn set_scheduled_condition(pod: &mut Value) {
    let condition = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": object::now_rfc3339(),
    });
    let status = pod
        .as_object_mut()
        .map(|o| o.entry("status").or_insert_with(|| json!({})));
    let Some(status) = status.and_then(Value::as_object_mut) else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        list.push(condition);
    }
}

/// Replaces a namespace's `spec.finalizers` and nothing else; the namespace goes once
/// it is being deleted and no finalizer of either kind is left.
async fn finalize(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let body_type = BodyType::from_content_type(req.header(http::header::CONTENT_TYPE))?;
    let body = codec::decode_object(&req.body, body_type)?;
    let finalizers = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let precondition = object::meta_str(&body, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(object::parse_resource_version)
        .transpose()?;
    update_with(api, &req, precondition, Mode::Internal, |old| {
        let mut new = old.clone();
        new["spec"]["finalizers"] = finalizers.clone();
        Ok(new)
    })
    .await
}
