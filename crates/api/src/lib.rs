//! Kubernetes API machinery that does no I/O: the resource catalogue, validation and
//! defaulting, label and field selectors, server-side printing (Tables), protobuf
//! decoding and OpenAPI documents. The `skiff-apiserver` crate serves these over HTTP.

#[macro_use]
pub mod kinds;
pub mod apply;
pub mod crd;
mod gojson;
pub mod openapi;
pub mod patch;
pub mod printers;
pub mod protobuf;
pub mod resources;
pub mod selectors;
pub mod validation;

pub use resources::{CustomResource, ResourceInfo, Subresource, builtin_resources};
