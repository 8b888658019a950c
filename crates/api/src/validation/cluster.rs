//! Rules of the cluster-level and bookkeeping kinds: Namespaces, Nodes, Leases, Events
//! (core/v1 and events.k8s.io/v1) and StorageClasses.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::Value;

use super::access::{arr_of, has, int_of, obj_of, str_of, string_of};
use super::common::{self, Errs, NEGATIVE};
use super::field::{FieldError, Path};
use super::meta;
use super::names;

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const LENGTH_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

pub fn validate_namespace(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec").child("finalizers");
    for f in arr_of(obj.get("spec").unwrap_or(&Value::Null), "finalizers") {
        let f = f.as_str().unwrap_or("");
        common::qualified_name(f, &path, errs);
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            let msg = "name is neither a standard finalizer name nor is it fully qualified";
            errs.push(FieldError::invalid(&path, f, msg));
        }
    }
}

pub fn validate_node(obj: &Value, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    for (i, cidr) in arr_of(spec, "podCIDRs").iter().enumerate() {
        let cidr = cidr.as_str().unwrap_or("");
        if !is_cidr(cidr) {
            errs.push(FieldError::invalid(
                path.child("podCIDRs").index(i),
                cidr,
                CIDR_MSG,
            ));
        }
    }
    taints(arr_of(spec, "taints"), &path.child("taints"), errs);
}

fn is_cidr(text: &str) -> bool {
    let Some((ip, bits)) = text.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => bits <= 32,
        Ok(IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn taints(list: &[Value], path: &Path, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, taint) in list.iter().enumerate() {
        let p = path.index(i);
        let key = string_of(taint, "key");
        meta::validate_label_name(key, &p.child("key"), errs);
        let value = string_of(taint, "value");
        let msgs = names::label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                p.child("value"),
                value,
                &msgs.join(";"),
            ));
        }
        let effect = string_of(taint, "effect");
        common::required_enum(effect, &p.child("effect"), TAINT_EFFECTS, errs);
        if !seen.insert((effect, key)) {
            let mut e = FieldError::duplicate(&p, taint);
            e.message
                .push_str(": taints must be unique by key and effect pair");
            errs.push(e);
        }
    }
}

/// Pod CIDRs may be set once; the provider ID too.
pub fn validate_node_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let msg = "node updates may not change podCIDR except from \"\" to valid";
    let (cidrs, old_cidrs) = (arr_of(spec, "podCIDRs"), arr_of(old_spec, "podCIDRs"));
    if !old_cidrs.is_empty() {
        if cidrs.len() != old_cidrs.len() {
            errs.push(FieldError::forbidden(Path::new("spec.podCIDRs"), msg));
        } else {
            for (i, (a, b)) in cidrs.iter().zip(old_cidrs).enumerate() {
                if a != b {
                    errs.push(FieldError::forbidden(
                        Path::new("spec.podCIDRs").index(i),
                        msg,
                    ));
                }
            }
        }
    }
    let old_provider = string_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != string_of(spec, "providerID") {
        let msg = "node updates may not change providerID except from \"\" to valid";
        errs.push(FieldError::forbidden(Path::new("spec.providerID"), msg));
    }
}

pub fn validate_lease(obj: &Value, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    if let Some(d) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            path.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            path.child("leaseTransitions"),
            t,
            NEGATIVE,
        ));
    }
}

/// core/v1 Events get only upstream's legacy checks.
pub fn validate_core_event(obj: &Value, errs: &mut Errs) {
    legacy_event(obj, "reportingComponent", "involvedObject", errs);
}

/// events.k8s.io/v1 Events: the legacy checks plus the strict ones of the newer API.
pub fn validate_events_event(obj: &Value, errs: &mut Errs) {
    legacy_event(obj, "reportingController", "regarding", errs);
    if string_of(obj, "eventTime").is_empty() {
        errs.push(FieldError::required(Path::new("eventTime")));
    }
    let kind = string_of(obj, "type");
    if kind != "Normal" && kind != "Warning" {
        errs.push(FieldError::invalid(
            Path::new("type"),
            "",
            &format!("has invalid value: {kind}"),
        ));
    }
    for (field, internal) in [
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedSource", "source"),
    ] {
        if obj
            .get(field)
            .is_some_and(|v| !v.is_null() && v != &Value::Object(Default::default()))
        {
            errs.push(FieldError::invalid(
                Path::new(internal),
                "",
                "needs to be unset",
            ));
        }
    }
    if int_of(obj, "deprecatedCount").unwrap_or(0) != 0 {
        errs.push(FieldError::invalid(
            Path::new("count"),
            "",
            "needs to be unset",
        ));
    }
    series(obj, errs);
}

fn series(obj: &Value, errs: &mut Errs) {
    let Some(series) = obj.get("series").filter(|s| !s.is_null()) else {
        return;
    };
    let count = int_of(series, "count").unwrap_or(0);
    if count < 2 {
        errs.push(FieldError::invalid(
            Path::new("series.count"),
            "",
            &format!("should be at least 2, got: {count}"),
        ));
    }
    if string_of(series, "lastObservedTime").is_empty() {
        errs.push(FieldError::required(Path::new("series.lastObservedTime")));
    }
}

/// `regarding` is the events.k8s.io name of core's `involvedObject`; errors use the
/// core names, as upstream validates the internal form.
fn legacy_event(obj: &Value, controller_field: &str, object_field: &str, errs: &mut Errs) {
    let namespace = obj
        .get("metadata")
        .map(|m| string_of(m, "namespace"))
        .unwrap_or("");
    let object_ns = obj
        .get(object_field)
        .map(|o| string_of(o, "namespace"))
        .unwrap_or("");
    let ns_path = Path::new("involvedObject.namespace");
    let mismatch = "does not match event.namespace";
    if string_of(obj, "eventTime").is_empty() {
        let fine = if object_ns.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == object_ns
        };
        if !fine {
            errs.push(FieldError::invalid(&ns_path, object_ns, mismatch));
        }
    } else {
        if object_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(FieldError::invalid(&ns_path, object_ns, mismatch));
        }
        reporting_fields(obj, controller_field, errs);
    }
    for msg in names::dns1123_subdomain(namespace) {
        errs.push(FieldError::invalid(Path::new("namespace"), namespace, &msg));
    }
}

fn reporting_fields(obj: &Value, controller_field: &str, errs: &mut Errs) {
    let controller = string_of(obj, "reportingController");
    let controller = if controller.is_empty() {
        string_of(obj, "reportingComponent")
    } else {
        controller
    };
    if controller.is_empty() {
        errs.push(FieldError::required(Path::new(controller_field)));
    }
    common::qualified_name(controller, &Path::new(controller_field), errs);
    let note = if has(obj, "note") {
        string_of(obj, "note")
    } else {
        string_of(obj, "message")
    };
    let limited = [
        (
            "reportingInstance",
            string_of(obj, "reportingInstance"),
            LENGTH_LIMIT,
            true,
        ),
        ("action", string_of(obj, "action"), LENGTH_LIMIT, true),
        ("reason", string_of(obj, "reason"), LENGTH_LIMIT, true),
        ("message", note, NOTE_LIMIT, false),
    ];
    for (field, value, limit, required) in limited {
        if required && value.is_empty() {
            errs.push(FieldError::required(Path::new(field)));
        }
        if value.len() > limit {
            errs.push(FieldError::invalid(
                Path::new(field),
                "",
                &format!("can have at most {limit} characters"),
            ));
        }
    }
}

pub fn validate_storage_class(obj: &Value, errs: &mut Errs) {
    let provisioner = string_of(obj, "provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(Path::new("provisioner")));
    } else {
        common::qualified_name(&provisioner.to_lowercase(), &Path::new("provisioner"), errs);
    }
    parameters(obj_of(obj, "parameters"), errs);
    if let Some(policy) = str_of(obj, "reclaimPolicy").filter(|p| !p.is_empty()) {
        common::optional_enum(
            Some(policy),
            &Path::new("reclaimPolicy"),
            &["Delete", "Retain"],
            errs,
        );
    }
    match str_of(obj, "volumeBindingMode") {
        None => errs.push(FieldError::required(Path::new("volumeBindingMode"))),
        Some(mode) => {
            let supported = ["Immediate", "WaitForFirstConsumer"];
            common::optional_enum(
                Some(mode),
                &Path::new("volumeBindingMode"),
                &supported,
                errs,
            );
        }
    }
}

fn parameters(params: Option<&serde_json::Map<String, Value>>, errs: &mut Errs) {
    let path = Path::new("parameters");
    let Some(params) = params else { return };
    if params.len() > 512 {
        errs.push(FieldError::too_long(&path, 512));
        return;
    }
    let mut total = 0;
    for (k, v) in params {
        if k.is_empty() {
            errs.push(FieldError::invalid(
                &path,
                k.as_str(),
                "field can not be empty.",
            ));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long(&path, 256 * 1024));
    }
}

pub fn validate_storage_class_update(new: &Value, old: &Value, errs: &mut Errs) {
    if !super::diff::same(
        new.get("parameters").unwrap_or(&Value::Null),
        old.get("parameters").unwrap_or(&Value::Null),
    ) {
        errs.push(FieldError::forbidden(
            Path::new("parameters"),
            "updates to parameters are forbidden.",
        ));
    }
    for field in ["provisioner", "reclaimPolicy"] {
        if string_of(new, field) != string_of(old, field) {
            let msg = format!("updates to {field} are forbidden.");
            errs.push(FieldError::forbidden(Path::new(field), &msg));
        }
    }
    let mode = Path::new("volumeBindingMode");
    meta::immutable(
        new.get("volumeBindingMode"),
        old.get("volumeBindingMode"),
        &mode,
        errs,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::validation::test_support::errors;

    #[test]
    fn storage_classes_need_a_provisioner() {
        let errs = errors(
            validate_storage_class,
            json!({"volumeBindingMode": "Immediate"}),
        );
        assert_eq!(errs, vec!["provisioner: Required value"]);
    }

    #[test]
    fn storage_class_binding_modes_are_checked() {
        let errs = errors(
            validate_storage_class,
            json!({"provisioner": "x.io/y", "volumeBindingMode": "Later"}),
        );
        assert_eq!(
            errs,
            vec![
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\""
            ]
        );
    }

    #[test]
    fn duplicate_taints_are_reported() {
        let node = json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}]}});
        let errs = errors(validate_node, node);
        assert_eq!(
            errs,
            vec![
                "spec.taints[1]: Duplicate value: {\"effect\":\"NoSchedule\",\"key\":\"a\"}: taints must be unique by key and effect pair"
            ]
        );
    }

    #[test]
    fn node_pod_cidrs_are_set_once() {
        let old = json!({"spec": {"podCIDRs": ["10.0.0.0/24"]}});
        let new = json!({"spec": {"podCIDRs": ["10.0.1.0/24"]}});
        let mut errs = Vec::new();
        validate_node_update(&new, &old, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.podCIDRs[0]: Forbidden: node updates may not change podCIDR except from \"\" to valid"
        );
    }

    #[test]
    fn leases_need_positive_durations() {
        let errs = errors(validate_lease, json!({"spec": {"leaseDurationSeconds": 0}}));
        assert_eq!(
            errs,
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }

    #[test]
    fn core_events_must_match_their_object_namespace() {
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        let errs = errors(validate_core_event, ev);
        assert_eq!(
            errs,
            vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
        );
    }

    #[test]
    fn new_style_events_need_reporting_fields() {
        let ev = json!({"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z",
            "type": "Normal", "reason": "Started", "action": "Start", "reportingController": "me.io/x"});
        let errs = errors(validate_events_event, ev);
        assert_eq!(errs, vec!["reportingInstance: Required value"]);
    }
}
