//! Field errors as upstream renders them (`metav1.StatusCause`), and field paths in
//! upstream's notation (`spec.containers[0].image`, `metadata.annotations[key]`).

use std::fmt;

use serde_json::Value;

/// Upstream's CauseType strings, one per kind of field error.
pub mod reason {
    pub const NOT_FOUND: &str = "FieldValueNotFound";
    pub const REQUIRED: &str = "FieldValueRequired";
    pub const DUPLICATE: &str = "FieldValueDuplicate";
    pub const INVALID: &str = "FieldValueInvalid";
    pub const NOT_SUPPORTED: &str = "FieldValueNotSupported";
    pub const FORBIDDEN: &str = "FieldValueForbidden";
    pub const TOO_LONG: &str = "FieldValueTooLong";
    pub const TOO_MANY: &str = "FieldValueTooMany";
    pub const TYPE_INVALID: &str = "FieldValueTypeInvalid";
}

/// One field error, as a `metav1.StatusCause`: the cause type, the field path and the
/// message without the path (upstream's "error body").
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

/// The offending value of a field error, rendered the way upstream prints it: strings
/// quoted, numbers and booleans bare, anything else as compact JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Json(Value),
    /// Already rendered text, for values upstream prints in a shape of its own.
    Raw(String),
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_string())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}

impl From<&String> for BadValue {
    fn from(s: &String) -> Self {
        BadValue::Str(s.clone())
    }
}

impl From<i64> for BadValue {
    fn from(n: i64) -> Self {
        BadValue::Int(n)
    }
}

impl From<bool> for BadValue {
    fn from(b: bool) -> Self {
        BadValue::Bool(b)
    }
}

impl From<&Value> for BadValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Bool(b) => BadValue::Bool(*b),
            Value::Number(n) if n.is_i64() => BadValue::Int(n.as_i64().unwrap_or_default()),
            other => BadValue::Json(other.clone()),
        }
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => f.write_str(&go_quote(s)),
            BadValue::Int(n) => write!(f, "{n}"),
            BadValue::Bool(b) => write!(f, "{b}"),
            BadValue::Json(v) => f.write_str(&go_json(v)),
            BadValue::Raw(s) => f.write_str(s),
        }
    }
}

impl FieldError {
    fn new(reason: &'static str, field: impl Into<String>, message: String) -> Self {
        FieldError {
            reason,
            field: field.into(),
            message,
        }
    }

    /// `Required value`.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new(reason::REQUIRED, field, "Required value".into())
    }

    /// `Required value: <detail>`.
    pub fn required_because(field: impl Into<String>, detail: &str) -> Self {
        Self::new(
            reason::REQUIRED,
            field,
            with_detail("Required value".into(), detail),
        )
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(field: impl Into<String>, value: impl Into<BadValue>, detail: &str) -> Self {
        let body = format!("Invalid value: {}", value.into());
        Self::new(reason::INVALID, field, with_detail(body, detail))
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        supported: &[&str],
    ) -> Self {
        let body = format!("Unsupported value: {}", value.into());
        let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(reason::NOT_SUPPORTED, field, with_detail(body, &detail))
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(
            reason::DUPLICATE,
            field,
            format!("Duplicate value: {}", value.into()),
        )
    }

    /// `Not found: <value>`.
    pub fn not_found(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(
            reason::NOT_FOUND,
            field,
            format!("Not found: {}", value.into()),
        )
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self::new(
            reason::FORBIDDEN,
            field,
            with_detail("Forbidden".into(), detail),
        )
    }

    /// `Too long: may not be more than <max> bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            reason::TOO_LONG,
            field,
            format!("Too long: may not be more than {max} {unit}"),
        )
    }

    /// `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        let message = format!("Too many: {actual}: must have at most {max} {unit}");
        Self::new(reason::TOO_MANY, field, message)
    }

    /// `Invalid value: <value>: <detail>` for a value of the wrong JSON type.
    pub fn type_invalid(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        detail: &str,
    ) -> Self {
        let body = format!("Invalid value: {}", value.into());
        Self::new(reason::TYPE_INVALID, field, with_detail(body, detail))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn with_detail(body: String, detail: &str) -> String {
    if detail.is_empty() {
        body
    } else {
        format!("{body}: {detail}")
    }
}

/// A field path in upstream's notation; cheap to extend, rendered as a string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(name: &str) -> Self {
        Path(name.to_string())
    }

    /// `a.b`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// `a[3]`.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    /// `a[key]`, for map entries.
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> Self {
        p.0.clone()
    }
}

impl From<Path> for String {
    fn from(p: Path) -> Self {
        p.0
    }
}

pub(crate) use crate::gojson::{go_quote, to_json as go_json};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_renders_without_a_value() {
        let e = FieldError::required("spec.containers[0].image");
        assert_eq!(e.to_string(), "spec.containers[0].image: Required value");
        assert_eq!(e.reason, "FieldValueRequired");
    }

    #[test]
    fn invalid_quotes_string_values_and_appends_the_detail() {
        let e = FieldError::invalid("metadata.name", "Foo", "bad");
        assert_eq!(e.message, "Invalid value: \"Foo\": bad");
    }

    #[test]
    fn not_supported_lists_quoted_values() {
        let e = FieldError::not_supported(
            "spec.restartPolicy",
            "Sometimes",
            &["Always", "OnFailure", "Never"],
        );
        assert_eq!(
            e.message,
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn maps_render_as_json_with_sorted_keys() {
        let v = json!({"b": "2", "a": "<1>"});
        let e = FieldError::invalid("x", &v, "d");
        assert_eq!(
            e.message,
            "Invalid value: {\"a\":\"\\u003c1\\u003e\",\"b\":\"2\"}: d"
        );
    }

    #[test]
    fn too_long_names_the_limit_in_bytes() {
        let e = FieldError::too_long("metadata.annotations", 262144);
        assert_eq!(e.message, "Too long: may not be more than 262144 bytes");
    }

    #[test]
    fn paths_join_children_indexes_and_keys() {
        let p = Path::new("spec")
            .child("containers")
            .index(2)
            .child("resources")
            .key("cpu");
        assert_eq!(p.as_str(), "spec.containers[2].resources[cpu]");
    }

    #[test]
    fn go_quote_escapes_control_characters() {
        assert_eq!(go_quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\x01\"");
    }
}
