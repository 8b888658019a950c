//! API errors and their rendering as `metav1.Status`: the one place where failures
//! get an HTTP code and a Kubernetes reason.

use serde_json::{Value, json};
use skiff_api::ResourceInfo;
use skiff_api::validation::FieldError;

/// An API failure, rendered as a `Status` object with the matching HTTP code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Forbidden {
        message: String,
        details: Option<Details>,
    },
    #[error("{} \"{}\" not found", .0.group_resource, .0.name)]
    NotFound(Details),
    #[error("the server could not find the requested resource")]
    NoSuchPath,
    #[error("{} \"{}\" already exists", .0.group_resource, .0.name)]
    AlreadyExists(Details),
    #[error("{message}")]
    Conflict {
        message: String,
        details: Box<Details>,
        /// Field-level causes (server-side apply conflicts).
        causes: Vec<FieldError>,
    },
    #[error("{message}")]
    Invalid {
        message: String,
        details: Box<Details>,
        causes: Vec<FieldError>,
    },
    #[error("{message}")]
    Gone { message: String },
    #[error("{message}")]
    MethodNotAllowed { message: String },
    #[error("{message}")]
    NotAcceptable { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{message}")]
    RequestEntityTooLarge { message: String },
    #[error("{message}")]
    Timeout { message: String },
    #[error("{message}")]
    NotImplemented { message: String },
    #[error("{message}")]
    Internal { message: String },
    #[error("{message}")]
    ServiceUnavailable { message: String },
}

/// `StatusDetails`: which object a failure concerns.
#[derive(Clone, Debug, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub group_resource: String,
}

impl Details {
    pub fn of(resource: &ResourceInfo, name: &str) -> Self {
        Details {
            name: name.to_string(),
            group: resource.group.clone(),
            kind: resource.plural.clone(),
            group_resource: resource.group_resource(),
        }
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::Internal {
            message: message.to_string(),
        }
    }

    pub fn not_found(resource: &ResourceInfo, name: &str) -> Self {
        ApiError::NotFound(Details::of(resource, name))
    }

    pub fn already_exists(resource: &ResourceInfo, name: &str) -> Self {
        ApiError::AlreadyExists(Details::of(resource, name))
    }

    /// The optimistic-concurrency failure of an update or guarded delete.
    pub fn conflict_modified(resource: &ResourceInfo, name: &str) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                resource.group_resource()
            ),
            details: Box::new(Details::of(resource, name)),
            causes: Vec::new(),
        }
    }

    pub fn conflict(resource: &ResourceInfo, name: &str, reason: impl std::fmt::Display) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {reason}",
                resource.group_resource()
            ),
            details: Box::new(Details::of(resource, name)),
            causes: Vec::new(),
        }
    }

    /// 422 Invalid with one cause per field error, worded like upstream.
    pub fn invalid(resource: &ResourceInfo, name: &str, causes: Vec<FieldError>) -> Self {
        let list = causes.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let kind_name = format!("{}.{}", resource.kind, resource.group);
        let kind_name = kind_name.trim_end_matches('.');
        ApiError::Invalid {
            message: format!("{kind_name} \"{name}\" is invalid: {joined}"),
            details: Box::new(Details {
                kind: resource.kind.clone(),
                ..Details::of(resource, name)
            }),
            causes,
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound(_) | ApiError::NoSuchPath => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::NotAcceptable { .. } => 406,
            ApiError::AlreadyExists(_) | ApiError::Conflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::RequestEntityTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Invalid { .. } => 422,
            ApiError::Internal { .. } => 500,
            ApiError::NotImplemented { .. } => 501,
            ApiError::ServiceUnavailable { .. } => 503,
            ApiError::Timeout { .. } => 504,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::Unauthorized { .. } => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::NotFound(_) | ApiError::NoSuchPath => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Gone { .. } => "Expired",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::NotAcceptable { .. } => "NotAcceptable",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::NotImplemented { .. } => "NotImplemented",
            ApiError::Internal { .. } => "InternalError",
            ApiError::ServiceUnavailable { .. } => "ServiceUnavailable",
        }
    }

    fn details(&self) -> Option<Value> {
        let d = match self {
            ApiError::NotFound(d) | ApiError::AlreadyExists(d) => d,
            ApiError::Forbidden {
                details: Some(d), ..
            } => d,
            ApiError::Conflict {
                details, causes, ..
            } if causes.is_empty() => details.as_ref(),
            ApiError::Invalid {
                details, causes, ..
            }
            | ApiError::Conflict {
                details, causes, ..
            } => {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                return Some(json!({
                    "name": details.name, "group": details.group, "kind": details.kind,
                    "causes": causes,
                }));
            }
            _ => return None,
        };
        let mut v = json!({"name": d.name, "kind": d.kind});
        if !d.group.is_empty() {
            v["group"] = json!(d.group);
        }
        Some(v)
    }

    /// The `metav1.Status` body of this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if let Some(details) = self.details() {
            status["details"] = details;
        }
        status
    }
}

impl From<skiff_store::Error> for ApiError {
    fn from(e: skiff_store::Error) -> Self {
        match e {
            skiff_store::Error::Compacted {
                requested,
                compacted,
            } => ApiError::Gone {
                message: format!(
                    "The resourceVersion for the provided list is too old: {requested} (oldest retained {compacted})"
                ),
            },
            skiff_store::Error::FutureRevision { requested, current } => ApiError::Timeout {
                message: format!("Too large resource version: {requested}, current: {current}"),
            },
            other => ApiError::Internal {
                message: format!("storage error: {}", error_chain(&other)),
            },
        }
    }
}

/// An error with its sources, joined by ": ".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A `Status` with `status: Success`, as some deletes answer.
pub fn success_status(details: Option<Details>) -> Value {
    let mut v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    if let Some(d) = details {
        v["details"] = json!({"name": d.name, "group": d.group, "kind": d.kind});
    }
    v
}
