//! The HTTPS listener: TLS with client-certificate authentication, HTTP/1.1 and
//! HTTP/2, and routing of paths to health, version, discovery, OpenAPI and resources.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{self, User};
use crate::codec::{self, MAX_BODY_BYTES, Output};
use crate::discovery;
use crate::handlers::{self, Api, Body, RequestParts, error_response, respond};
use crate::openapi::OpenApi;
use crate::request::{Query, Target, parse_path};
use crate::status::ApiError;

/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// How long open connections (watches among them) get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Shared state of the HTTP front.
pub struct Front {
    pub api: Arc<Api>,
    pub openapi: Arc<OpenApi>,
    pub address: SocketAddr,
}

/// Accepts connections until `shutdown` resolves, then drains them briefly.
pub async fn serve(
    front: Arc<Front>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let front = front.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(error) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| {
                    crate::pki::identity_from_cert(c.as_ref()).map(|id| User {
                        name: id.user,
                        groups: id.groups,
                    })
                });
            let service = service_fn(move |req| {
                let front = front.clone();
                let user = user.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&front, req, user.as_ref()).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(error) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %error, %peer, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("closing connections that did not finish in time");
    }
}

async fn route(front: &Front, req: Request<Incoming>, user: Option<&User>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = route_inner(front, req, user).await;
    tracing::debug!(%method, %path, code = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    response
}

async fn route_inner(front: &Front, req: Request<Incoming>, user: Option<&User>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if let Err(e) = auth::authorize(user, &path) {
        return error_response(&e, Output::Json);
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    match path.as_str() {
        "/livez" | "/readyz" | "/healthz" => {
            return respond(
                StatusCode::OK,
                Bytes::from_static(b"ok"),
                "text/plain; charset=utf-8",
            );
        }
        "/version" => return json_response(StatusCode::OK, &version_info()),
        p if p == "/openapi/v2" || p.starts_with("/openapi/v3") => {
            return front.openapi.respond(req.uri().path(), req.headers());
        }
        _ => {}
    }
    let Some(target) = parse_path(&path) else {
        return error_response(&ApiError::NoSuchPath, Output::Json);
    };
    if let Target::Resource(resource_path) = target {
        let parts = match read_request(req).await {
            Ok(p) => p,
            Err(e) => return error_response(&e, Output::Json),
        };
        return handlers::handle(&front.api, resource_path, parts).await;
    }
    if req.method() != Method::GET {
        let e = ApiError::MethodNotAllowed {
            message: "discovery documents are read-only".into(),
        };
        return error_response(&e, Output::Json);
    }
    discovery_response(front, target, accept.as_deref())
}

fn discovery_response(front: &Front, target: Target, accept: Option<&str>) -> Response<Body> {
    let registry = &front.api.registry;
    let aggregated = discovery::aggregated_version(accept);
    let doc = match (&target, aggregated) {
        (Target::CoreVersions, Some(v)) | (Target::Groups, Some(v)) => {
            let doc = discovery::aggregated(registry, target == Target::CoreVersions, v);
            let body = serde_json::to_vec(&doc).unwrap_or_default();
            return respond(
                StatusCode::OK,
                body.into(),
                &discovery::aggregated_content_type(v),
            );
        }
        (Target::CoreVersions, None) => Some(discovery::core_versions(&front.address.to_string())),
        (Target::Groups, None) => Some(discovery::group_list(registry)),
        (Target::Group(g), _) => discovery::group(registry, g),
        (Target::GroupVersion { group, version }, _) => {
            discovery::resource_list(registry, group, version)
        }
        (Target::Resource(_), _) => None,
    };
    match doc {
        Some(doc) => json_response(StatusCode::OK, &doc),
        None => error_response(&ApiError::NoSuchPath, Output::Json),
    }
}

/// Collects the body (at most 3 MiB) and the parts handlers need.
async fn read_request(req: Request<Incoming>) -> Result<RequestParts, ApiError> {
    let (parts, mut body) = req.into_parts();
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > MAX_BODY_BYTES {
                drain(&mut body).await;
                return Err(too_large());
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(RequestParts {
        method: parts.method,
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body: collected.into(),
    })
}

/// Reads and drops the rest of an oversized body (up to a bound) so that the client,
/// still sending, receives the 413 instead of a reset connection.
async fn drain(body: &mut Incoming) {
    let mut remaining = DRAIN_LIMIT;
    while let Some(Ok(frame)) = body.frame().await {
        let len = frame.data_ref().map_or(0, |d| d.len());
        if len >= remaining {
            return;
        }
        remaining -= len;
    }
}

fn too_large() -> ApiError {
    ApiError::RequestEntityTooLarge {
        message: format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
    }
}

fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    match codec::encode(value, Output::Json) {
        Ok((body, ct)) => respond(code, body, ct),
        Err(e) => error_response(&e, Output::Json),
    }
}

/// `/version`: the Kubernetes version whose API skiff serves.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "gitVersion": format!("v1.35.0-skiff.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, goarch()),
    })
}

fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
