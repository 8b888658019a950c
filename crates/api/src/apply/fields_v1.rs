//! The `FieldsV1` encoding of field sets stored in `metadata.managedFields`: a trie whose
//! keys are path elements (`f:name`, `k:{"name":"nginx"}`, `v:"x"`, `i:0`), whose leaves
//! are `{}`, and where `".": {}` marks a node that is a member and also has children.

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::path::PathElement;

/// Why a `fieldsV1` document could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FieldsV1Error {
    #[error("expected an object for {0}")]
    NotAnObject(String),
    #[error("key must be 2 characters long: {0}")]
    TooShort(String),
    #[error("missing colon: {0}")]
    MissingColon(String),
    #[error("parsing key as path element: {key}: {reason}")]
    BadElement { key: String, reason: String },
}

/// The `fieldsV1` document of a set, keys in upstream's order.
pub fn encode(set: &FieldSet) -> Value {
    Value::Object(encode_node(set, false))
}

fn encode_node(set: &FieldSet, include_self: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let members = set.members();
    let children: Vec<_> = set.children().collect();
    if include_self && !(members.is_empty() && children.is_empty()) {
        out.insert(".".into(), Value::Object(Map::new()));
    }

    // Members and children merge in element order; an element in both is written once,
    // with the `.` marker.
    let (mut m, mut c) = (0, 0);
    while m < members.len() || c < children.len() {
        let member = members.get(m);
        let child = children.get(c);
        match (member, child) {
            (Some(member), Some((element, set))) if member == *element => {
                let node = encode_node(set, true);
                out.insert(member.to_fields_v1_key(), Value::Object(node));
                m += 1;
                c += 1;
            }
            (Some(member), Some((element, _))) if member < *element => {
                out.insert(member.to_fields_v1_key(), Value::Object(Map::new()));
                m += 1;
            }
            (Some(member), None) => {
                out.insert(member.to_fields_v1_key(), Value::Object(Map::new()));
                m += 1;
            }
            (_, Some((element, set))) => {
                let node = encode_node(set, false);
                out.insert(element.to_fields_v1_key(), Value::Object(node));
                c += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// Reads a `fieldsV1` document. Elements of unknown types are dropped, as upstream drops
/// what a newer version might have written.
pub fn decode(document: &Value) -> Result<FieldSet, FieldsV1Error> {
    match document {
        Value::Object(map) => Ok(decode_node(map)?.0.unwrap_or_default()),
        Value::Null => Ok(FieldSet::new()),
        _ => Err(FieldsV1Error::NotAnObject("fieldsV1".into())),
    }
}

/// The children of a node, and whether the node itself is a member: it is when it marks
/// itself with `.` or has no children at all.
fn decode_node(map: &Map<String, Value>) -> Result<(Option<FieldSet>, bool), FieldsV1Error> {
    let mut is_member = false;
    let mut members = Vec::new();
    let mut children = Vec::new();
    for (key, value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(element) = parse_element(key)? else {
            continue;
        };
        let (grandchildren, child_is_member) = match value {
            Value::Object(inner) => decode_node(inner)?,
            Value::Null => (None, true),
            _ => return Err(FieldsV1Error::NotAnObject(key.clone())),
        };
        if child_is_member {
            members.push(element.clone());
        }
        if let Some(grandchildren) = grandchildren {
            children.push((element, grandchildren));
        }
    }
    if members.is_empty() && children.is_empty() {
        return Ok((None, true));
    }
    Ok((Some(FieldSet::from_parts(members, children)), is_member))
}

/// One `fieldsV1` key; `None` for element types this version does not know.
pub(super) fn parse_element(key: &str) -> Result<Option<PathElement>, FieldsV1Error> {
    let bytes = key.as_bytes();
    if bytes.len() < 2 {
        return Err(FieldsV1Error::TooShort(key.into()));
    }
    if bytes[1] != b':' {
        return Err(FieldsV1Error::MissingColon(key.into()));
    }
    let rest = &key[2..];
    let bad = |reason: String| FieldsV1Error::BadElement {
        key: key.into(),
        reason,
    };
    let element = match bytes[0] {
        b'f' => PathElement::field(rest),
        b'v' => PathElement::value(serde_json::from_str(rest).map_err(|e| bad(e.to_string()))?),
        b'k' => {
            let fields: Map<String, Value> =
                serde_json::from_str(rest).map_err(|e| bad(e.to_string()))?;
            PathElement::key(fields.into_iter().collect())
        }
        b'i' => PathElement::Index(rest.parse().map_err(|_| bad("invalid index".into()))?),
        _ => return Ok(None),
    };
    Ok(Some(element))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The fields an apply of a Deployment with one container and one port owns, written by
    /// hand in upstream's documented format.
    fn deployment_fields() -> Value {
        json!({
            "f:metadata": {
                "f:labels": {"f:app": {}}
            },
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            "k:{\"name\":\"nginx\"}": {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                        ".": {},
                                        "f:containerPort": {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        })
    }

    #[test]
    fn decoding_and_encoding_round_trips_upstream_documents() {
        let document = deployment_fields();
        let set = decode(&document).expect("valid fieldsV1");
        assert_eq!(encode(&set), document);
        assert_eq!(
            serde_json::to_string(&encode(&set)).unwrap(),
            serde_json::to_string(&document).unwrap()
        );
        let paths: Vec<String> = set.paths().iter().map(|p| p.to_string()).collect();
        assert!(paths.contains(&".spec.template.spec.containers[name=\"nginx\"]".to_string()));
        assert!(paths.contains(
            &".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort"
                .to_string()
        ));
    }

    #[test]
    fn encoding_sorts_keys_like_upstream() {
        let document = json!({
            "f:b": {},
            "v:\"z\"": {},
            "f:a": {".": {}, "f:x": {}},
            "i:2": {},
            "k:{\"protocol\":\"TCP\",\"containerPort\":80}": {}
        });
        let set = decode(&document).expect("valid");
        let keys: Vec<String> = encode(&set).as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "f:a",
                "f:b",
                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
                "v:\"z\"",
                "i:2"
            ]
        );
    }

    #[test]
    fn set_values_and_finalizers_encode_as_value_elements() {
        let document =
            json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"example.com/x\"": {}}}});
        let set = decode(&document).expect("valid");
        assert_eq!(
            set.paths()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            [
                ".metadata.finalizers",
                ".metadata.finalizers[=\"example.com/x\"]"
            ]
        );
        assert_eq!(encode(&set), document);
    }

    #[test]
    fn unknown_element_types_are_dropped_and_bad_keys_rejected() {
        let set = decode(&json!({"x:future": {}, "f:a": {}})).expect("valid");
        assert_eq!(encode(&set), json!({"f:a": {}}));
        assert_eq!(
            decode(&json!({"f": {}})),
            Err(FieldsV1Error::TooShort("f".into()))
        );
        assert_eq!(
            decode(&json!({"fa": {}})),
            Err(FieldsV1Error::MissingColon("fa".into()))
        );
        assert!(decode(&json!({"k:[1]": {}})).is_err());
        assert!(decode(&json!({"f:a": 1})).is_err());
        assert!(decode(&json!([])).is_err());
    }

    #[test]
    fn empty_sets_encode_as_an_empty_object() {
        assert_eq!(encode(&FieldSet::new()), json!({}));
        assert!(decode(&json!({})).expect("valid").is_empty());
    }
}
