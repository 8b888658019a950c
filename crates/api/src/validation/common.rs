//! Small rules many kinds share: enums, non-negative numbers, DNS names, IP addresses,
//! relative paths and resource names.

use std::net::IpAddr;

use serde_json::Value;

use super::field::{FieldError, Path};
use super::names;

pub const NEGATIVE: &str = "must be greater than or equal to 0";

pub type Errs = Vec<FieldError>;

/// An enumerated string: required when empty, otherwise one of `supported`.
pub fn required_enum(value: &str, path: &Path, supported: &[&str], errs: &mut Errs) {
    if value.is_empty() {
        errs.push(FieldError::required(path));
    } else if !supported.contains(&value) {
        errs.push(FieldError::not_supported(path, value, supported));
    }
}

/// An optional enumerated string: only checked when present.
pub fn optional_enum(value: Option<&str>, path: &Path, supported: &[&str], errs: &mut Errs) {
    if let Some(v) = value.filter(|v| !supported.contains(v)) {
        errs.push(FieldError::not_supported(path, v, supported));
    }
}

pub fn nonnegative(value: Option<i64>, path: &Path, errs: &mut Errs) {
    if let Some(v) = value.filter(|v| *v < 0) {
        errs.push(FieldError::invalid(path, v, NEGATIVE));
    }
}

pub fn dns_label(value: &str, path: &Path, errs: &mut Errs) {
    for msg in names::dns1123_label(value) {
        errs.push(FieldError::invalid(path, value, &msg));
    }
}

pub fn dns_subdomain(value: &str, path: &Path, errs: &mut Errs) {
    for msg in names::dns1123_subdomain(value) {
        errs.push(FieldError::invalid(path, value, &msg));
    }
}

pub fn qualified_name(value: &str, path: &Path, errs: &mut Errs) {
    for msg in names::qualified_name(value) {
        errs.push(FieldError::invalid(path, value, &msg));
    }
}

pub fn port_number(port: i64, path: &Path, errs: &mut Errs) {
    for msg in names::port_number(port) {
        errs.push(FieldError::invalid(path, port, &msg));
    }
}

/// A port given as a number or an IANA name (probes, service target ports).
pub fn port_num_or_name(port: Option<&Value>, path: &Path, errs: &mut Errs) {
    match port {
        Some(Value::String(name)) => {
            for msg in names::port_name(name) {
                errs.push(FieldError::invalid(path, name.as_str(), &msg));
            }
        }
        Some(v) => port_number(v.as_i64().unwrap_or(0), path, errs),
        None => port_number(0, path, errs),
    }
}

pub fn ip_address(value: &str, path: &Path, errs: &mut Errs) {
    if value.parse::<IpAddr>().is_err() {
        errs.push(FieldError::invalid(
            path,
            value,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
}

/// A path inside a volume: relative, without `..` elements.
pub fn local_descending_path(value: &str, path: &Path, errs: &mut Errs) {
    if value.starts_with('/') {
        errs.push(FieldError::invalid(path, value, "must be a relative path"));
    }
    no_backsteps(value, path, errs);
}

pub fn no_backsteps(value: &str, path: &Path, errs: &mut Errs) {
    if value.split('/').any(|p| p == "..") {
        errs.push(FieldError::invalid(path, value, "must not contain '..'"));
    }
}

/// A relative path that does not start with `..`.
pub fn local_non_reserved_path(value: &str, path: &Path, errs: &mut Errs) {
    local_descending_path(value, path, errs);
    if value.starts_with("..") && !value.starts_with("../") {
        errs.push(FieldError::invalid(path, value, "must not start with '..'"));
    }
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
    "ephemeral-storage",
    "requests.ephemeral-storage",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Unprefixed names and `kubernetes.io/` names belong to Kubernetes.
pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

pub fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && names::qualified_name(&format!("requests.{name}")).is_empty()
}

pub fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

pub fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// A qualified resource name; unqualified names must be standard ones.
pub fn resource_name(name: &str, path: &Path, errs: &mut Errs) -> bool {
    let before = errs.len();
    qualified_name(name, path, errs);
    if errs.len() > before {
        return false;
    }
    let standard = STANDARD_RESOURCES.contains(&name)
        || is_huge_pages(name)
        || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_required_then_checked() {
        let mut errs = Vec::new();
        required_enum("", &Path::new("a"), &["X"], &mut errs);
        required_enum("Y", &Path::new("b"), &["X"], &mut errs);
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "a: Required value",
                "b: Unsupported value: \"Y\": supported values: \"X\""
            ]
        );
    }

    #[test]
    fn relative_paths_reject_absolute_and_backsteps() {
        let mut errs = Vec::new();
        local_non_reserved_path("/etc", &Path::new("p"), &mut errs);
        local_non_reserved_path("a/../b", &Path::new("p"), &mut errs);
        local_non_reserved_path("..x", &Path::new("p"), &mut errs);
        assert_eq!(errs.len(), 3);
    }

    #[test]
    fn extended_resources_are_prefixed_and_integer() {
        assert!(is_extended("nvidia.com/gpu"));
        assert!(!is_extended("cpu"));
        assert!(is_integer_resource("nvidia.com/gpu"));
        assert!(!overcommit_allowed("hugepages-2Mi"));
    }
}
