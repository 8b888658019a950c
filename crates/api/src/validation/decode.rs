//! The decoding check: would upstream's typed JSON decoder accept the object? Reports
//! the first type mismatch with the field path and Go type, as upstream's text does.

use base64::Engine;
use serde_json::Value;

use super::quantity::Quantity;
use super::schema::{Node, NodeId, Schemas, schemas};
use crate::ResourceInfo;

const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
const RFC3339_MICRO: &str = "2006-01-02T15:04:05.000000Z07:00";

/// `Ok` when `obj` decodes into the kind's type; otherwise the full message upstream
/// answers with 400 BadRequest, e.g. `Deployment in version "v1" cannot be handled as a
/// Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
pub fn check_decodes(resource: &ResourceInfo, obj: &Value) -> Result<(), String> {
    let s = schemas();
    let Some(root) = s.root(resource) else {
        return Ok(());
    };
    let mut walk = Walk {
        s,
        fields: Vec::new(),
        strukt: String::new(),
    };
    walk.check(root, obj).map_err(|detail| {
        format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: {detail}",
            resource.version,
            kind = resource.kind
        )
    })
}

struct Walk<'a> {
    s: &'a Schemas,
    /// Field names from the root, without indexes or map keys (as Go prints them).
    fields: Vec<String>,
    /// The innermost struct type holding the current field.
    strukt: String,
}

impl Walk<'_> {
    fn check(&mut self, id: NodeId, value: &Value) -> Result<(), String> {
        if value.is_null() {
            return Ok(());
        }
        match self.s.node(id) {
            Node::Struct { name, fields, .. } => {
                let Value::Object(map) = value else {
                    return Err(self.mismatch(value, id));
                };
                for (k, v) in map {
                    if let Some(f) = fields.get(k) {
                        self.check_field(name, k, *f, v)?;
                    }
                }
                Ok(())
            }
            Node::Map(inner) => {
                let Value::Object(map) = value else {
                    return Err(self.mismatch(value, id));
                };
                map.values().try_for_each(|v| self.check(*inner, v))
            }
            Node::Array(inner) => {
                let Value::Array(items) = value else {
                    return Err(self.mismatch(value, id));
                };
                items.iter().try_for_each(|v| self.check(*inner, v))
            }
            _ => self.check_scalar(id, value),
        }
    }

    fn check_field(
        &mut self,
        strukt: &str,
        key: &str,
        id: NodeId,
        v: &Value,
    ) -> Result<(), String> {
        let outer = std::mem::replace(&mut self.strukt, strukt.to_string());
        self.fields.push(key.to_string());
        let result = self.check(id, v);
        self.fields.pop();
        self.strukt = outer;
        result
    }

    fn check_scalar(&self, id: NodeId, value: &Value) -> Result<(), String> {
        match (self.s.node(id), value) {
            (Node::Str, Value::String(_)) | (Node::Bool, Value::Bool(_)) => Ok(()),
            (Node::Float, Value::Number(_)) => Ok(()),
            (Node::Int32, Value::Number(n)) => {
                self.integer(id, n, i64::from(i32::MIN), i64::from(i32::MAX))
            }
            (Node::Int64, Value::Number(n)) => self.integer(id, n, i64::MIN, i64::MAX),
            (Node::Bytes, Value::String(s)) => base64_error(s),
            (Node::IntOrString, v) => int_or_string(v),
            (Node::Quantity, v) => quantity(v),
            (Node::Time { micro }, v) => time(v, *micro),
            (Node::Preserve | Node::Any, _) => Ok(()),
            _ => Err(self.mismatch(value, id)),
        }
    }

    fn integer(
        &self,
        id: NodeId,
        n: &serde_json::Number,
        min: i64,
        max: i64,
    ) -> Result<(), String> {
        match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(()),
            _ => Err(self.message(&format!("number {n}"), id)),
        }
    }

    fn mismatch(&self, value: &Value, id: NodeId) -> String {
        self.message(json_kind(value), id)
    }

    fn message(&self, what: &str, id: NodeId) -> String {
        let go_type = self.s.go_type(id);
        if self.fields.is_empty() {
            return format!("json: cannot unmarshal {what} into Go value of type {go_type}");
        }
        format!(
            "json: cannot unmarshal {what} into Go struct field {}.{} of type {go_type}",
            self.strukt,
            self.fields.join(".")
        )
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn int_or_string(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Ok(()),
        Value::Number(n) => Err(format!(
            "json: cannot unmarshal number {n} into Go value of type int32"
        )),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type int32",
            json_kind(other)
        )),
    }
}

fn quantity(v: &Value) -> Result<(), String> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err(super::quantity::FORMAT_ERROR.to_string()),
    };
    Quantity::parse(&text).map(|_| ()).map_err(str::to_string)
}

fn time(v: &Value, micro: bool) -> Result<(), String> {
    let Value::String(s) = v else {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_kind(v)
        ));
    };
    if s.is_empty() || chrono::DateTime::parse_from_rfc3339(s).is_ok() {
        return Ok(());
    }
    let layout = if micro { RFC3339_MICRO } else { RFC3339 };
    Err(format!(
        "parsing time {s:?} as {layout:?}: cannot parse {s:?} as \"2006\""
    ))
}

/// Go decodes `[]byte` fields from padded standard base64.
fn base64_error(s: &str) -> Result<(), String> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
        Ok(_) => Ok(()),
        Err(base64::DecodeError::InvalidByte(offset, _)) => Err(illegal_base64(offset)),
        Err(base64::DecodeError::InvalidLastSymbol(offset, _)) => Err(illegal_base64(offset)),
        Err(_) => Err(illegal_base64(cleaned.len() - cleaned.len() % 4)),
    }
}

fn illegal_base64(offset: usize) -> String {
    format!("illegal base64 data at input byte {offset}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;
    use serde_json::json;

    fn find(group: &str, k: &str) -> std::sync::Arc<ResourceInfo> {
        builtin_resources()
            .into_iter()
            .find(|r| r.kind == k && r.group == group)
            .unwrap()
    }

    #[test]
    fn a_string_replica_count_names_the_struct_path_and_type() {
        let d = json!({"spec": {"replicas": "3"}});
        assert_eq!(
            check_decodes(&find("apps", "Deployment"), &d).unwrap_err(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot \
             unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
    }

    #[test]
    fn nested_errors_name_the_innermost_struct_without_indexes() {
        let pod = json!({"spec": {"containers": [{"name": "a", "ports": {"containerPort": 80}}]}});
        let err = check_decodes(&find("", "Pod"), &pod).unwrap_err();
        assert!(err.ends_with(
            "json: cannot unmarshal object into Go struct field Container.spec.containers.ports \
             of type []v1.ContainerPort"
        ));
    }

    #[test]
    fn label_values_must_be_strings() {
        let pod = json!({"metadata": {"labels": {"a": 1}}});
        let err = check_decodes(&find("", "Pod"), &pod).unwrap_err();
        assert!(err.ends_with("Go struct field ObjectMeta.metadata.labels of type string"));
    }

    #[test]
    fn fractional_integers_show_the_number() {
        let pod = json!({"spec": {"terminationGracePeriodSeconds": 1.5}});
        let err = check_decodes(&find("", "Pod"), &pod).unwrap_err();
        assert!(err.contains("cannot unmarshal number 1.5 into Go struct field PodSpec"));
    }

    #[test]
    fn malformed_quantities_fail_with_the_quantity_message() {
        let pod = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}});
        let err = check_decodes(&find("", "Pod"), &pod).unwrap_err();
        assert!(err.ends_with(super::super::quantity::FORMAT_ERROR));
    }

    #[test]
    fn secret_data_must_be_base64() {
        let secret = json!({"data": {"k": "bm90!"}});
        let err = check_decodes(&find("", "Secret"), &secret).unwrap_err();
        assert!(err.ends_with("illegal base64 data at input byte 4"));
        assert!(check_decodes(&find("", "Secret"), &json!({"data": {"k": "aGk="}})).is_ok());
    }

    #[test]
    fn nulls_unknown_fields_and_int_or_strings_decode() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}], "x": [1],
            "clusterIP": null}});
        assert!(check_decodes(&find("", "Service"), &svc).is_ok());
    }
}
