//! Content negotiation: request bodies in JSON, YAML or protobuf; responses as JSON
//! objects, Tables, metadata-only objects or YAML.

use bytes::Bytes;
use serde_json::Value;

use crate::status::ApiError;

/// Largest request body accepted, as upstream's limit for one object.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The media type of a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    Protobuf,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
}

impl BodyType {
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let raw = content_type.unwrap_or("application/json");
        let media = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Ok(match media.as_str() {
            "application/json" | "" => BodyType::Json,
            "application/yaml" | "application/x-yaml" | "text/yaml" => BodyType::Yaml,
            "application/vnd.kubernetes.protobuf" => BodyType::Protobuf,
            "application/json-patch+json" => BodyType::JsonPatch,
            "application/merge-patch+json" => BodyType::MergePatch,
            "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => BodyType::ApplyPatch,
            _ => {
                return Err(ApiError::UnsupportedMediaType {
                    message: format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {raw:?})"
                    ),
                });
            }
        })
    }
}

/// Decodes an object body.
pub fn decode_object(body: &[u8], body_type: BodyType) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let value = match body_type {
        BodyType::Json => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
        })?,
        BodyType::Yaml => decode_yaml(body)?,
        BodyType::Protobuf => skiff_api::protobuf::decode_to_json(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request was not valid protobuf: {e}"
            ))
        })?,
        other => {
            return Err(ApiError::UnsupportedMediaType {
                message: format!("{other:?} is only accepted for PATCH"),
            });
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(value)
}

pub fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    serde_yaml_ng::from_slice::<Value>(body).map_err(|e| {
        ApiError::bad_request(format!("the body of the request was not valid YAML: {e}"))
    })
}

/// What a response should look like, from the Accept header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    Table(IncludeObject),
    /// PartialObjectMetadata(List): objects reduced to their metadata.
    Metadata,
}

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid includeObject {other:?}: supported values: \"None\", \"Metadata\", \"Object\""
            ))),
        }
    }
}

/// Picks the first media type in `accept` that the server can produce.
pub fn negotiate(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        match media.as_str() {
            "application/json" | "*/*" | "application/*" => match param("as") {
                None => return Ok(Output::Json),
                Some("Table") if param("g") == Some("meta.k8s.io") => {
                    return Ok(Output::Table(IncludeObject::Metadata));
                }
                Some("PartialObjectMetadata") | Some("PartialObjectMetadataList")
                    if param("g") == Some("meta.k8s.io") =>
                {
                    return Ok(Output::Metadata);
                }
                Some(_) => continue,
            },
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::NotAcceptable {
        message: "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io".into(),
    })
}

/// Serializes a response body in the negotiated encoding (JSON unless YAML).
pub fn encode(value: &Value, output: Output) -> Result<(Bytes, &'static str), ApiError> {
    if output == Output::Yaml {
        let text = serde_yaml_ng::to_string(value).map_err(ApiError::internal)?;
        return Ok((Bytes::from(text), "application/yaml"));
    }
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok((Bytes::from(body), "application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept_header_negotiates_a_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(accept)).unwrap(),
            Output::Table(IncludeObject::Metadata)
        );
    }

    #[test]
    fn protobuf_first_falls_back_to_json() {
        let accept = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(negotiate(Some(accept)).unwrap(), Output::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf")).is_err());
    }

    #[test]
    fn unknown_content_type_is_unsupported_media_type() {
        let err = BodyType::from_content_type(Some("text/plain")).unwrap_err();
        assert_eq!(err.code(), 415);
    }
}
