//! Serves the OpenAPI v2 and v3 documents of the served resources, built on first use
//! and again after the set of served custom resources changes, cached with ETags.

use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use serde_json::Value;
use skiff_api::ResourceInfo;
use skiff_api::openapi::OpenApiDocs;

use crate::codec::Output;
use crate::handlers::{Body, error_response, full_body};
use crate::status::ApiError;

/// The documents; each is rendered on its first request, so they cost nothing until a
/// client asks.
pub struct OpenApi {
    builtin: Vec<Arc<ResourceInfo>>,
    docs: RwLock<Arc<OpenApiDocs>>,
    /// Name and spec of each published definition, to rebuild only on a real change.
    published: Mutex<Vec<(Value, Value)>>,
}

impl OpenApi {
    pub fn new(builtin: Vec<Arc<ResourceInfo>>) -> Self {
        let docs = OpenApiDocs::build(&builtin);
        OpenApi {
            builtin,
            docs: RwLock::new(Arc::new(docs)),
            published: Mutex::new(Vec::new()),
        }
    }

    /// Publishes these established CustomResourceDefinitions beside the built-in
    /// resources, replacing the ones published before.
    pub fn set_custom(&self, crds: Vec<Value>) {
        let identity: Vec<(Value, Value)> = crds
            .iter()
            .map(|c| {
                let name = c.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
                (name, c.get("spec").cloned().unwrap_or(Value::Null))
            })
            .collect();
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        if *published == identity {
            return;
        }
        let docs = OpenApiDocs::build_with_custom(&self.builtin, &crds);
        *self.docs.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(docs);
        *published = identity;
    }

    fn docs(&self) -> Arc<OpenApiDocs> {
        self.docs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn respond(&self, path: &str, headers: &HeaderMap) -> Response<Body> {
        let docs = self.docs();
        if path == "/openapi/v2" {
            if !accepts_json(headers) {
                return error_response(
                    &ApiError::NotAcceptable {
                        message: "the OpenAPI v2 document is served as application/json only"
                            .into(),
                    },
                    Output::Json,
                );
            }
            return cached(docs.v2(), docs.v2_etag(), headers);
        }
        let rest = path
            .trim_start_matches("/openapi/v3")
            .trim_start_matches('/');
        if rest.is_empty() {
            return plain(docs.v3_root());
        }
        match docs.v3_document(rest) {
            Some((body, hash)) => cached(body, &format!("\"{hash}\""), headers),
            None => error_response(&ApiError::NoSuchPath, Output::Json),
        }
    }
}

fn accepts_json(headers: &HeaderMap) -> bool {
    match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(a) => a.split(',').any(|m| {
            let m = m.split(';').next().unwrap_or("").trim();
            m == "application/json" || m == "*/*" || m == "application/*"
        }),
    }
}

fn plain(body: Bytes) -> Response<Body> {
    let mut r = Response::new(full_body(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn cached(body: Bytes, etag: &str, headers: &HeaderMap) -> Response<Body> {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if matches {
        let mut r = Response::new(full_body(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        plain(body)
    };
    if let Ok(v) = http::HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}
