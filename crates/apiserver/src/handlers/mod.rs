//! Request handling for resources: routing of verbs to handlers and rendering of
//! their replies in the negotiated format.

mod delete;
mod fields;
mod read;
mod subresource;
mod table;
mod watch;
mod write;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use serde_json::{Value, json};
use skiff_api::{ResourceInfo, Subresource};
use skiff_store::{Revision, Store};

use crate::cache::{Cache, CachedObject};
use crate::codec::{self, IncludeObject, Output};
use crate::conversion;
use crate::registry::Registry;
use crate::request::{Query, ResourcePath};
use crate::status::ApiError;

/// Response body: whole or streamed.
pub type Body = BoxBody<Bytes, Infallible>;

/// Everything request handlers share.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub cache: Arc<Cache>,
    pub registry: Registry,
}

/// One resource request, with the resource looked up.
pub struct ResourceRequest {
    pub method: Method,
    pub resource: Arc<ResourceInfo>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<Subresource>,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub output: Output,
    /// Warnings for the response's `Warning` headers (unknown fields under
    /// fieldValidation=Warn).
    pub warnings: Warnings,
}

/// Warnings collected while handling a request, sent as `Warning: 299 - "..."`.
#[derive(Clone, Debug, Default)]
pub struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, text: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(text);
    }

    fn add_headers(&self, response: &mut http::Response<Body>) {
        for text in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
            if let Ok(v) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
                response.headers_mut().append(header::WARNING, v);
            }
        }
    }
}

impl ResourceRequest {
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The object name, which object-level verbs require.
    pub fn name(&self) -> Result<&str, ApiError> {
        self.name
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("a resource name is required"))
    }

    pub fn key(&self) -> Result<String, ApiError> {
        Ok(self
            .resource
            .storage_key(self.namespace.as_deref(), self.name()?))
    }

    /// Namespaced resources need a namespace for object-level verbs.
    pub fn require_namespace(&self) -> Result<(), ApiError> {
        if self.resource.namespaced && self.namespace.is_none() {
            return Err(ApiError::NoSuchPath);
        }
        Ok(())
    }
}

/// Items of a list reply.
pub enum Items {
    Cached(Vec<Arc<CachedObject>>),
    Values(Vec<Value>),
}

/// What a handler answers before encoding.
pub enum Reply {
    Object {
        code: StatusCode,
        value: Value,
    },
    /// A body that is no object of the resource (Status, Scale, ...): never a Table.
    Other {
        code: StatusCode,
        value: Value,
    },
    List {
        items: Items,
        revision: Revision,
        continue_token: Option<String>,
        remaining: Option<i64>,
    },
    Stream(http::Response<Body>),
}

/// Routes a resource request to its handler.
pub async fn handle(
    api: &Arc<Api>,
    path: ResourcePath,
    parts: RequestParts,
) -> http::Response<Body> {
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let output = match negotiate_with_query(accept, &parts.query) {
        Ok(o) => o,
        Err(e) => return error_response(&e, Output::Json),
    };
    let req = match resolve(api, path, parts, output) {
        Ok(r) => r,
        Err(e) => return error_response(&e, output),
    };
    let resource = req.resource.clone();
    let warnings = req.warnings.clone();
    let mut response = match route(api, req).await {
        Ok(reply) => render(&resource, reply, output),
        Err(e) => error_response(&e, output),
    };
    warnings.add_headers(&mut response);
    response
}

fn negotiate_with_query(accept: Option<&str>, query: &Query) -> Result<Output, ApiError> {
    match codec::negotiate(accept)? {
        Output::Table(_) => Ok(Output::Table(IncludeObject::parse(
            query.get("includeObject"),
        )?)),
        other => Ok(other),
    }
}

/// The raw parts of an HTTP request.
pub struct RequestParts {
    pub method: Method,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn resolve(
    api: &Api,
    path: ResourcePath,
    parts: RequestParts,
    output: Output,
) -> Result<ResourceRequest, ApiError> {
    let resource = api
        .registry
        .find(&path.group, &path.version, &path.resource)
        .ok_or(ApiError::NoSuchPath)?;
    let subresource = match path.subresource.as_deref() {
        None => None,
        Some(s) => match Subresource::parse(s).filter(|s| resource.has_subresource(*s)) {
            Some(sub) => Some(sub),
            None => return Err(ApiError::NoSuchPath),
        },
    };
    if !resource.namespaced && path.namespace.is_some() {
        return Err(ApiError::NoSuchPath);
    }
    Ok(ResourceRequest {
        method: parts.method,
        resource,
        namespace: path.namespace,
        name: path.name,
        subresource,
        query: parts.query,
        headers: parts.headers,
        body: parts.body,
        output,
        warnings: Warnings::default(),
    })
}

async fn route(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    if let Some(sub) = req.subresource {
        return subresource::handle(api, req, sub).await;
    }
    let collection = req.name.is_none();
    match (req.method.clone(), collection) {
        (Method::GET, true) if req.query.flag("watch") => watch::watch(api, req).await,
        (Method::GET, true) => read::list(api, req).await,
        (Method::GET, false) => read::get(api, req).await,
        (Method::POST, true) => write::create(api, req).await,
        (Method::PUT, false) => write::update(api, req).await,
        (Method::PATCH, false) => write::patch(api, req).await,
        (Method::DELETE, false) => delete::delete(api, req).await,
        (Method::DELETE, true) => delete::delete_collection(api, req).await,
        (method, _) => Err(ApiError::MethodNotAllowed {
            message: format!(
                "the server does not allow this method on the requested resource ({method})"
            ),
        }),
    }
}

fn render(resource: &ResourceInfo, reply: Reply, output: Output) -> http::Response<Body> {
    let result = match reply {
        Reply::Stream(response) => return response,
        Reply::Object { code, value } => render_object(resource, code, value, output),
        Reply::Other { code, value } => {
            let output = if output == Output::Yaml {
                Output::Yaml
            } else {
                Output::Json
            };
            codec::encode(&value, output).map(|(b, ct)| (code, b, ct))
        }
        Reply::List {
            items,
            revision,
            continue_token,
            remaining,
        } => render_list(resource, items, revision, continue_token, remaining, output),
    };
    match result {
        Ok((code, body, content_type)) => respond(code, body, content_type),
        Err(e) => error_response(&e, output),
    }
}

fn render_object(
    resource: &ResourceInfo,
    code: StatusCode,
    value: Value,
    output: Output,
) -> Result<(StatusCode, Bytes, &'static str), ApiError> {
    let value = match output {
        Output::Table(include) => table::table(resource, &[value], include, None, None, None)?,
        Output::Metadata => partial_metadata(&value),
        _ => value,
    };
    codec::encode(&value, output).map(|(b, ct)| (code, b, ct))
}

fn render_list(
    resource: &ResourceInfo,
    items: Items,
    revision: Revision,
    continue_token: Option<String>,
    remaining: Option<i64>,
    output: Output,
) -> Result<(StatusCode, Bytes, &'static str), ApiError> {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = &continue_token {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    if output == Output::Json {
        return Ok((
            StatusCode::OK,
            list_json(resource, &items, &metadata)?,
            "application/json",
        ));
    }
    let values = match items {
        Items::Values(v) => v,
        Items::Cached(c) => c
            .iter()
            .map(|o| conversion::served_value(resource, o))
            .collect::<Result<_, _>>()?,
    };
    let value = match output {
        Output::Table(include) => table::table(
            resource,
            &values,
            include,
            Some(revision),
            continue_token,
            remaining,
        )?,
        Output::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "items": values.iter().map(partial_metadata).collect::<Vec<_>>(),
        }),
        _ => json!({
            "kind": resource.list_kind(),
            "apiVersion": resource.api_version(),
            "metadata": metadata,
            "items": values,
        }),
    };
    codec::encode(&value, output).map(|(b, ct)| (StatusCode::OK, b, ct))
}

/// A list as JSON, splicing the cached objects' bytes without decoding them.
fn list_json(resource: &ResourceInfo, items: &Items, metadata: &Value) -> Result<Bytes, ApiError> {
    let head = format!(
        r#"{{"kind":"{}","apiVersion":"{}","metadata":{},"items":["#,
        resource.list_kind(),
        resource.api_version(),
        metadata
    );
    let mut out = Vec::with_capacity(head.len() + 64);
    out.extend_from_slice(head.as_bytes());
    match items {
        Items::Cached(objects) => {
            out.reserve(objects.iter().map(|o| o.json.len() + 1).sum());
            for (i, o) in objects.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&conversion::served_json(resource, o)?);
            }
        }
        Items::Values(values) => {
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, v).map_err(ApiError::internal)?;
            }
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out.into())
}

/// The metav1.PartialObjectMetadata form of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

pub fn full_body(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

pub fn respond(code: StatusCode, body: Bytes, content_type: &str) -> http::Response<Body> {
    let mut response = http::Response::new(full_body(body));
    *response.status_mut() = code;
    if let Ok(ct) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// A failure as a Status body with its HTTP code.
pub fn error_response(error: &ApiError, output: Output) -> http::Response<Body> {
    let code = StatusCode::from_u16(error.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code.is_server_error() {
        tracing::warn!(%error, code = code.as_u16(), "request failed");
    } else {
        tracing::debug!(%error, code = code.as_u16(), "request rejected");
    }
    let output = if output == Output::Yaml {
        Output::Yaml
    } else {
        Output::Json
    };
    match codec::encode(&error.to_status(), output) {
        Ok((body, ct)) => respond(code, body, ct),
        Err(_) => respond(code, Bytes::from(error.to_string()), "text/plain"),
    }
}
