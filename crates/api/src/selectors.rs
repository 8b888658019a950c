//! Label and field selectors: parsing, validation and matching against objects.
//!
//! Label selectors follow upstream's string grammar (`a=b`, `a!=b`, `a in (x,y)`,
//! `!a`, `a>1`, ...) and the `metav1.LabelSelector` JSON form. Field selectors
//! follow upstream's `f=v,f!=v` grammar with `\,`, `\=` and `\\` escapes, and each
//! kind accepts only the fields upstream's field label conversion accepts.

mod field;
mod fields_by_kind;
mod label;
mod lexer;
mod names;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, escape_value};
pub use fields_by_kind::field_value;
pub use label::{LabelSelector, Operator, Requirement};

/// Why a selector could not be parsed, built or used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string does not follow the grammar.
    #[error("found '{found}', expected: {expected}")]
    LabelSyntax {
        found: String,
        expected: &'static str,
    },
    #[error("invalid label key {key:?}: {reason}")]
    InvalidLabelKey { key: String, reason: String },
    #[error("invalid label value {value:?}: {reason}")]
    InvalidLabelValue { value: String, reason: String },
    /// The values do not fit the operator (count, or integers for `>` and `<`).
    #[error("invalid requirement on {key:?}: {reason}")]
    InvalidRequirement { key: String, reason: &'static str },
    /// A `matchExpressions` operator other than In, NotIn, Exists, DoesNotExist.
    #[error("{0:?} is not a valid label selector operator")]
    InvalidOperator(String),
    /// A `metav1.LabelSelector` JSON document of the wrong shape.
    #[error("invalid label selector: {0}")]
    InvalidLabelSelector(String),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldSyntax { selector: String, term: String },
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    #[error("invalid field selector: unescaped character in value: {0:?}")]
    UnescapedCharacter(char),
    /// A field the kind's field label conversion rejects.
    #[error("field label not supported: {0}")]
    FieldLabelNotSupported(String),
    /// A field other than metadata.name and metadata.namespace, for a kind that
    /// accepts only those.
    #[error("{0:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    UnknownFieldSelector(String),
}
