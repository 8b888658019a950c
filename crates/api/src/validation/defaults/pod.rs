//! Defaults of pod specs wherever they appear (pods and workload templates), and the
//! values upstream's admission adds to new pods (service account, priority,
//! not-ready and unreachable tolerations).

use serde_json::{Value, json};

use super::super::access::{
    arr_of, bool_of, int_of, items_mut, obj_entry, set_default, str_of, string_of,
};

const DEFAULT_MODE: i64 = 0o644;
const TOLERATION_SECONDS: i64 = 300;
const NODE_TAINTS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// Defaults of a Pod object: its spec, the pod-only ones, and admission's.
pub fn default_pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    default_pod_spec(spec);
    requests_from_limits(spec);
    set_default(spec, "enableServiceLinks", json!(true));
    if bool_of(spec, "hostNetwork") == Some(true) {
        host_network_ports(spec);
    }
    admission_defaults(spec);
}

/// Defaults of a pod template's spec (`spec.template` of workloads).
pub fn default_template(template: Option<&mut Value>) {
    if let Some(spec) = template
        .and_then(|t| t.get_mut("spec"))
        .filter(|s| s.is_object())
    {
        default_pod_spec(spec);
    }
}

pub fn default_pod_spec(spec: &mut Value) {
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    service_account_alias(spec);
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items_mut(spec, field) {
            default_container(c);
        }
    }
    for v in items_mut(spec, "volumes") {
        default_volume(v);
    }
}

/// `serviceAccount` is the deprecated spelling of `serviceAccountName`: read it when
/// the new field is empty, and always write it back equal.
fn service_account_alias(spec: &mut Value) {
    if string_of(spec, "serviceAccountName").is_empty()
        && let Some(old) = str_of(spec, "serviceAccount")
            .filter(|s| !s.is_empty())
            .map(String::from)
    {
        spec["serviceAccountName"] = json!(old);
    }
    match str_of(spec, "serviceAccountName")
        .filter(|s| !s.is_empty())
        .map(String::from)
    {
        Some(name) => spec["serviceAccount"] = json!(name),
        None => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("serviceAccount");
            }
        }
    }
}

fn default_container(c: &mut Value) {
    if string_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(string_of(c, "image")) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        c["imagePullPolicy"] = json!(policy);
    }
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    for port in items_mut(c, "ports") {
        set_default(port, "protocol", json!("TCP"));
    }
    for env in items_mut(c, "env") {
        if let Some(from) = env.get_mut("valueFrom").filter(|v| v.is_object()) {
            default_value_from(from);
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            default_probe(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").filter(|v| v.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = lc
                .get_mut(hook)
                .and_then(|h| h.get_mut("httpGet"))
                .filter(|v| v.is_object())
            {
                default_http_get(get);
            }
        }
    }
}

/// The tag an image reference asks for: `latest` when it names neither tag nor
/// digest, none when it is no valid reference.
fn image_tag(image: &str) -> Option<&str> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let repo_end = name[last_slash..].find(':').map(|i| i + last_slash);
    let repo = &name[..repo_end.unwrap_or(name.len())];
    if repo.is_empty()
        || repo[last_slash.min(repo.len())..]
            .chars()
            .any(|c| c.is_ascii_uppercase())
    {
        return None;
    }
    match (repo_end.map(|i| &name[i + 1..]), digest) {
        (Some(tag), _) if !tag.is_empty() => Some(tag),
        (_, Some(_)) => Some(""),
        _ => Some("latest"),
    }
}

fn default_value_from(from: &mut Value) {
    if let Some(f) = from.get_mut("fieldRef").filter(|v| v.is_object()) {
        set_default(f, "apiVersion", json!("v1"));
    }
    if let Some(r) = from.get_mut("resourceFieldRef").filter(|v| v.is_object()) {
        set_default(r, "divisor", json!("0"));
    }
}

fn default_probe(p: &mut Value) {
    for (field, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if int_of(p, field).unwrap_or(0) == 0 {
            p[field] = json!(value);
        }
    }
    if let Some(get) = p.get_mut("httpGet").filter(|v| v.is_object()) {
        default_http_get(get);
    }
}

fn default_http_get(get: &mut Value) {
    set_default(get, "path", json!("/"));
    set_default(get, "scheme", json!("HTTP"));
}

fn default_volume(v: &mut Value) {
    if !VOLUME_SOURCES
        .iter()
        .any(|s| v.get(*s).is_some_and(|x| !x.is_null()))
    {
        v["emptyDir"] = json!({});
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = v.get_mut(source).filter(|s| s.is_object()) {
            set_default(src, "defaultMode", json!(DEFAULT_MODE));
            default_items(src);
        }
    }
    if let Some(projected) = v.get_mut("projected").filter(|s| s.is_object()) {
        for source in items_mut(projected, "sources") {
            default_projection(source);
        }
    }
    if let Some(host) = v.get_mut("hostPath").filter(|s| s.is_object()) {
        set_default_keep_empty(host, "type", json!(""));
    }
    let claim = v
        .get_mut("ephemeral")
        .and_then(|e| e.get_mut("volumeClaimTemplate"));
    if let Some(spec) = claim
        .and_then(|c| c.get_mut("spec"))
        .filter(|s| s.is_object())
    {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
}

/// Sets `key` only when it is absent or null: an empty string is a real value here.
fn set_default_keep_empty(v: &mut Value, key: &str, value: Value) {
    if v.get(key).is_none_or(Value::is_null) {
        v[key] = value;
    }
}

fn default_items(src: &mut Value) {
    for item in items_mut(src, "items") {
        default_value_from(item);
    }
}

fn default_projection(source: &mut Value) {
    if let Some(token) = source
        .get_mut("serviceAccountToken")
        .filter(|v| v.is_object())
    {
        set_default(token, "expirationSeconds", json!(3600));
    }
    if let Some(api) = source.get_mut("downwardAPI").filter(|v| v.is_object()) {
        default_items(api);
    }
}

/// Pods (not templates) get requests equal to their limits where requests are unset.
fn requests_from_limits(spec: &mut Value) {
    for field in ["containers", "initContainers"] {
        for c in items_mut(spec, field) {
            let Some(limits) = c
                .pointer("/resources/limits")
                .and_then(Value::as_object)
                .cloned()
            else {
                continue;
            };
            let Some(resources) = obj_entry(c, "resources") else {
                continue;
            };
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            if let Some(requests) = requests.as_object_mut() {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// With host networking, container ports are host ports too.
fn host_network_ports(spec: &mut Value) {
    for field in ["containers", "initContainers"] {
        for c in items_mut(spec, field) {
            for port in items_mut(c, "ports") {
                if int_of(port, "hostPort").unwrap_or(0) == 0 {
                    port["hostPort"] = port.get("containerPort").cloned().unwrap_or(Value::Null);
                }
            }
        }
    }
}

/// What upstream's default admission plugins set on every new pod.
fn admission_defaults(spec: &mut Value) {
    set_default(spec, "serviceAccountName", json!("default"));
    service_account_alias(spec);
    set_default(spec, "priority", json!(0));
    set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    let tolerated = |key: &str| {
        arr_of(spec, "tolerations").iter().any(|t| {
            let k = string_of(t, "key");
            let effect = string_of(t, "effect");
            (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let missing: Vec<&str> = NODE_TAINTS.into_iter().filter(|k| !tolerated(k)).collect();
    if missing.is_empty() {
        return;
    }
    if !spec.get("tolerations").is_some_and(Value::is_array) {
        spec["tolerations"] = json!([]);
    }
    if let Some(list) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
        for key in missing {
            list.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": TOLERATION_SECONDS}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_image_tag() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
        assert_eq!(image_tag("nginx:1.25"), Some("1.25"));
        assert_eq!(image_tag("localhost:5000/app"), Some("latest"));
        assert_eq!(image_tag("localhost:5000/app:v1"), Some("v1"));
        assert_eq!(image_tag("nginx@sha256:abc"), Some(""));
        assert_eq!(image_tag("Nginx"), None);
    }

    #[test]
    fn a_minimal_pod_gets_upstreams_defaults() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx",
            "ports": [{"containerPort": 80}]}]}});
        default_pod(&mut pod);
        assert_eq!(
            pod["spec"],
            json!({"containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "resources": {}}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
                "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
                "enableServiceLinks": true, "serviceAccountName": "default", "serviceAccount": "default",
                "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]})
        );
    }

    #[test]
    fn tagged_images_are_pulled_if_not_present() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1.25"}]}});
        default_pod(&mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
    }

    #[test]
    fn pod_requests_default_to_limits() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}]}});
        default_pod(&mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1"}, "requests": {"memory": "1Gi", "cpu": "1"}})
        );
    }

    #[test]
    fn volumes_get_modes_and_sourceless_volumes_become_empty_dirs() {
        let mut spec = json!({"containers": [], "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "c"}},
            {"name": "d", "hostPath": {"path": "/x"}}]});
        default_pod_spec(&mut spec);
        assert_eq!(
            spec["volumes"],
            json!([{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "c", "defaultMode": 420}},
                {"name": "d", "hostPath": {"path": "/x", "type": ""}}])
        );
    }

    #[test]
    fn probes_get_timing_defaults() {
        let mut spec = json!({"containers": [{"name": "a", "image": "x",
            "livenessProbe": {"httpGet": {"port": 80}}}]});
        default_pod_spec(&mut spec);
        assert_eq!(
            spec["containers"][0]["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
    }

    #[test]
    fn existing_wildcard_tolerations_suppress_the_node_tolerations() {
        let mut pod = json!({"spec": {"containers": [], "tolerations": [{"operator": "Exists"}]}});
        default_pod(&mut pod);
        assert_eq!(pod["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }
}
