//! Which fields each kind accepts in a field selector, and their values.
//!
//! Upstream has two layers: a per-kind field label conversion that accepts (and
//! sometimes renames) labels, and a per-kind set of selectable field values. A
//! label accepted but missing from the value set (pods' `status.podIPs`) reads as
//! the empty string, and kinds without a conversion accept only metadata.name and
//! metadata.namespace.

use serde_json::Value;

use super::SelectorError;
use crate::ResourceInfo;

/// A kind's field label conversion.
struct FieldLabels {
    /// Labels accepted as written.
    accepted: &'static [&'static str],
    /// Labels accepted and renamed to the label the value set uses.
    aliases: &'static [(&'static str, &'static str)],
}

const POD_LABELS: FieldLabels = FieldLabels {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ],
    // Old v1 clients send spec.host.
    aliases: &[("spec.host", "spec.nodeName")],
};

const NODE_LABELS: FieldLabels = FieldLabels {
    accepted: &["metadata.name", "spec.unschedulable"],
    aliases: &[],
};

const NAMESPACE_LABELS: FieldLabels = FieldLabels {
    accepted: &["metadata.name", "status.phase"],
    aliases: &[],
};

const SECRET_LABELS: FieldLabels = FieldLabels {
    accepted: &["metadata.name", "metadata.namespace", "type"],
    aliases: &[],
};

const SERVICE_LABELS: FieldLabels = FieldLabels {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "spec.clusterIP",
        "spec.type",
    ],
    aliases: &[],
};

const CORE_EVENT_LABELS: FieldLabels = FieldLabels {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ],
    aliases: &[],
};

/// events.k8s.io shares the core Event storage: its labels are renamed to the
/// core ones, and the core spellings themselves are not accepted.
const EVENTS_API_LABELS: FieldLabels = FieldLabels {
    accepted: &[
        "metadata.name",
        "metadata.namespace",
        "reason",
        "source",
        "type",
    ],
    aliases: &[
        ("regarding.kind", "involvedObject.kind"),
        ("regarding.namespace", "involvedObject.namespace"),
        ("regarding.name", "involvedObject.name"),
        ("regarding.uid", "involvedObject.uid"),
        ("regarding.apiVersion", "involvedObject.apiVersion"),
        (
            "regarding.resourceVersion",
            "involvedObject.resourceVersion",
        ),
        ("regarding.fieldPath", "involvedObject.fieldPath"),
        ("reportingController", "reportingComponent"),
    ],
};

const JOB_LABELS: FieldLabels = FieldLabels {
    accepted: &["metadata.name", "metadata.namespace", "status.successful"],
    aliases: &[],
};

/// The conversion of kinds that register one upstream; `None` for the rest
/// (every apps/v1 kind included, so ReplicaSets reject status.replicas).
fn field_labels(resource: &ResourceInfo) -> Option<&'static FieldLabels> {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => Some(&POD_LABELS),
        ("", "nodes") => Some(&NODE_LABELS),
        ("", "namespaces") => Some(&NAMESPACE_LABELS),
        ("", "secrets") => Some(&SECRET_LABELS),
        ("", "services") => Some(&SERVICE_LABELS),
        ("", "events") => Some(&CORE_EVENT_LABELS),
        ("events.k8s.io", "events") => Some(&EVENTS_API_LABELS),
        ("batch", "jobs") => Some(&JOB_LABELS),
        _ => None,
    }
}

/// The label the value set uses for `field`, or `None` if the kind rejects it.
fn canonical_label<'f>(resource: &ResourceInfo, field: &'f str) -> Option<&'f str> {
    let Some(labels) = field_labels(resource) else {
        return matches!(field, "metadata.name" | "metadata.namespace").then_some(field);
    };
    if labels.accepted.contains(&field) {
        return Some(field);
    }
    labels
        .aliases
        .iter()
        .find(|(from, _)| *from == field)
        .map(|(_, to)| *to)
}

/// Fails with upstream's message when the kind does not accept `field`.
pub(super) fn check_supported(resource: &ResourceInfo, field: &str) -> Result<(), SelectorError> {
    if canonical_label(resource, field).is_some() {
        return Ok(());
    }
    match field_labels(resource) {
        Some(_) => Err(SelectorError::FieldLabelNotSupported(field.to_string())),
        None => Err(SelectorError::UnknownFieldSelector(field.to_string())),
    }
}

/// The value of a selectable field of `obj` as a field selector compares it, or
/// `None` when the kind does not expose the field (a selector then compares it as
/// the empty string). Accepts the same spellings as [`check_supported`].
pub fn field_value(resource: &ResourceInfo, obj: &Value, field: &str) -> Option<String> {
    let label = canonical_label(resource, field)?;
    match label {
        "metadata.name" => Some(text(&obj["metadata"]["name"])),
        "metadata.namespace" if resource.namespaced => Some(text(&obj["metadata"]["namespace"])),
        "metadata.namespace" => None,
        _ => kind_field_value(resource, obj, label),
    }
}

fn kind_field_value(resource: &ResourceInfo, obj: &Value, label: &str) -> Option<String> {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => pod_field(obj, label),
        ("", "nodes") if label == "spec.unschedulable" => Some(flag(&obj["spec"]["unschedulable"])),
        ("", "namespaces") if label == "status.phase" => Some(text(&obj["status"]["phase"])),
        ("", "secrets") if label == "type" => Some(text(&obj["type"])),
        ("", "services") => service_field(obj, label),
        ("", "events") => event_field(obj, label, &CORE_EVENT_PATHS),
        ("events.k8s.io", "events") => event_field(obj, label, &EVENTS_API_PATHS),
        ("batch", "jobs") if label == "status.successful" => {
            Some(obj["status"]["succeeded"].as_i64().unwrap_or(0).to_string())
        }
        _ => None,
    }
}

fn pod_field(pod: &Value, label: &str) -> Option<String> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    Some(match label {
        "spec.nodeName" => text(&spec["nodeName"]),
        "spec.restartPolicy" => text(&spec["restartPolicy"]),
        "spec.schedulerName" => text(&spec["schedulerName"]),
        // The deprecated serviceAccount field stands in when the new one is empty.
        "spec.serviceAccountName" => non_empty(&spec["serviceAccountName"])
            .or_else(|| non_empty(&spec["serviceAccount"]))
            .unwrap_or_default()
            .to_string(),
        "spec.hostNetwork" => flag(&spec["hostNetwork"]),
        "status.phase" => text(&status["phase"]),
        // podIP wins over podIPs[0] when both are set, as upstream's conversion.
        "status.podIP" => non_empty(&status["podIP"])
            .or_else(|| non_empty(&status["podIPs"][0]["ip"]))
            .unwrap_or_default()
            .to_string(),
        "status.nominatedNodeName" => text(&status["nominatedNodeName"]),
        _ => return None,
    })
}

fn service_field(svc: &Value, label: &str) -> Option<String> {
    match label {
        "spec.clusterIP" => Some(text(&svc["spec"]["clusterIP"])),
        "spec.type" => Some(text(&svc["spec"]["type"])),
        _ => None,
    }
}

/// Where an Event's selectable values live in one API group's JSON.
struct EventPaths {
    regarding: &'static str,
    reporting_controller: &'static str,
    source: &'static str,
}

const CORE_EVENT_PATHS: EventPaths = EventPaths {
    regarding: "involvedObject",
    reporting_controller: "reportingComponent",
    source: "source",
};

const EVENTS_API_PATHS: EventPaths = EventPaths {
    regarding: "regarding",
    reporting_controller: "reportingController",
    source: "deprecatedSource",
};

fn event_field(event: &Value, label: &str, paths: &EventPaths) -> Option<String> {
    if let Some(sub) = label.strip_prefix("involvedObject.") {
        return Some(text(&event[paths.regarding][sub]));
    }
    let controller = &event[paths.reporting_controller];
    Some(match label {
        "reason" => text(&event["reason"]),
        "type" => text(&event["type"]),
        "reportingComponent" => text(controller),
        // Events from the new API carry no source: the reporting controller stands in.
        "source" => non_empty(&event[paths.source]["component"])
            .or_else(|| non_empty(controller))
            .unwrap_or_default()
            .to_string(),
        _ => return None,
    })
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// A boolean field as upstream formats it; unset is false.
fn flag(v: &Value) -> String {
    v.as_bool().unwrap_or(false).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::builtin_resources;

    fn resource(group: &str, plural: &str) -> ResourceInfo {
        let all = builtin_resources();
        let found = all.iter().find(|r| r.group == group && r.plural == plural);
        found
            .map(|r| r.as_ref().clone())
            .unwrap_or_else(|| panic!("no {plural}"))
    }

    #[test]
    fn pod_fields_read_spec_and_status() {
        let pods = resource("", "pods");
        let pod = json!({
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "serviceAccount": "old"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let value = |f: &str| field_value(&pods, &pod, f);
        assert_eq!(value("metadata.name").as_deref(), Some("web"));
        assert_eq!(value("metadata.namespace").as_deref(), Some("prod"));
        assert_eq!(value("spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(value("spec.host").as_deref(), Some("n1"));
        assert_eq!(value("spec.serviceAccountName").as_deref(), Some("old"));
        assert_eq!(value("spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(value("spec.schedulerName").as_deref(), Some(""));
        assert_eq!(value("status.podIP").as_deref(), Some("10.0.0.5"));
        assert_eq!(
            value("status.podIPs"),
            None,
            "accepted but not selectable upstream"
        );
        assert_eq!(value("spec.foo"), None);
    }

    #[test]
    fn host_network_is_formatted_as_true_or_false() {
        let pods = resource("", "pods");
        let pod = json!({"spec": {"hostNetwork": true}});
        assert_eq!(
            field_value(&pods, &pod, "spec.hostNetwork").as_deref(),
            Some("true")
        );
    }

    #[test]
    fn cluster_scoped_kinds_follow_their_upstream_lists() {
        let nodes = resource("", "nodes");
        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert_eq!(
            field_value(&nodes, &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        assert!(check_supported(&nodes, "metadata.namespace").is_err());
        let ns = resource("", "namespaces");
        let obj = json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}});
        assert_eq!(
            field_value(&ns, &obj, "status.phase").as_deref(),
            Some("Active")
        );
        let pvs = resource("", "persistentvolumes");
        assert!(check_supported(&pvs, "metadata.namespace").is_ok());
        assert_eq!(field_value(&pvs, &obj, "metadata.namespace"), None);
    }

    #[test]
    fn secrets_services_and_jobs_expose_their_fields() {
        let secret = json!({"type": "kubernetes.io/tls"});
        assert_eq!(
            field_value(&resource("", "secrets"), &secret, "type").as_deref(),
            Some("kubernetes.io/tls")
        );
        let svc = json!({"spec": {"clusterIP": "10.96.0.1", "type": "NodePort"}});
        let services = resource("", "services");
        assert_eq!(
            field_value(&services, &svc, "spec.clusterIP").as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(
            field_value(&services, &svc, "spec.type").as_deref(),
            Some("NodePort")
        );
        let jobs = resource("batch", "jobs");
        let job = json!({"status": {"succeeded": 2}});
        assert_eq!(
            field_value(&jobs, &job, "status.successful").as_deref(),
            Some("2")
        );
        assert_eq!(
            field_value(&jobs, &json!({}), "status.successful").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn replicasets_accept_only_metadata_fields_as_upstream_apps_v1() {
        let rs = resource("apps", "replicasets");
        assert_eq!(
            check_supported(&rs, "status.replicas"),
            Err(SelectorError::UnknownFieldSelector(
                "status.replicas".into()
            ))
        );
        assert!(check_supported(&rs, "metadata.name").is_ok());
    }

    #[test]
    fn core_events_select_on_involved_object_and_source() {
        let events = resource("", "events");
        let ev = json!({
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "Pulled",
            "reportingComponent": "kubelet",
            "source": {}
        });
        let value = |f: &str| field_value(&events, &ev, f);
        assert_eq!(value("involvedObject.kind").as_deref(), Some("Pod"));
        assert_eq!(value("involvedObject.uid").as_deref(), Some(""));
        assert_eq!(value("source").as_deref(), Some("kubelet"));
        assert_eq!(value("reportingComponent").as_deref(), Some("kubelet"));
        assert!(check_supported(&events, "regarding.kind").is_err());
    }

    #[test]
    fn events_api_selects_on_regarding_and_reporting_controller() {
        let events = resource("events.k8s.io", "events");
        let ev = json!({
            "regarding": {"kind": "Node", "name": "n1"},
            "reportingController": "skiff-scheduler",
            "type": "Normal"
        });
        let value = |f: &str| field_value(&events, &ev, f);
        assert_eq!(value("regarding.kind").as_deref(), Some("Node"));
        assert_eq!(
            value("reportingController").as_deref(),
            Some("skiff-scheduler")
        );
        assert_eq!(value("source").as_deref(), Some("skiff-scheduler"));
        assert_eq!(value("type").as_deref(), Some("Normal"));
        assert_eq!(
            check_supported(&events, "involvedObject.kind"),
            Err(SelectorError::FieldLabelNotSupported(
                "involvedObject.kind".into()
            ))
        );
    }
}
