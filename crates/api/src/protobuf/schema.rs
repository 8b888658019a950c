//! Shape of the generated wire schema: how each protobuf field of a message becomes JSON.

/// One upstream protobuf message and its fields, in the Go struct's (so the JSON) order.
pub(super) struct Message {
    /// Short proto name such as `apps.v1.DeploymentSpec`, for diagnostics.
    pub(super) name: &'static str,
    pub(super) fields: &'static [Field],
}

/// One field of a [`Message`].
#[derive(Clone, Copy)]
pub(super) struct Field {
    pub(super) number: u32,
    /// JSON name; empty for a struct embedded with `json:",inline"`, whose fields are
    /// promoted into the enclosing object.
    pub(super) json: &'static str,
    pub(super) emit: Emit,
    pub(super) shape: Shape,
    pub(super) ty: Ty,
}

/// When a singular field appears in the JSON form. Upstream decodes protobuf into a Go
/// struct and encodes that with encoding/json, and its protobuf writer puts every value
/// field on the wire even when empty, so presence on the wire alone does not decide.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Emit {
    /// A value field without omitempty, or any struct value: always, zero if absent.
    Always,
    /// A value field with omitempty: only when not the zero value.
    NonEmpty,
    /// A pointer field: exactly when it is on the wire, even if zero.
    IfPresent,
}

/// Cardinality of a field. Empty lists and maps are left out of the JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    One,
    List,
    /// A `map<string, ty>`, sent as repeated entries with the key as field 1 and the
    /// value as field 2.
    Map,
}

/// Type of a field's value.
#[derive(Clone, Copy)]
pub(super) enum Ty {
    String,
    Bool,
    Int32,
    Int64,
    /// `[]byte`, base64 in JSON.
    Bytes,
    /// `metav1.Time`: RFC 3339 with whole seconds.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with microseconds.
    MicroTime,
    /// `resource.Quantity`: its string form.
    Quantity,
    /// `intstr.IntOrString`: a JSON number or string.
    IntOrString,
    /// `runtime.RawExtension` and `metav1.FieldsV1`: embedded JSON bytes.
    RawJson,
    Message(&'static Message),
}

pub(super) const fn field(
    number: u32,
    json: &'static str,
    emit: Emit,
    shape: Shape,
    ty: Ty,
) -> Field {
    Field {
        number,
        json,
        emit,
        shape,
        ty,
    }
}
