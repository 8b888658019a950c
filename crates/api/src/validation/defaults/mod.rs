//! Upstream's defaulting (`SetDefaults_*` and the visible effects of decoding): the
//! values a user sees filled in after creating or updating an object.

mod pod;
mod workloads;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::Kind;
use super::access::{at, has, items_mut, obj_entry, set_default, str_of, string_of};
use super::strict;
use crate::ResourceInfo;

pub use workloads::copy_template_labels;

/// Normalizes `obj` as a decode would (unknown fields dropped, quantities canonical,
/// Secret `stringData` folded into `data`), then fills in the kind's defaults.
pub fn apply_defaults(resource: &ResourceInfo, obj: &mut Value) {
    if let Some(custom) = &resource.custom {
        return super::custom::default(custom, obj);
    }
    if super::custom::is_crd(resource) {
        return super::custom::default_crd(obj);
    }
    let Some(kind) = Kind::of(resource) else {
        return;
    };
    if kind == Kind::Secret {
        fold_string_data(obj);
    }
    strict::normalize(resource, obj);
    match kind {
        Kind::Pod => pod::default_pod(obj),
        Kind::Deployment => workloads::default_deployment(obj),
        Kind::ReplicaSet => workloads::default_replica_set(obj),
        Kind::DaemonSet => workloads::default_daemon_set(obj),
        Kind::StatefulSet => workloads::default_stateful_set(obj),
        Kind::Job => workloads::default_job(obj),
        Kind::CronJob => workloads::default_cron_job(obj),
        Kind::Service => default_service(obj),
        Kind::Secret => set_default(obj, "type", json!("Opaque")),
        Kind::Namespace => default_namespace(obj),
        Kind::PersistentVolumeClaim => default_claim_spec(obj.get_mut("spec")),
        Kind::PersistentVolume => default_volume(obj),
        Kind::StorageClass => {
            set_default(obj, "reclaimPolicy", json!("Delete"));
            set_default(obj, "volumeBindingMode", json!("Immediate"));
        }
        Kind::Endpoints => default_endpoints(obj),
        Kind::EndpointSlice => default_endpoint_slice(obj),
        Kind::LimitRange => default_limit_range(obj),
        Kind::Node => default_node(obj),
        _ => {}
    }
}

/// `stringData` is write-only: its entries replace those of `data`, base64-encoded.
fn fold_string_data(obj: &mut Value) {
    let Some(string_data) = obj.as_object_mut().and_then(|o| o.remove("stringData")) else {
        return;
    };
    let Some(entries) = string_data.as_object().filter(|m| !m.is_empty()) else {
        return;
    };
    let Some(data) = obj_entry(obj, "data") else {
        return;
    };
    for (k, v) in entries {
        let text = v.as_str().unwrap_or("");
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        data.insert(k.clone(), json!(encoded));
    }
}

/// A claim template (of StatefulSets) as a claim would be defaulted.
pub fn default_claim(claim: &mut Value) {
    default_claim_spec(claim.get_mut("spec"));
    if let Some(status) = obj_entry(claim, "status") {
        status.entry("phase").or_insert_with(|| json!("Pending"));
    }
}

fn default_claim_spec(spec: Option<&mut Value>) {
    if let Some(spec) = spec.filter(|s| s.is_object()) {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
}

fn default_volume(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    set_default(spec, "volumeMode", json!("Filesystem"));
}

fn default_namespace(obj: &mut Value) {
    let name = at(obj, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return;
    }
    let labels = obj_entry(obj, "metadata").and_then(|m| {
        let entry = m.entry("labels").or_insert_with(|| json!({}));
        entry.as_object_mut()
    });
    if let Some(labels) = labels {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
}

fn default_service(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "type", json!("ClusterIP"));
    session_affinity(spec);
    for port in items_mut(spec, "ports") {
        set_default(port, "protocol", json!("TCP"));
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(v) => v.as_i64() == Some(0),
        };
        if target_unset {
            port["targetPort"] = port.get("port").cloned().unwrap_or(json!(0));
        }
    }
    let kind = string_of(spec, "type").to_string();
    let external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") || (kind == "ClusterIP" && external_ips)
    {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    ip_families(spec, &kind);
}

fn session_affinity(spec: &mut Value) {
    set_default(spec, "sessionAffinity", json!("None"));
    match str_of(spec, "sessionAffinity") {
        Some("None") => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("sessionAffinityConfig");
            }
        }
        Some("ClientIP")
            if at(
                spec,
                &["sessionAffinityConfig", "clientIP", "timeoutSeconds"],
            )
            .is_none() =>
        {
            spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
        }
        _ => {}
    }
}

/// A single-stack IPv4 cluster: headless services without a selector require dual
/// stack (and get the one family there is), all others are single stack.
fn ip_families(spec: &mut Value, kind: &str) {
    if kind == "ExternalName" {
        return;
    }
    let headless = string_of(spec, "clusterIP") == "None"
        || spec
            .get("clusterIPs")
            .and_then(|c| c.get(0))
            .and_then(Value::as_str)
            == Some("None");
    let policy = if headless && !has(spec, "selector") {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    set_default(spec, "ipFamilyPolicy", json!(policy));
    if spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec["ipFamilies"] = json!(["IPv4"]);
    }
}

fn default_endpoints(obj: &mut Value) {
    for subset in items_mut(obj, "subsets") {
        for port in items_mut(subset, "ports") {
            set_default(port, "protocol", json!("TCP"));
        }
    }
}

fn default_endpoint_slice(obj: &mut Value) {
    for port in items_mut(obj, "ports") {
        if port.get("name").is_none_or(Value::is_null) {
            port["name"] = json!("");
        }
        set_default(port, "protocol", json!("TCP"));
    }
}

/// Container limits: default limit from max, default request from the default limit
/// or else from min.
fn default_limit_range(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    for item in items_mut(spec, "limits") {
        if str_of(item, "type") != Some("Container") {
            continue;
        }
        let max = map_of(item, "max");
        let min = map_of(item, "min");
        let mut default = map_of(item, "default");
        fill(&mut default, &max);
        let mut request = map_of(item, "defaultRequest");
        fill(&mut request, &default);
        fill(&mut request, &min);
        for (field, map) in [("default", default), ("defaultRequest", request)] {
            if !map.is_empty() {
                item[field] = Value::Object(map);
            }
        }
    }
}

fn map_of(v: &Value, key: &str) -> Map<String, Value> {
    v.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn fill(target: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        target.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

fn default_node(obj: &mut Value) {
    let capacity = at(obj, &["status", "capacity"]).cloned();
    let Some(capacity) = capacity else { return };
    if let Some(status) = obj.get_mut("status").filter(|s| !has(s, "allocatable")) {
        status["allocatable"] = capacity;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;

    fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
        let r = builtin_resources()
            .into_iter()
            .find(|r| r.group == group && r.kind == kind)
            .unwrap();
        apply_defaults(&r, &mut obj);
        obj
    }

    #[test]
    fn services_get_type_affinity_ports_and_policies() {
        let svc = defaulted(
            "",
            "Service",
            json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}),
        );
        assert_eq!(
            svc["spec"],
            json!({"selector": {"app": "a"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
        );
    }

    #[test]
    fn node_port_services_get_an_external_traffic_policy() {
        let svc = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    }

    #[test]
    fn secrets_fold_string_data_and_default_to_opaque() {
        let s = defaulted(
            "",
            "Secret",
            json!({"data": {"a": "eA=="}, "stringData": {"b": "hi"}}),
        );
        assert_eq!(
            s,
            json!({"data": {"a": "eA==", "b": "aGk="}, "type": "Opaque"})
        );
    }

    #[test]
    fn storage_classes_delete_and_bind_immediately() {
        let sc = defaulted(
            "storage.k8s.io",
            "StorageClass",
            json!({"provisioner": "x"}),
        );
        assert_eq!(
            sc,
            json!({"provisioner": "x", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
        );
    }

    #[test]
    fn volumes_and_claims_default_to_filesystem() {
        let pv = defaulted(
            "",
            "PersistentVolume",
            json!({"spec": {"hostPath": {"path": "/x"}}}),
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        let pvc = defaulted("", "PersistentVolumeClaim", json!({"spec": {}}));
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    }

    #[test]
    fn endpoint_ports_default_to_tcp() {
        let ep = defaulted(
            "",
            "Endpoints",
            json!({"subsets": [{"ports": [{"port": 1}]}]}),
        );
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
        let slice = defaulted(
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"ports": [{"port": 1}]}),
        );
        assert_eq!(
            slice["ports"][0],
            json!({"port": 1, "name": "", "protocol": "TCP"})
        );
    }

    #[test]
    fn container_limit_ranges_derive_defaults_from_max_and_min() {
        let lr = defaulted(
            "",
            "LimitRange",
            json!({"spec": {"limits": [{"type": "Container",
            "max": {"cpu": "2"}, "min": {"memory": "1Gi"}}]}}),
        );
        let item = &lr["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "2", "memory": "1Gi"}));
    }

    #[test]
    fn namespaces_get_their_name_label() {
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "dev"}}));
        assert_eq!(
            ns["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "dev"})
        );
    }

    #[test]
    fn defaulting_drops_unknown_fields() {
        let cm = defaulted("", "ConfigMap", json!({"data": {"a": "b"}, "bogus": true}));
        assert_eq!(cm, json!({"data": {"a": "b"}}));
    }
}
