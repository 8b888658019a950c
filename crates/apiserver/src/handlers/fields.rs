//! Field management glue: the field manager of a request, the apply schema of its
//! resource, `metadata.managedFields` for creates, updates and patches, and the errors
//! of server-side apply as Status replies.

use serde_json::Value;
use skiff_api::ResourceInfo;
use skiff_api::apply::{
    self, ApplyError, ApplySchema, BuiltinSchema, DeducedSchema, ElementType, Field, FieldSet,
};
use skiff_api::crd::CustomApplySchema;
use skiff_api::validation::FieldError;

use super::ResourceRequest;
use crate::status::{ApiError, Details};

/// The apply schema of any served resource.
#[derive(Clone)]
pub enum AnySchema<'a> {
    Builtin(BuiltinSchema),
    Custom(CustomApplySchema<'a>),
    Deduced,
}

impl<'a> AnySchema<'a> {
    pub fn of(resource: &'a ResourceInfo) -> Self {
        if let Some(schema) = resource.custom.as_ref().and_then(|c| c.schema.as_ref()) {
            return AnySchema::Custom(CustomApplySchema::new(schema));
        }
        match apply::builtin_schema(&resource.group, &resource.version, &resource.kind) {
            Some(s) => AnySchema::Builtin(s),
            None => AnySchema::Deduced,
        }
    }
}

impl ApplySchema for AnySchema<'_> {
    fn element_type(&self) -> ElementType<'_> {
        match self {
            AnySchema::Builtin(s) => s.element_type(),
            AnySchema::Custom(s) => s.element_type(),
            AnySchema::Deduced => ElementType::Deduced,
        }
    }

    fn field(&self, name: &str) -> Field<Self> {
        match self {
            AnySchema::Builtin(s) => {
                let f = s.field(name);
                Field {
                    schema: AnySchema::Builtin(f.schema),
                    declared: f.declared,
                }
            }
            AnySchema::Custom(s) => {
                let f = s.field(name);
                Field {
                    schema: AnySchema::Custom(f.schema),
                    declared: f.declared,
                }
            }
            AnySchema::Deduced => {
                let f = DeducedSchema.field(name);
                Field {
                    schema: AnySchema::Deduced,
                    declared: f.declared,
                }
            }
        }
    }

    fn items(&self) -> Self {
        match self {
            AnySchema::Builtin(s) => AnySchema::Builtin(s.items()),
            AnySchema::Custom(s) => AnySchema::Custom(s.items()),
            AnySchema::Deduced => AnySchema::Deduced,
        }
    }
}

/// What a request changes of managed fields: its manager, subresource and the fields
/// it may not own.
pub struct Manager {
    pub name: String,
    pub subresource: Option<&'static str>,
    reset: Option<FieldSet>,
    api_version: String,
    kind: String,
}

impl Manager {
    /// The manager of a request: `fieldManager`, or one derived from the User-Agent.
    /// Apply requests must name theirs.
    pub fn of(req: &ResourceRequest, apply: bool) -> Result<Self, ApiError> {
        let name = match req.query.get("fieldManager") {
            Some(name) => {
                let errors = apply::validate_field_manager(name);
                if let Some(first) = errors.first() {
                    return Err(ApiError::bad_request(first.to_string()));
                }
                name.to_string()
            }
            None if apply => {
                return Err(ApiError::bad_request(
                    "PATCH requests with apply content type must provide a field manager (fieldManager)",
                ));
            }
            None => apply::default_manager(req.header(http::header::USER_AGENT)),
        };
        let subresource = req.subresource.map(|s| s.name());
        let reset = match subresource {
            Some("status") => Some(FieldSet::top_level(&["spec"])),
            None if req.resource.has_subresource(skiff_api::Subresource::Status) => {
                Some(FieldSet::top_level(&["status"]))
            }
            _ => None,
        };
        Ok(Manager {
            name,
            subresource,
            reset,
            api_version: req.resource.api_version(),
            kind: req.resource.kind.clone(),
        })
    }

    fn request<'a, S>(&'a self, schema: &'a S, now: &'a str) -> apply::Request<'a, S> {
        apply::Request {
            manager: &self.name,
            api_version: &self.api_version,
            kind: &self.kind,
            subresource: self.subresource,
            schema,
            reset_fields: self.reset.as_ref(),
            now,
        }
    }

    /// Records in `new.metadata.managedFields` what this manager changed from `old`.
    pub fn record(&self, resource: &ResourceInfo, old: Option<&Value>, new: &mut Value) {
        let schema = AnySchema::of(resource);
        let now = crate::object::now_rfc3339();
        apply::update_managed_fields(old, new, &self.request(&schema, &now));
    }

    /// The object after this manager applies `config` to `live`.
    pub fn apply(
        &self,
        resource: &ResourceInfo,
        live: Option<&Value>,
        config: &Value,
        force: bool,
    ) -> Result<Value, ApiError> {
        let schema = AnySchema::of(resource);
        let now = crate::object::now_rfc3339();
        let name = config
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        apply::apply(live, config, force, &self.request(&schema, &now))
            .map_err(|e| apply_error(resource, name, e))
    }
}

/// A failed server-side apply as the Status upstream answers with.
fn apply_error(resource: &ResourceInfo, name: &str, error: ApplyError) -> ApiError {
    let message = error.to_string();
    match error.status_code() {
        409 => ApiError::Conflict {
            message,
            details: Box::new(Details::of(resource, name)),
            causes: error
                .conflicts()
                .iter()
                .map(|c| FieldError {
                    reason: "FieldManagerConflict",
                    field: c.field(),
                    message: c.message(),
                })
                .collect(),
        },
        400 => ApiError::bad_request(message),
        _ => ApiError::Internal { message },
    }
}
