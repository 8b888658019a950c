//! OpenAPI schema validation of custom resource values, with the checks, messages and
//! field paths upstream's schema validator produces, and ratcheting on update (errors
//! in values left unchanged are dropped).

use serde_json::Value;

use super::formats;
use super::schema::{AdditionalProperties, StructuralSchema};
use crate::gojson::go_print_float as go_float;
use crate::validation::{BadValue, FieldError, reason};

/// Where the errors of one validation go: the field path they hang off (`None` for a
/// whole object, rendered `<nil>` as upstream does) and what was found.
struct Walk<'a> {
    base: Option<&'a str>,
    errs: Vec<FieldError>,
}

/// Validates `value` against `schema`. `base` prefixes the field paths (upstream's
/// `fldPath`); `old` enables ratcheting: a subtree equal to its old counterpart keeps no
/// errors.
pub(crate) fn validate_value(
    schema: &StructuralSchema,
    value: &Value,
    old: Option<&Value>,
    base: Option<&str>,
) -> Vec<FieldError> {
    let mut walk = Walk {
        base,
        errs: Vec::new(),
    };
    walk.node(schema, value, old, "");
    let mut out: Vec<FieldError> = Vec::with_capacity(walk.errs.len());
    for e in walk.errs {
        if !out
            .iter()
            .any(|o| o.field == e.field && o.message == e.message)
        {
            out.push(e);
        }
    }
    out
}

impl Walk<'_> {
    /// The field path of an error about the value named `name` (`spec.replicas`).
    fn field(&self, name: &str) -> String {
        let name = name.strip_prefix('.').unwrap_or(name);
        match (self.base, name.is_empty()) {
            (Some(b), true) => b.to_string(),
            (Some(b), false) => format!("{b}.{name}"),
            (None, true) => "<nil>".to_string(),
            (None, false) => name.to_string(),
        }
    }

    fn push(&mut self, reason: &'static str, name: &str, message: String) {
        let field = self.field(name);
        self.errs.push(FieldError {
            reason,
            field,
            message,
        });
    }

    fn invalid(&mut self, name: &str, value: BadValue, detail: String) {
        self.push(
            reason::INVALID,
            name,
            format!("Invalid value: {value}: {detail}"),
        );
    }

    /// Errors of the `allOf`/`anyOf`/`oneOf`/`not` family, reported without a field.
    fn composite(&mut self, message: String) {
        let field = self.base.unwrap_or("<nil>").to_string();
        self.errs.push(FieldError {
            reason: reason::INVALID,
            field,
            message: format!("Invalid value: \"\": {message}"),
        });
    }

    fn node(&mut self, s: &StructuralSchema, v: &Value, old: Option<&Value>, name: &str) {
        let start = self.errs.len();
        self.checks(s, v, old, name);
        if self.errs.len() > start && old == Some(v) {
            self.errs.truncate(start);
        }
    }

    fn checks(&mut self, s: &StructuralSchema, v: &Value, old: Option<&Value>, name: &str) {
        self.check_type(s, v, name);
        if v.is_null() {
            self.check_enum(s, v, name);
            return;
        }
        self.check_branches(s, v, old, name);
        if let Value::String(text) = v {
            self.check_string(s, text, name);
            self.check_format(s, text, name);
        }
        if v.is_number() {
            self.check_number(s, v, name);
        }
        if let Value::Array(items) = v {
            self.check_array(s, items, old.and_then(Value::as_array), name);
        }
        self.check_enum(s, v, name);
        if let Value::Object(map) = v {
            self.check_object(s, map, old.and_then(Value::as_object), name);
        }
    }

    fn check_type(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        let types: Vec<&str> = if s.int_or_string {
            vec!["integer", "string"]
        } else if s.type_.is_empty() {
            vec![]
        } else {
            vec![s.type_.as_str()]
        };
        let format = formats::effective(&s.format);
        if types.is_empty() && format.is_empty() {
            return;
        }
        let joined = types.join(",");
        if v.is_null() {
            if !types.is_empty() && !s.nullable {
                self.type_error(name, &joined, "null");
            }
            return;
        }
        let (sch_type, derived_format) = json_type(v);
        let has = |t: &str| types.contains(&t);
        let float_int =
            sch_type == "number" && has("integer") && v.as_f64().is_some_and(is_json_integer);
        let int_float = sch_type == "integer" && has("number");
        let stringy = v.is_string() || v.is_array();
        let format_matches = has(sch_type) || derived_format == format || float_int || int_float;
        if !(stringy || format.is_empty() || format_matches) {
            self.type_error(name, format, derived_format);
            return;
        }
        if stringy && !(has("number") || has("integer") || format.is_empty()) {
            return;
        }
        if !(has(sch_type) || float_int || int_float) {
            self.type_error(name, &joined, sch_type);
        }
    }

    fn type_error(&mut self, name: &str, expected: &str, found: &str) {
        let message = format!(
            "Invalid value: {}: {name} in body must be of type {expected}: {}",
            BadValue::from(found),
            BadValue::from(found)
        );
        self.push(reason::TYPE_INVALID, name, message);
    }

    fn check_branches(&mut self, s: &StructuralSchema, v: &Value, old: Option<&Value>, name: &str) {
        if !s.any_of.is_empty() {
            self.any_of(&s.any_of, v, old, name);
        }
        if !s.one_of.is_empty() {
            self.one_of(&s.one_of, v, old, name);
        }
        if !s.all_of.is_empty() {
            let mut valid = 0;
            for b in &s.all_of {
                let errs = self.branch(b, v, old, name);
                valid += usize::from(errs.is_empty());
                self.errs.extend(errs);
            }
            if valid != s.all_of.len() {
                let extra = if valid == 0 { ". None validated" } else { "" };
                self.composite(format!(
                    "{} must validate all the schemas (allOf){extra}",
                    quote(name)
                ));
            }
        }
        if let Some(not) = s.not()
            && self.branch(not, v, old, name).is_empty()
        {
            self.composite(format!(
                "{} must not validate the schema (not)",
                quote(name)
            ));
        }
    }

    fn branch(
        &self,
        b: &StructuralSchema,
        v: &Value,
        old: Option<&Value>,
        name: &str,
    ) -> Vec<FieldError> {
        let mut sub = Walk {
            base: self.base,
            errs: Vec::new(),
        };
        sub.node(b, v, old, name);
        sub.errs
    }

    fn any_of(
        &mut self,
        branches: &[StructuralSchema],
        v: &Value,
        old: Option<&Value>,
        name: &str,
    ) {
        let mut best: Option<Vec<FieldError>> = None;
        for b in branches {
            let errs = self.branch(b, v, old, name);
            if errs.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|prev| errs.len() < prev.len()) {
                best = Some(errs);
            }
        }
        self.composite(format!(
            "{} must validate at least one schema (anyOf)",
            quote(name)
        ));
        self.errs.extend(best.unwrap_or_default());
    }

    fn one_of(
        &mut self,
        branches: &[StructuralSchema],
        v: &Value,
        old: Option<&Value>,
        name: &str,
    ) {
        let mut valid = 0;
        let mut best: Option<Vec<FieldError>> = None;
        for b in branches {
            let errs = self.branch(b, v, old, name);
            if errs.is_empty() {
                valid += 1;
                best = None;
            } else if valid == 0 && best.as_ref().is_none_or(|prev| errs.len() < prev.len()) {
                best = Some(errs);
            }
        }
        if valid == 1 {
            return;
        }
        let extra = if valid == 0 {
            "Found none valid".to_string()
        } else {
            format!("Found {valid} valid alternatives")
        };
        self.composite(format!(
            "{} must validate one and only one schema (oneOf). {extra}",
            quote(name)
        ));
        self.errs.extend(best.unwrap_or_default());
    }

    fn check_string(&mut self, s: &StructuralSchema, text: &str, name: &str) {
        let chars = text.chars().count() as i64;
        if let Some(max) = s.max_length.filter(|m| chars > *m) {
            let unit = if max == 1 { "byte" } else { "bytes" };
            let message = format!("Too long: may not be more than {max} {unit}");
            self.push(reason::TOO_LONG, name, message);
            return;
        }
        if let Some(min) = s.min_length.filter(|m| chars < *m) {
            let detail = format!("{name} in body should be at least {min} chars long");
            self.invalid(name, BadValue::from(text), detail);
            return;
        }
        if !s.pattern.is_empty() {
            match formats::pattern_matches(&s.pattern, text) {
                Ok(true) => {}
                Ok(false) => {
                    let detail = format!("{name} in body should match '{}'", s.pattern);
                    self.invalid(name, BadValue::from(text), detail);
                }
                Err(e) => {
                    let detail = format!(
                        "{name} in body should match '{}, but pattern is invalid: {e}'",
                        s.pattern
                    );
                    self.invalid(name, BadValue::from(text), detail);
                }
            }
        }
    }

    fn check_format(&mut self, s: &StructuralSchema, text: &str, name: &str) {
        let format = formats::effective(&s.format);
        if !format.is_empty() && !formats::validates(format, text) {
            let message = format!(
                "Invalid value: {}: {name} in body must be of type {}: {}",
                BadValue::from(text),
                s.format,
                BadValue::from(text)
            );
            self.push(reason::TYPE_INVALID, name, message);
        }
    }

    fn check_number(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        let int = v.as_i64();
        let shown = number_value(v);
        if let Some(factor) = s.multiple_of {
            self.multiple_of(factor, v, int, &shown, name);
        }
        if let Some(min) = s.minimum {
            let below = match int.filter(|_| min.fract() == 0.0) {
                Some(i) => i < min as i64 || (s.exclusive_minimum && i == min as i64),
                None => {
                    let f = v.as_f64().unwrap_or_default();
                    f < min || (s.exclusive_minimum && f == min)
                }
            };
            if below {
                let op = if s.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                let bound = bound_text(min, int.is_some());
                self.invalid(
                    name,
                    shown.clone(),
                    format!("{name} in body should be {op} {bound}"),
                );
            }
        }
        if let Some(max) = s.maximum {
            let above = match int.filter(|_| max.fract() == 0.0) {
                Some(i) => i > max as i64 || (s.exclusive_maximum && i == max as i64),
                None => {
                    let f = v.as_f64().unwrap_or_default();
                    f > max || (s.exclusive_maximum && f == max)
                }
            };
            if above {
                let op = if s.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                let bound = bound_text(max, int.is_some());
                self.invalid(
                    name,
                    shown,
                    format!("{name} in body should be {op} {bound}"),
                );
            }
        }
    }

    fn multiple_of(
        &mut self,
        factor: f64,
        v: &Value,
        int: Option<i64>,
        shown: &BadValue,
        name: &str,
    ) {
        if factor <= 0.0 {
            let detail = format!(
                "factor MultipleOf declared for {name} must be positive: {}",
                go_float(factor)
            );
            self.invalid(name, BadValue::Raw(go_float(factor)), detail);
            return;
        }
        let ok = match int.filter(|_| factor.fract() == 0.0) {
            Some(i) => i % (factor as i64) == 0,
            None => {
                let f = v.as_f64().unwrap_or_default();
                let mult = if factor < 1.0 {
                    1.0 / factor * f
                } else {
                    f / factor
                };
                is_json_integer(mult)
            }
        };
        if !ok {
            let bound = bound_text(factor, int.is_some());
            self.invalid(
                name,
                shown.clone(),
                format!("{name} in body should be a multiple of {bound}"),
            );
        }
    }

    fn check_array(
        &mut self,
        s: &StructuralSchema,
        items: &[Value],
        old: Option<&Vec<Value>>,
        name: &str,
    ) {
        if let Some(item_schema) = s.items() {
            for (i, item) in items.iter().enumerate() {
                let old_item = old.and_then(|o| correlate_item(s, item, o));
                self.node(item_schema, item, old_item, &format!("{name}[{i}]"));
            }
        }
        let size = items.len() as i64;
        if let Some(min) = s.min_items.filter(|m| size < *m) {
            let detail = format!("{name} in body should have at least {min} items");
            self.invalid(name, BadValue::Int(size), detail);
        }
        if let Some(max) = s.max_items.filter(|m| size > *m) {
            let unit = if max == 1 { "item" } else { "items" };
            let message = format!("Too many: {size}: must have at most {max} {unit}");
            self.push(reason::TOO_MANY, name, message);
        }
        if s.unique_items && has_duplicates(items) {
            let detail = format!("{name} in body shouldn't contain duplicates");
            self.invalid(name, BadValue::from(""), detail);
        }
    }

    fn check_enum(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        let Some(allowed) = s.enum_.as_ref().filter(|e| !e.is_empty()) else {
            return;
        };
        if allowed.iter().any(|e| enum_matches(v, e)) {
            return;
        }
        let supported: Vec<String> = allowed
            .iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
        let field = self.field(name);
        self.errs
            .push(FieldError::not_supported(field, bad_value(v), &refs));
    }

    fn check_object(
        &mut self,
        s: &StructuralSchema,
        map: &serde_json::Map<String, Value>,
        old: Option<&serde_json::Map<String, Value>>,
        name: &str,
    ) {
        let size = map.len() as i64;
        if let Some(min) = s.min_properties.filter(|m| size < *m) {
            let detail = format!("{name} in body should have at least {min} properties");
            self.invalid(name, BadValue::Int(size), detail);
        }
        if let Some(max) = s.max_properties.filter(|m| size > *m) {
            let unit = if max == 1 { "item" } else { "items" };
            let message = format!("Too many: {size}: must have at most {max} {unit}");
            self.push(reason::TOO_MANY, name, message);
        }
        match &s.additional_properties {
            Some(AdditionalProperties::Allows(false)) => {
                for k in map.keys().filter(|k| !s.properties.contains_key(*k)) {
                    let detail = format!("{name}.{k} in body is a forbidden property");
                    self.invalid(name, BadValue::from(k), detail);
                }
            }
            Some(AdditionalProperties::Schema(ap)) => {
                for (k, v) in map.iter().filter(|(k, _)| !s.properties.contains_key(*k)) {
                    let old_v = old.and_then(|o| o.get(k));
                    self.node(ap, v, old_v, &format!("{name}.{k}"));
                }
            }
            _ => {}
        }
        for (k, prop) in &s.properties {
            if let Some(v) = map.get(k) {
                let child = if name.is_empty() {
                    k.clone()
                } else {
                    format!("{name}.{k}")
                };
                let old_v = old
                    .filter(|_| !(name.is_empty() && is_type_meta(k)))
                    .and_then(|o| o.get(k));
                self.node(prop, v, old_v, &child);
            }
        }
        for k in &s.required {
            if !map.contains_key(k) {
                let field = self.field(&format!("{name}.{k}"));
                self.errs.push(FieldError::required(field));
            }
        }
    }
}

fn is_type_meta(k: &str) -> bool {
    k == "kind" || k == "apiVersion"
}

/// The old item an item of a list corresponds to: by key for `map` lists, by value for
/// `set` lists; items of other lists correspond to nothing.
pub(crate) fn correlate_item<'a>(
    s: &StructuralSchema,
    item: &Value,
    old: &'a [Value],
) -> Option<&'a Value> {
    match s.list_type.as_deref() {
        Some("map") => {
            let key = |v: &Value| -> Vec<Option<Value>> {
                s.list_map_keys.iter().map(|k| v.get(k).cloned()).collect()
            };
            let wanted = key(item);
            old.iter().find(|o| key(o) == wanted)
        }
        Some("set") => old.iter().find(|o| *o == item),
        _ => None,
    }
}

fn quote(name: &str) -> String {
    BadValue::from(name).to_string()
}

/// The JSON type of a value and the format upstream derives for numbers.
fn json_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// Whether a float holds an integer JSON can carry exactly (|f| < 2^53).
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_992.0;
    f.is_finite() && f.fract() == 0.0 && (-MAX..=MAX).contains(&f)
}

fn number_value(v: &Value) -> BadValue {
    match v.as_i64() {
        Some(i) => BadValue::Int(i),
        None => BadValue::Raw(go_float(v.as_f64().unwrap_or_default())),
    }
}

fn bound_text(bound: f64, int_data: bool) -> String {
    if int_data && bound.fract() == 0.0 {
        format!("{}", bound as i64)
    } else {
        go_float(bound)
    }
}

fn bad_value(v: &Value) -> BadValue {
    match v {
        Value::Number(n) if n.as_i64().is_none() => number_value(v),
        Value::Null => BadValue::Raw("null".into()),
        other => BadValue::from(other),
    }
}

/// Enum membership as upstream decides it: deep equality, with numbers converted to
/// the enum value's type first.
fn enum_matches(v: &Value, e: &Value) -> bool {
    match (v, e) {
        (Value::Number(a), Value::Number(b)) => match (b.as_i64(), a.as_i64()) {
            (Some(bi), Some(ai)) => ai == bi,
            (Some(bi), None) => a.as_f64().is_some_and(|f| f.trunc() as i64 == bi),
            (None, _) => a.as_f64() == b.as_f64(),
        },
        _ => v == e,
    }
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].iter().any(|b| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> StructuralSchema {
        StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                        "image": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                        "mode": {"type": "string", "enum": ["Fast", "Slow"]},
                        "ratio": {"type": "number", "multipleOf": 0.5},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "minLength": 2}},
                        "port": {"x-kubernetes-int-or-string": true},
                        "when": {"type": "string", "format": "date-time"}
                    }
                }
            }
        }))
    }

    fn messages(v: Value) -> Vec<String> {
        validate_value(&schema(), &v, None, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_string_where_an_integer_belongs_is_a_type_error() {
        let errs = validate_value(
            &schema(),
            &json!({"spec": {"image": "nginx", "replicas": "three"}}),
            None,
            None,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, "FieldValueTypeInvalid");
        assert_eq!(
            errs[0].to_string(),
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type \
             integer: \"string\""
        );
    }

    #[test]
    fn each_bad_field_gets_one_cause() {
        let errs = messages(json!({"spec": {
            "replicas": 20, "mode": "Medium", "ratio": 0.3,
            "tags": ["a", "bb", "cc"], "image": "Nginx"
        }}));
        assert_eq!(
            errs,
            vec![
                "spec.image: Invalid value: \"Nginx\": spec.image in body should match '^[a-z]+$'",
                "spec.mode: Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\"",
                "spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.5",
                "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or \
                 equal to 10",
                "spec.tags[0]: Invalid value: \"a\": spec.tags[0] in body should be at least 2 \
                 chars long",
                "spec.tags: Too many: 3: must have at most 2 items",
            ]
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        assert_eq!(
            messages(json!({"spec": {}})),
            vec!["spec.image: Required value"]
        );
    }

    #[test]
    fn int_or_string_accepts_both_and_rejects_booleans() {
        assert!(messages(json!({"spec": {"image": "a", "port": 80}})).is_empty());
        assert!(messages(json!({"spec": {"image": "a", "port": "http"}})).is_empty());
        assert_eq!(
            messages(json!({"spec": {"image": "a", "port": true}})),
            vec![
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type \
                 integer,string: \"boolean\""
            ]
        );
    }

    #[test]
    fn formats_are_checked() {
        assert!(
            messages(json!({"spec": {"image": "a", "when": "2024-05-01T10:00:00Z"}})).is_empty()
        );
        assert_eq!(
            messages(json!({"spec": {"image": "a", "when": "yesterday"}})),
            vec![
                "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type \
                 date-time: \"yesterday\""
            ]
        );
    }

    #[test]
    fn unchanged_invalid_values_ratchet_on_update() {
        let old = json!({"spec": {"image": "a", "replicas": 20}});
        let new = json!({"spec": {"image": "b", "replicas": 20}});
        assert!(validate_value(&schema(), &new, Some(&old), None).is_empty());
        let changed = json!({"spec": {"image": "b", "replicas": 30}});
        assert_eq!(
            validate_value(&schema(), &changed, Some(&old), None).len(),
            1
        );
    }

    #[test]
    fn any_of_failures_name_the_composite_and_the_closest_branch() {
        let s = StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {"x": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}
        }));
        let errs: Vec<String> = validate_value(&s, &json!({"x": "c"}), None, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "<nil>: Invalid value: \"\": \"x\" must validate at least one schema (anyOf)",
                "x: Invalid value: \"c\": x in body should match '^a'",
            ]
        );
    }
}
