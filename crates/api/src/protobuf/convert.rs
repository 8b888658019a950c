//! Schema-driven conversion of an encoded protobuf message into upstream's JSON form.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta};
use serde_json::{Map, Value};

use super::schema::{Emit, Field, Message, Shape, Ty};
use super::wire::{Fields, WireError, WireValue};

/// Why the bytes of an object (or of the envelope around it) do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("expected {expected}, found a {found} value")]
    WireType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("timestamp of {seconds} seconds is out of range")]
    TimeOutOfRange { seconds: i64 },
    #[error("intOrString has unknown type {0}")]
    IntOrStringType(i64),
    #[error("embedded raw object is not JSON")]
    RawNotJson,
    #[error("object expands to more than {limit} JSON values")]
    TooLarge { limit: usize },
}

/// A decoding failure and where in the object it happened.
#[derive(Debug)]
pub(super) struct FieldError {
    /// Innermost segment first: segments are pushed while the error travels outwards.
    reversed_path: Vec<Segment>,
    pub(super) reason: MalformedReason,
}

#[derive(Debug)]
enum Segment {
    Field(&'static str),
    Index(usize),
    Key(String),
}

impl FieldError {
    fn within(mut self, segment: Segment) -> Self {
        self.reversed_path.push(segment);
        self
    }

    /// The JSON path of the failing field, such as `spec.template.spec.containers[0].name`;
    /// empty for the top-level object itself.
    pub(super) fn path(&self) -> String {
        let mut path = String::new();
        for segment in self.reversed_path.iter().rev() {
            match segment {
                Segment::Field(name) if path.is_empty() => path.push_str(name),
                Segment::Field(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Segment::Index(index) => path.push_str(&format!("[{index}]")),
                Segment::Key(key) => path.push_str(&format!("[{key}]")),
            }
        }
        path
    }
}

impl From<MalformedReason> for FieldError {
    fn from(reason: MalformedReason) -> Self {
        FieldError {
            reversed_path: Vec::new(),
            reason,
        }
    }
}

impl From<WireError> for FieldError {
    fn from(error: WireError) -> Self {
        MalformedReason::Wire(error).into()
    }
}

/// Turns encoded messages into JSON within a budget of JSON values.
///
/// Upstream's JSON writes value fields even when they are absent from the wire, so a
/// two-byte empty element can grow into several values; the budget keeps a hostile body
/// from growing into far more memory than its size.
pub(super) struct Decoder {
    remaining: usize,
    limit: usize,
}

impl Decoder {
    /// A decoder for a body of `len` bytes. Bodies written by Go clients hold at most one
    /// value per two bytes, since they put every field on the wire.
    pub(super) fn for_body_len(len: usize) -> Self {
        let limit = len.saturating_add(10_000);
        Decoder {
            remaining: limit,
            limit,
        }
    }

    fn spend(&mut self) -> Result<(), FieldError> {
        self.remaining = self
            .remaining
            .checked_sub(1)
            .ok_or(MalformedReason::TooLarge { limit: self.limit })?;
        Ok(())
    }

    /// Decodes `bytes` as `message` into the JSON object upstream's encoding/json would
    /// write for the Go struct that protobuf decoding fills, minus its `null`s.
    pub(super) fn message(
        &mut self,
        message: &'static Message,
        bytes: &[u8],
    ) -> Result<Map<String, Value>, FieldError> {
        let occurrences = group_by_field(message, bytes)?;
        let mut object = Map::new();
        for (field, values) in message.fields.iter().zip(&occurrences) {
            let at = |error: FieldError| match field.json {
                "" => error,
                name => error.within(Segment::Field(name)),
            };
            let value = self.field_value(field, values).map_err(at)?;
            if value.is_some() {
                self.spend().map_err(at)?;
            }
            put(&mut object, field, value);
        }
        Ok(object)
    }

    fn field_value(
        &mut self,
        field: &Field,
        values: &[WireValue<'_>],
    ) -> Result<Option<Value>, FieldError> {
        match field.shape {
            Shape::One => self.single_value(field, values),
            Shape::List => self.list_value(field.ty, values),
            Shape::Map => self.map_value(field.ty, values),
        }
    }

    fn single_value(
        &mut self,
        field: &Field,
        values: &[WireValue<'_>],
    ) -> Result<Option<Value>, FieldError> {
        let Some(last) = values.last() else {
            return match field.emit {
                Emit::Always => self.zero_value(field.ty),
                Emit::NonEmpty | Emit::IfPresent => Ok(None),
            };
        };
        let value = if is_scalar(field.ty) {
            // A repeated scalar keeps its last value, as in every protobuf decoder.
            Some(scalar_value(field.ty, *last)?)
        } else {
            self.message_like_value(field.ty, &merged_bytes(field.ty, values)?)?
        };
        Ok(match value {
            Some(value) if field.emit == Emit::NonEmpty && is_zero(&value) => None,
            value => value,
        })
    }

    fn list_value(
        &mut self,
        ty: Ty,
        values: &[WireValue<'_>],
    ) -> Result<Option<Value>, FieldError> {
        let mut items = Vec::new();
        for value in values {
            let at = |error: FieldError| error.within(Segment::Index(items.len()));
            match (ty, value) {
                // Go writes repeated numbers unpacked, but a packed run is valid protobuf too.
                (Ty::Bool | Ty::Int32 | Ty::Int64, &WireValue::Bytes(mut packed)) => {
                    while !packed.is_empty() {
                        let number = super::wire::read_varint(&mut packed)?;
                        self.spend()?;
                        items.push(scalar_value(ty, WireValue::Varint(number))?);
                    }
                }
                _ => {
                    let item = self.element_value(ty, *value).map_err(at)?;
                    self.spend().map_err(at)?;
                    items.push(item);
                }
            }
        }
        Ok((!items.is_empty()).then_some(Value::Array(items)))
    }

    fn map_value(
        &mut self,
        ty: Ty,
        entries: &[WireValue<'_>],
    ) -> Result<Option<Value>, FieldError> {
        // encoding/json writes map keys sorted.
        let mut sorted = BTreeMap::new();
        for entry in entries {
            let (key, value) = self.map_entry(ty, expect_bytes(ty, *entry)?)?;
            self.spend()?;
            sorted.insert(key, value);
        }
        Ok((!sorted.is_empty()).then(|| Value::Object(sorted.into_iter().collect())))
    }

    /// Decodes one map entry: the key is field 1 and the value field 2.
    fn map_entry(&mut self, ty: Ty, bytes: &[u8]) -> Result<(String, Value), FieldError> {
        let mut key = None;
        let mut value = None;
        for item in Fields::new(bytes) {
            match item? {
                (1, wire) => key = Some(wire),
                (2, wire) => value = Some(wire),
                _ => {}
            }
        }
        let key = match key {
            Some(wire) => String::from_utf8_lossy(expect_bytes(Ty::String, wire)?).into_owned(),
            None => String::new(),
        };
        let value = match value {
            Some(wire) => self.element_value(ty, wire),
            None => self.zero_value(ty).map(|zero| zero.unwrap_or(Value::Null)),
        };
        let value = value.map_err(|error| error.within(Segment::Key(key.clone())))?;
        Ok((key, value))
    }

    /// Converts one list element or map value; a zero time or empty raw object is `null`.
    fn element_value(&mut self, ty: Ty, wire: WireValue<'_>) -> Result<Value, FieldError> {
        if is_scalar(ty) {
            return scalar_value(ty, wire);
        }
        let value = self.message_like_value(ty, expect_bytes(ty, wire)?)?;
        Ok(value.unwrap_or(Value::Null))
    }

    /// The JSON of a Go zero value of `ty`, or `None` where encoding/json writes `null`.
    fn zero_value(&mut self, ty: Ty) -> Result<Option<Value>, FieldError> {
        match ty {
            Ty::String => Ok(Some(Value::from(""))),
            Ty::Bool => Ok(Some(Value::Bool(false))),
            Ty::Int32 | Ty::Int64 => Ok(Some(Value::from(0))),
            Ty::Bytes => Ok(None),
            _ => self.message_like_value(ty, &[]),
        }
    }

    fn message_like_value(&mut self, ty: Ty, bytes: &[u8]) -> Result<Option<Value>, FieldError> {
        match ty {
            Ty::Time => time_value(bytes, false),
            Ty::MicroTime => time_value(bytes, true),
            Ty::Quantity => quantity_value(bytes).map(Some),
            Ty::IntOrString => int_or_string_value(bytes).map(Some),
            Ty::RawJson => raw_json_value(bytes),
            Ty::Message(message) => self.message(message, bytes).map(|o| Some(Value::Object(o))),
            Ty::String | Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Bytes => {
                Err(wrong_wire_type(ty, WireValue::Bytes(bytes)))
            }
        }
    }
}

/// Collects the wire values of each schema field, in wire order.
fn group_by_field<'a>(
    message: &Message,
    bytes: &'a [u8],
) -> Result<Vec<Vec<WireValue<'a>>>, FieldError> {
    let mut groups = vec![Vec::new(); message.fields.len()];
    for item in Fields::new(bytes) {
        let (number, value) = item?;
        // Upstream skips fields it does not know (sent by newer clients); so does skiff.
        if let Some(index) = message.fields.iter().position(|f| f.number == number) {
            groups[index].push(value);
        }
    }
    Ok(groups)
}

fn put(object: &mut Map<String, Value>, field: &Field, value: Option<Value>) {
    match value {
        None => {}
        Some(Value::Object(promoted)) if field.json.is_empty() => object.extend(promoted),
        Some(value) => {
            object.insert(field.json.to_owned(), value);
        }
    }
}

/// Joins the occurrences of a message field: protobuf merges them, and decoding their
/// concatenation is that merge.
fn merged_bytes<'a>(ty: Ty, values: &[WireValue<'a>]) -> Result<Cow<'a, [u8]>, FieldError> {
    match values {
        [single] => Ok(Cow::Borrowed(expect_bytes(ty, *single)?)),
        _ => {
            let mut joined = Vec::new();
            for value in values {
                joined.extend_from_slice(expect_bytes(ty, *value)?);
            }
            Ok(Cow::Owned(joined))
        }
    }
}

fn is_scalar(ty: Ty) -> bool {
    matches!(
        ty,
        Ty::String | Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Bytes
    )
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(text) => text.is_empty(),
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_i64() == Some(0),
        _ => false,
    }
}

fn scalar_value(ty: Ty, wire: WireValue<'_>) -> Result<Value, FieldError> {
    match (ty, wire) {
        // Go puts strings on the wire unchecked; its JSON encoder replaces invalid UTF-8.
        (Ty::String, WireValue::Bytes(bytes)) => Ok(String::from_utf8_lossy(bytes).into()),
        (Ty::Bool, WireValue::Varint(raw)) => Ok(Value::Bool(raw != 0)),
        // Negative int32 values are sign-extended to 64 bits on the wire.
        (Ty::Int32, WireValue::Varint(raw)) => Ok(Value::from(raw as i32)),
        (Ty::Int64, WireValue::Varint(raw)) => Ok(Value::from(raw as i64)),
        (Ty::Bytes, WireValue::Bytes(bytes)) => Ok(BASE64.encode(bytes).into()),
        (ty, wire) => Err(wrong_wire_type(ty, wire)),
    }
}

/// `metav1.Time` and `MicroTime` travel as `{seconds = 1, nanos = 2}`; an empty message is
/// the zero time, which upstream writes as `null`. Time keeps whole seconds only, as
/// upstream's decoder does; MicroTime truncates to microseconds.
fn time_value(bytes: &[u8], micro: bool) -> Result<Option<Value>, FieldError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let [seconds, nanos] = last_values::<2>(bytes)?;
    let seconds = optional_varint(Ty::Int64, seconds)? as i64;
    let nanos = optional_varint(Ty::Int32, nanos)? as i32;
    let out_of_range = || FieldError::from(MalformedReason::TimeOutOfRange { seconds });
    let whole = DateTime::from_timestamp(seconds, 0).ok_or_else(out_of_range)?;
    if !micro {
        return Ok(Some(whole.format("%Y-%m-%dT%H:%M:%SZ").to_string().into()));
    }
    let fraction = TimeDelta::nanoseconds(i64::from(nanos / 1000 * 1000));
    let time = whole
        .checked_add_signed(fraction)
        .ok_or_else(out_of_range)?;
    Ok(Some(
        time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into(),
    ))
}

/// `resource.Quantity` travels as `{string = 1}`; upstream writes an absent one as "0".
fn quantity_value(bytes: &[u8]) -> Result<Value, FieldError> {
    let [text] = last_values::<1>(bytes)?;
    match text {
        Some(wire) => scalar_value(Ty::String, wire),
        None => Ok(Value::from("0")),
    }
}

/// `intstr.IntOrString` travels as `{type = 1, intVal = 2, strVal = 3}`, type 1 meaning
/// the string form.
fn int_or_string_value(bytes: &[u8]) -> Result<Value, FieldError> {
    let [kind, int_val, str_val] = last_values::<3>(bytes)?;
    match optional_varint(Ty::Int64, kind)? as i64 {
        0 => Ok(Value::from(optional_varint(Ty::Int32, int_val)? as i32)),
        1 => str_val.map_or(Ok(Value::from("")), |wire| scalar_value(Ty::String, wire)),
        other => Err(MalformedReason::IntOrStringType(other).into()),
    }
}

/// `runtime.RawExtension` and `metav1.FieldsV1` carry JSON bytes in field 1, which the
/// JSON form embeds as they are.
fn raw_json_value(bytes: &[u8]) -> Result<Option<Value>, FieldError> {
    let [raw] = last_values::<1>(bytes)?;
    let raw = match raw {
        Some(wire) => expect_bytes(Ty::RawJson, wire)?,
        None => return Ok(None),
    };
    if raw.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(raw)
        .map(Some)
        .map_err(|_| MalformedReason::RawNotJson.into())
}

/// The last wire value of fields 1 to N of a small fixed message, ignoring others.
fn last_values<const N: usize>(bytes: &[u8]) -> Result<[Option<WireValue<'_>>; N], FieldError> {
    let mut found = [None; N];
    for item in Fields::new(bytes) {
        let (number, wire) = item?;
        if let Some(slot) = found.get_mut(number as usize - 1) {
            *slot = Some(wire);
        }
    }
    Ok(found)
}

/// A varint field of a small fixed message; absent means zero.
fn optional_varint(ty: Ty, wire: Option<WireValue<'_>>) -> Result<u64, FieldError> {
    match wire {
        None => Ok(0),
        Some(WireValue::Varint(raw)) => Ok(raw),
        Some(other) => Err(wrong_wire_type(ty, other)),
    }
}

fn expect_bytes(ty: Ty, wire: WireValue<'_>) -> Result<&[u8], FieldError> {
    match wire {
        WireValue::Bytes(bytes) => Ok(bytes),
        other => Err(wrong_wire_type(ty, other)),
    }
}

fn wrong_wire_type(ty: Ty, wire: WireValue<'_>) -> FieldError {
    let expected = match ty {
        Ty::String => "string",
        Ty::Bool => "bool",
        Ty::Int32 => "int32",
        Ty::Int64 => "int64",
        Ty::Bytes => "bytes",
        Ty::Time => "Time",
        Ty::MicroTime => "MicroTime",
        Ty::Quantity => "Quantity",
        Ty::IntOrString => "IntOrString",
        Ty::RawJson => "raw object",
        Ty::Message(message) => message.name,
    };
    MalformedReason::WireType {
        expected,
        found: wire.wire_type_name(),
    }
    .into()
}
