//! Serves the OpenAPI v2 and v3 documents, built on first use from the served
//! resources and cached with ETags.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use skiff_api::ResourceInfo;
use skiff_api::openapi::OpenApiDocs;

use crate::codec::Output;
use crate::handlers::{Body, error_response, full_body};
use crate::status::ApiError;

/// The documents, built lazily so that they cost nothing until a client asks.
pub struct OpenApi {
    resources: Vec<Arc<ResourceInfo>>,
    docs: OnceLock<OpenApiDocs>,
}

impl OpenApi {
    pub fn new(resources: Vec<Arc<ResourceInfo>>) -> Self {
        OpenApi {
            resources,
            docs: OnceLock::new(),
        }
    }

    fn docs(&self) -> &OpenApiDocs {
        self.docs
            .get_or_init(|| OpenApiDocs::build(&self.resources))
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
