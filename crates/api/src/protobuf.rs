//! Decoding of `application/vnd.kubernetes.protobuf` request bodies into their JSON form.
//!
//! kubectl's typed clients and helm's release storage send objects as protobuf: the magic
//! bytes `k8s\0`, then a `runtime.Unknown` envelope naming the kind and carrying the
//! object in upstream's protobuf encoding. The object is decoded against a schema
//! generated from upstream's `generated.proto` files and Go struct tags (see
//! `protobuf/generate_schema.py`), so the JSON matches what upstream's encoding/json
//! writes for the same object, except that `null`s are left out.

mod convert;
mod schema;
#[rustfmt::skip]
mod tables;
mod wire;

use serde_json::{Map, Value};

pub use convert::MalformedReason;
pub use wire::WireError;

use schema::Message;
use wire::{Fields, WireValue};

/// Media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Prefix that starts every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// Why a protobuf request body cannot be turned into JSON. All of these are the client's
/// fault (upstream answers them with 400 Bad Request or 415 Unsupported Media Type).
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body does not start with the magic bytes k8s\\0")]
    MissingMagic,
    #[error("malformed runtime.Unknown envelope: {0}")]
    MalformedEnvelope(MalformedReason),
    #[error("unsupported content encoding {0:?} of the protobuf object")]
    UnsupportedEncoding(String),
    #[error("unsupported content type {0:?} of the protobuf object")]
    UnsupportedContentType(String),
    #[error("unsupported kind \"{api_version} {kind}\" in protobuf body")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed {api_version} {kind} at {path}: {reason}")]
    MalformedObject {
        api_version: String,
        kind: String,
        /// JSON path of the failing field, or `(object)` for the object itself.
        path: String,
        reason: MalformedReason,
    },
}

/// Decodes a protobuf request body into the object's JSON form, as upstream's JSON
/// encoding would have it: camelCase field names, apiVersion and kind set (as the client
/// sent them), Time as RFC 3339 strings, Quantity as strings, IntOrString as a number or
/// string, `[]byte` as base64, unset optional fields left out.
pub fn decode_to_json(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body
        .strip_prefix(&MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = Unknown::parse(envelope).map_err(ProtobufError::MalformedEnvelope)?;
    unknown.check_encoding()?;

    let message = root_message(&unknown.api_version, &unknown.kind).ok_or_else(|| {
        ProtobufError::UnsupportedKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        }
    })?;
    let mut decoder = convert::Decoder::for_body_len(body.len());
    let fields = decoder
        .message(message, unknown.raw)
        .map_err(|error| unknown.malformed(error))?;

    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), unknown.api_version.into());
    object.insert("kind".to_owned(), unknown.kind.into());
    object.extend(fields);
    Ok(Value::Object(object))
}

/// Whether request bodies of this kind can be decoded from protobuf.
pub fn decodes(api_version: &str, kind: &str) -> bool {
    root_message(api_version, kind).is_some()
}

/// The schema message of a kind.
fn root_message(api_version: &str, kind: &str) -> Option<&'static Message> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    tables::ROOTS
        .iter()
        .find(|(g, v, k, _)| {
            // Upstream registers DeleteOptions in every group version (helm sends "v1").
            (*g == group || *k == "DeleteOptions") && *v == version && *k == kind
        })
        .map(|(.., message)| *message)
}

/// The `runtime.Unknown` envelope: `{typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
/// contentEncoding = 3, contentType = 4}`.
#[derive(Debug, Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, MalformedReason> {
        let mut unknown = Unknown::default();
        for item in Fields::new(bytes) {
            match item? {
                (1, wire) => unknown.parse_type_meta(envelope_bytes(wire)?)?,
                (2, wire) => unknown.raw = envelope_bytes(wire)?,
                (3, wire) => unknown.content_encoding = envelope_string(wire)?,
                (4, wire) => unknown.content_type = envelope_string(wire)?,
                _ => {}
            }
        }
        Ok(unknown)
    }

    fn parse_type_meta(&mut self, bytes: &[u8]) -> Result<(), MalformedReason> {
        for item in Fields::new(bytes) {
            match item? {
                (1, wire) => self.api_version = envelope_string(wire)?,
                (2, wire) => self.kind = envelope_string(wire)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn malformed(&self, error: convert::FieldError) -> ProtobufError {
        let path = error.path();
        ProtobufError::MalformedObject {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            path: if path.is_empty() {
                "(object)".to_owned()
            } else {
                path
            },
            reason: error.reason,
        }
    }

    /// Upstream's clients never compress or nest another encoding, and skiff decodes
    /// neither.
    fn check_encoding(&self) -> Result<(), ProtobufError> {
        if !self.content_encoding.is_empty() {
            return Err(ProtobufError::UnsupportedEncoding(
                self.content_encoding.clone(),
            ));
        }
        if !self.content_type.is_empty() && self.content_type != CONTENT_TYPE {
            return Err(ProtobufError::UnsupportedContentType(
                self.content_type.clone(),
            ));
        }
        Ok(())
    }
}

fn envelope_bytes(wire: WireValue<'_>) -> Result<&[u8], MalformedReason> {
    match wire {
        WireValue::Bytes(bytes) => Ok(bytes),
        other => Err(MalformedReason::WireType {
            expected: "bytes",
            found: other.wire_type_name(),
        }),
    }
}

fn envelope_string(wire: WireValue<'_>) -> Result<String, MalformedReason> {
    envelope_bytes(wire).map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_pb::api::apps::v1 as apps;
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::api::resource::Quantity;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime;
    use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
    use prost::Message as _;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use super::*;
    use crate::builtin_resources;

    /// Wraps an encoded object the way client-go does.
    fn body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = runtime::Unknown {
            type_meta: Some(runtime::TypeMeta {
                api_version: Some(api_version.to_owned()),
                kind: Some(kind.to_owned()),
            }),
            raw: Some(raw),
            content_encoding: None,
            content_type: None,
        };
        [MAGIC.as_slice(), &unknown.encode_to_vec()].concat()
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Passes `json` through the k8s-openapi type and back.
    fn through_openapi<T: DeserializeOwned + Serialize>(json: &Value) -> Value {
        let typed: T = serde_json::from_value(json.clone()).unwrap();
        serde_json::to_value(typed).unwrap()
    }

    fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        let quantity = |v: &str| Quantity {
            string: Some(v.to_owned()),
        };
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), quantity(v)))
            .collect()
    }

    fn web_deployment() -> apps::Deployment {
        let labels = string_map(&[("app", "web")]);
        let container = core::Container {
            name: Some("nginx".into()),
            image: Some("nginx:1.28".into()),
            ports: vec![core::ContainerPort {
                container_port: Some(80),
                protocol: Some("TCP".into()),
                ..Default::default()
            }],
            resources: Some(core::ResourceRequirements {
                limits: quantities(&[("memory", "128Mi")]),
                requests: quantities(&[("cpu", "250m"), ("memory", "64Mi")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let strategy = apps::DeploymentStrategy {
            r#type: Some("RollingUpdate".into()),
            rolling_update: Some(apps::RollingUpdateDeployment {
                max_surge: Some(IntOrString {
                    r#type: Some(1),
                    int_val: None,
                    str_val: Some("25%".into()),
                }),
                max_unavailable: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(1),
                    str_val: None,
                }),
            }),
        };
        apps::Deployment {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                labels: labels.clone(),
                ..Default::default()
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(3),
                selector: Some(meta::LabelSelector {
                    match_labels: labels.clone(),
                    ..Default::default()
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(meta::ObjectMeta {
                        labels,
                        ..Default::default()
                    }),
                    spec: Some(core::PodSpec {
                        containers: vec![container],
                        ..Default::default()
                    }),
                }),
                strategy: Some(strategy),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn deployment_decodes_to_upstream_json() {
        let raw = web_deployment().encode_to_vec();

        let json = decode_to_json(&body("apps/v1", "Deployment", raw)).unwrap();

        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{
                        "name": "nginx",
                        "image": "nginx:1.28",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {
                            "limits": {"memory": "128Mi"},
                            "requests": {"cpu": "250m", "memory": "64Mi"}
                        }
                    }]}
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}
                }
            },
            "status": {}
        });
        assert_eq!(json, expected);
        assert_eq!(
            through_openapi::<k8s_openapi::api::apps::v1::Deployment>(&json),
            expected
        );
    }

    #[test]
    fn kubectl_create_deployment_body_from_the_wire_log_decodes() {
        // `kubectl create deployment x --image=nginx`, recorded in shared/wire.
        let recorded = hex(concat!(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a3010a1b0a017812001a00",
            "22002a003200380042005a080a0361707012017812760801120a0a080a036170701201781a5e0a",
            "1a0a0012001a0022002a003200380042005a080a03617070120178124012220a056e67696e7812",
            "056e67696e782a0042006a007200800100880100900100a201001a00320042004a005200580060",
            "0068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a00",
            "2200",
        ));

        let json = decode_to_json(&recorded).unwrap();

        // kubectl's own `-o json` of the same object, without its `null`s: the empty
        // strings and zeros that Go puts on the wire for unset value fields are gone.
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"app": "x"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
                },
                "strategy": {}
            },
            "status": {}
        });
        assert_eq!(json, expected);
        assert_eq!(
            through_openapi::<k8s_openapi::api::apps::v1::Deployment>(&json),
            expected
        );
    }

    #[test]
    fn secret_with_binary_data_decodes_to_base64() {
        let secret = core::Secret {
            metadata: Some(meta::ObjectMeta {
                name: Some("s".into()),
                ..Default::default()
            }),
            immutable: Some(false),
            data: [("blob".to_owned(), vec![0, 1, 2, 0xff, 0xfe])].into(),
            string_data: BTreeMap::new(),
            r#type: Some("Opaque".into()),
        };

        let json = decode_to_json(&body("v1", "Secret", secret.encode_to_vec())).unwrap();

        // immutable is a pointer upstream, so an explicit false survives.
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "immutable": false,
            "data": {"blob": "AAEC//4="},
            "type": "Opaque"
        });
        assert_eq!(json, expected);
        assert_eq!(
            through_openapi::<k8s_openapi::api::core::v1::Secret>(&json),
            expected
        );
    }

    #[test]
    fn delete_options_keep_zero_grace_period_and_propagation_policy() {
        let options = meta::DeleteOptions {
            grace_period_seconds: Some(0),
            propagation_policy: Some("Background".into()),
            ..Default::default()
        };

        let json = decode_to_json(&body("v1", "DeleteOptions", options.encode_to_vec())).unwrap();

        let expected = json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Background"
        });
        assert_eq!(json, expected);
        let round_trip =
            through_openapi::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>;
        assert_eq!(round_trip(&json), expected);
    }

    #[test]
    fn helm_delete_options_body_from_the_wire_log_decodes() {
        let recorded = hex("6b3873000a130a027631120d44656c6574654f7074696f6e7312001a002200");

        let json = decode_to_json(&recorded).unwrap();

        assert_eq!(json, json!({"apiVersion": "v1", "kind": "DeleteOptions"}));
    }

    #[test]
    fn delete_options_are_accepted_under_any_group_version() {
        for api_version in ["meta.k8s.io/v1", "apps/v1", "batch/v1"] {
            let json = decode_to_json(&body(api_version, "DeleteOptions", Vec::new())).unwrap();
            assert_eq!(json["apiVersion"], api_version);
        }
    }

    #[test]
    fn pod_creation_timestamp_becomes_rfc3339_and_inline_sources_are_promoted() {
        let pod = core::Pod {
            metadata: Some(meta::ObjectMeta {
                name: Some("p".into()),
                // Upstream keeps whole seconds of a Time.
                creation_timestamp: Some(meta::Time {
                    seconds: Some(1715000000),
                    nanos: Some(9),
                }),
                ..Default::default()
            }),
            spec: Some(core::PodSpec {
                volumes: vec![core::Volume {
                    name: Some("cfg".into()),
                    volume_source: Some(core::VolumeSource {
                        config_map: Some(core::ConfigMapVolumeSource {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: Some("settings".into()),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                }],
                containers: vec![core::Container {
                    name: Some("c".into()),
                    image: Some("busybox".into()),
                    security_context: Some(core::SecurityContext {
                        run_as_user: Some(0),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                automount_service_account_token: Some(false),
                ..Default::default()
            }),
            status: None,
        };

        let json = decode_to_json(&body("v1", "Pod", pod.encode_to_vec())).unwrap();

        let expected = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "creationTimestamp": "2024-05-06T12:53:20Z"},
            "spec": {
                "volumes": [{"name": "cfg", "configMap": {"name": "settings"}}],
                "containers": [{
                    "name": "c",
                    "image": "busybox",
                    "resources": {},
                    "securityContext": {"runAsUser": 0}
                }],
                "automountServiceAccountToken": false
            },
            "status": {}
        });
        assert_eq!(json, expected);
        assert_eq!(
            through_openapi::<k8s_openapi::api::core::v1::Pod>(&json),
            expected
        );
    }

    #[test]
    fn lease_micro_times_keep_microseconds() {
        let renew = meta::MicroTime {
            seconds: Some(1715000400),
            nanos: Some(123_456_789),
        };
        let lease = k8s_pb::api::coordination::v1::Lease {
            metadata: Some(meta::ObjectMeta {
                name: Some("l".into()),
                ..Default::default()
            }),
            spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
                holder_identity: Some("node-a".into()),
                renew_time: Some(renew),
                ..Default::default()
            }),
        };

        let raw = lease.encode_to_vec();
        let json = decode_to_json(&body("coordination.k8s.io/v1", "Lease", raw)).unwrap();

        let expected = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "l"},
            "spec": {"holderIdentity": "node-a", "renewTime": "2024-05-06T13:00:00.123456Z"}
        });
        assert_eq!(json, expected);
        let round_trip = through_openapi::<k8s_openapi::api::coordination::v1::Lease>;
        assert_eq!(round_trip(&json), expected);
    }

    #[test]
    fn controller_revision_data_is_embedded_as_json() {
        let revision = apps::ControllerRevision {
            metadata: Some(meta::ObjectMeta::default()),
            data: Some(runtime::RawExtension {
                raw: Some(br#"{"spec":{"x":[1]}}"#.to_vec()),
            }),
            revision: Some(2),
        };

        let raw = revision.encode_to_vec();
        let json = decode_to_json(&body("apps/v1", "ControllerRevision", raw)).unwrap();

        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {},
            "data": {"spec": {"x": [1]}},
            "revision": 2
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn fields_unknown_to_the_schema_are_skipped() {
        let mut raw = web_deployment().encode_to_vec();
        // Field 99, a string, as a newer client might add.
        raw.extend([0x9a, 0x06, 0x02, b'h', b'i']);

        let json = decode_to_json(&body("apps/v1", "Deployment", raw)).unwrap();

        assert_eq!(json["metadata"]["name"], "web");
    }

    #[test]
    fn every_decodable_kind_decodes_an_empty_object_into_its_upstream_type() {
        macro_rules! parse_with {
            ($t:ty) => {
                (|json| serde_json::from_value::<$t>(json).map(drop)) as fn(Value) -> _
            };
        }
        for (group, version, kind, _) in tables::ROOTS.iter().filter(|r| r.2 != "DeleteOptions") {
            let api_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            let json = decode_to_json(&body(&api_version, kind, Vec::new())).unwrap();
            let parse = with_builtin_type!(*group, *version, *kind, parse_with)
                .unwrap_or_else(|| panic!("{api_version} {kind} is not a builtin type"));
            parse(json).unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
        }
    }

    /// Encodes an instance of `message` with every field set, lists and maps holding one
    /// element, so that each schema field shows up in the JSON.
    fn every_field_set(message: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        for field in message.fields {
            if field.shape == schema::Shape::Map {
                let entry = [b"\x0a\x01k".as_slice(), &sample_field(2, field.ty)].concat();
                push_len(&mut out, field.number, &entry);
            } else {
                out.extend(sample_field(field.number, field.ty));
            }
        }
        out
    }

    /// Field `number` holding a sample value of `ty`.
    fn sample_field(number: u32, ty: schema::Ty) -> Vec<u8> {
        use schema::Ty;
        let mut out = Vec::new();
        match ty {
            Ty::Bool | Ty::Int32 | Ty::Int64 => {
                push_varint(&mut out, u64::from(number) << 3);
                push_varint(&mut out, 1);
            }
            Ty::String => push_len(&mut out, number, b"s"),
            Ty::Bytes => push_len(&mut out, number, &[1, 2]),
            Ty::Time | Ty::MicroTime => {
                let time = meta::Time {
                    seconds: Some(1715000000),
                    nanos: Some(123_000),
                };
                push_len(&mut out, number, &time.encode_to_vec());
            }
            Ty::Quantity => {
                let quantity = Quantity {
                    string: Some("1m".into()),
                };
                push_len(&mut out, number, &quantity.encode_to_vec());
            }
            Ty::IntOrString => {
                let value = IntOrString {
                    r#type: Some(1),
                    int_val: None,
                    str_val: Some("p".into()),
                };
                push_len(&mut out, number, &value.encode_to_vec());
            }
            Ty::RawJson => {
                let raw = runtime::RawExtension {
                    raw: Some(br#"{"a":1}"#.to_vec()),
                };
                push_len(&mut out, number, &raw.encode_to_vec());
            }
            Ty::Message(child) => push_len(&mut out, number, &every_field_set(child)),
        }
        out
    }

    fn push_len(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
        push_varint(out, (u64::from(number) << 3) | 2);
        push_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    fn push_varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    /// The path of the first place where `a` and `b` differ, with both sides there.
    /// k8s-openapi writes apiVersion and kind into nested objects of resource types (a
    /// StatefulSet's volumeClaimTemplates), which upstream leaves empty: not a difference.
    fn first_difference(a: &Value, b: &Value, path: String) -> Option<(String, Value, Value)> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|key| {
                let added_type_meta = !path.is_empty()
                    && matches!(key.as_str(), "apiVersion" | "kind")
                    && !x.contains_key(key);
                let left = x.get(key).unwrap_or(&Value::Null);
                let right = y.get(key).unwrap_or(&Value::Null);
                let nested = format!("{path}.{key}");
                (!added_type_meta)
                    .then(|| first_difference(left, right, nested))
                    .flatten()
            }),
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (l, r))| first_difference(l, r, format!("{path}[{i}]"))),
            _ => (a != b).then(|| (path, a.clone(), b.clone())),
        }
    }

    #[test]
    fn every_schema_field_survives_the_upstream_type() {
        macro_rules! through {
            ($t:ty) => {
                through_openapi::<$t> as fn(&Value) -> Value
            };
        }
        for (group, version, kind, message) in tables::ROOTS {
            let api_version = match *group {
                "" => version.to_string(),
                group => format!("{group}/{version}"),
            };
            let raw = every_field_set(message);
            let json = decode_to_json(&body(&api_version, kind, raw)).unwrap();
            let through = match *kind {
                "DeleteOptions" => {
                    through!(k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions)
                }
                _ => with_builtin_type!(*group, *version, *kind, through).unwrap(),
            };
            let difference = first_difference(&json, &through(&json), String::new());
            assert_eq!(difference, None, "{api_version} {kind}");
        }
    }

    #[test]
    fn every_builtin_resource_has_a_protobuf_schema() {
        // CustomResourceDefinition bodies come as JSON or YAML from every client we know
        // of (docs/LIMITATIONS.md); a protobuf one is answered 415.
        let json_only = ["CustomResourceDefinition"];
        for resource in builtin_resources() {
            if json_only.contains(&resource.kind.as_str()) {
                assert!(!decodes(&resource.api_version(), &resource.kind));
                continue;
            }
            assert!(
                root_message(&resource.api_version(), &resource.kind).is_some(),
                "{} {} has no protobuf schema",
                resource.api_version(),
                resource.kind
            );
        }
    }

    #[test]
    fn schema_field_numbers_are_unique_within_each_message() {
        fn check(message: &'static Message, seen: &mut Vec<&'static str>) {
            if seen.contains(&message.name) {
                return;
            }
            seen.push(message.name);
            let mut numbers: Vec<u32> = message.fields.iter().map(|f| f.number).collect();
            numbers.sort_unstable();
            numbers.dedup();
            assert_eq!(numbers.len(), message.fields.len(), "{}", message.name);
            for field in message.fields {
                if let schema::Ty::Message(child) = field.ty {
                    check(child, seen);
                }
            }
        }
        let mut seen = Vec::new();
        for (.., message) in tables::ROOTS {
            check(message, &mut seen);
        }
    }

    #[test]
    fn body_without_magic_is_rejected() {
        let error = decode_to_json(br#"{"kind":"Pod"}"#).unwrap_err();

        assert!(matches!(error, ProtobufError::MissingMagic), "{error}");
    }

    #[test]
    fn truncated_body_is_a_malformed_envelope() {
        // The first bytes of a helm release Secret from the wire log: its raw field
        // announces 8959 bytes.
        let recorded = hex("6b3873000a0c0a027631120653656372657412ff450a89010a1a73682e68656c6d");

        let error = decode_to_json(&recorded).unwrap_err();

        assert!(
            matches!(
                error,
                ProtobufError::MalformedEnvelope(MalformedReason::Wire(WireError::Truncated))
            ),
            "{error}"
        );
    }

    #[test]
    fn truncated_object_is_malformed() {
        let mut raw = web_deployment().encode_to_vec();
        raw.pop();

        let error = decode_to_json(&body("apps/v1", "Deployment", raw)).unwrap_err();

        assert!(
            matches!(error, ProtobufError::MalformedObject { .. }),
            "{error}"
        );
    }

    #[test]
    fn wrong_wire_type_names_the_field_path() {
        // spec (2) holding replicas (1) as a length-delimited value instead of a varint.
        let raw = vec![0x12, 0x03, 0x0a, 0x01, b'x'];

        let error = decode_to_json(&body("apps/v1", "Deployment", raw)).unwrap_err();

        assert_eq!(
            error.to_string(),
            "malformed apps/v1 Deployment at spec.replicas: \
             expected int32, found a length-delimited value"
        );
    }

    #[test]
    fn body_of_empty_elements_that_expands_far_beyond_its_size_is_rejected() {
        // Each empty ContainerStatus takes two bytes but becomes an object of value fields.
        let pod = core::Pod {
            status: Some(core::PodStatus {
                container_statuses: vec![core::ContainerStatus::default(); 20_000],
                ..Default::default()
            }),
            ..Default::default()
        };

        let error = decode_to_json(&body("v1", "Pod", pod.encode_to_vec())).unwrap_err();

        assert!(
            matches!(
                error,
                ProtobufError::MalformedObject {
                    reason: MalformedReason::TooLarge { .. },
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn unknown_kind_is_unsupported() {
        let error = decode_to_json(&body("example.com/v1", "Widget", Vec::new())).unwrap_err();

        assert_eq!(
            error.to_string(),
            r#"unsupported kind "example.com/v1 Widget" in protobuf body"#
        );
    }

    #[test]
    fn compressed_object_is_unsupported() {
        let unknown = runtime::Unknown {
            type_meta: Some(runtime::TypeMeta {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
            }),
            raw: Some(Vec::new()),
            content_encoding: Some("gzip".into()),
            content_type: None,
        };
        let body = [MAGIC.as_slice(), &unknown.encode_to_vec()].concat();

        let error = decode_to_json(&body).unwrap_err();

        assert!(
            matches!(error, ProtobufError::UnsupportedEncoding(ref e) if e == "gzip"),
            "{error}"
        );
    }
}
