//! Pod and pod template rules: the pod spec as a whole (policies, scheduling, DNS,
//! tolerations, affinity) around the container and volume checks.

use std::collections::HashSet;

use serde_json::Value;

use super::access::{arr_of, at, bool_of, has, int_of, obj_of, str_of, string_of};
use super::common::{self, Errs, required_enum};
use super::containers::{self, PodContext};
use super::field::{FieldError, Path};
use super::meta;
use super::names;
use super::volumes;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const MAX_INT32: i64 = i32::MAX as i64;

/// A whole pod on create: metadata is checked by the caller.
pub fn validate_pod(pod: &Value, errs: &mut Errs) {
    let spec_path = Path::new("spec");
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, &spec_path, true, errs);
    validate_pod_only(spec, &spec_path, errs);
    if !arr_of(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !string_of(spec, "nodeName").is_empty() && !arr_of(spec, "schedulingGates").is_empty() {
        let msg = "cannot be set until all schedulingGates have been cleared";
        errs.push(FieldError::forbidden(spec_path.child("nodeName"), msg));
    }
}

/// Checks upstream applies to pods but not to templates.
pub fn validate_pod_only(spec: &Value, path: &Path, errs: &mut Errs) {
    if string_of(spec, "serviceAccountName").is_empty() {
        for (vi, vol) in arr_of(spec, "volumes").iter().enumerate() {
            let Some(projected) = vol.get("projected") else {
                continue;
            };
            for (si, source) in arr_of(projected, "sources").iter().enumerate() {
                if has(source, "serviceAccountToken") {
                    let p = path
                        .child("volumes")
                        .index(vi)
                        .child("projected")
                        .child("sources")
                        .index(si);
                    let msg = "must not be specified when serviceAccountName is not set";
                    errs.push(FieldError::forbidden(p.child("serviceAccountToken"), msg));
                }
            }
        }
    }
    containers::validate_image_whitespace(
        arr_of(spec, "containers"),
        &path.child("containers"),
        errs,
    );
    containers::validate_image_whitespace(
        arr_of(spec, "initContainers"),
        &path.child("initContainers"),
        errs,
    );
}

/// A pod template inside a workload: labels, annotations and the spec.
pub fn validate_pod_template(template: &Value, path: &Path, errs: &mut Errs) {
    let meta_value = template.get("metadata").unwrap_or(&Value::Null);
    meta::validate_labels(obj_of(meta_value, "labels"), &path.child("labels"), errs);
    meta::validate_annotations(
        obj_of(meta_value, "annotations"),
        &path.child("annotations"),
        errs,
    );
    let spec = template.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, &path.child("spec"), false, errs);
    if !arr_of(spec, "ephemeralContainers").is_empty() {
        let msg = "ephemeral containers not allowed in pod template";
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            msg,
        ));
    }
}

/// The pod spec; `is_pod` is false for templates, which may leave host ports unset.
pub fn validate_pod_spec(spec: &Value, path: &Path, is_pod: bool, errs: &mut Errs) {
    validate_workload(spec, path, errs);
    validate_host_network(spec, path, is_pod, errs);
    validate_policies(spec, path, errs);
    validate_scheduling(spec, path, errs);
    validate_names(spec, path, errs);
    let secrets = arr_of(spec, "imagePullSecrets");
    validate_pull_secrets(secrets, &path.child("imagePullSecrets"), errs);
    validate_host_aliases(
        arr_of(spec, "hostAliases"),
        &path.child("hostAliases"),
        errs,
    );
    validate_misc(spec, path, errs);
}

/// Volumes and the containers that mount them.
fn validate_workload(spec: &Value, path: &Path, errs: &mut Errs) {
    let grace = int_of(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        errs.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
        ));
    }
    let vols = volumes::validate_volumes(arr_of(spec, "volumes"), &path.child("volumes"), errs);
    let restart_policy = string_of(spec, "restartPolicy");
    let ctx = PodContext {
        volumes: &vols,
        grace_period: grace,
        restart_policy,
    };
    let regular = arr_of(spec, "containers");
    containers::validate_containers(regular, &ctx, &path.child("containers"), errs);
    let inits = arr_of(spec, "initContainers");
    let init_path = path.child("initContainers");
    containers::validate_init_containers(inits, regular, &ctx, &init_path, errs);
}

fn validate_policies(spec: &Value, path: &Path, errs: &mut Errs) {
    let restart = string_of(spec, "restartPolicy");
    required_enum(
        restart,
        &path.child("restartPolicy"),
        RESTART_POLICIES,
        errs,
    );
    let dns_policy = string_of(spec, "dnsPolicy");
    required_enum(dns_policy, &path.child("dnsPolicy"), DNS_POLICIES, errs);
    validate_dns_config(
        spec.get("dnsConfig"),
        dns_policy,
        &path.child("dnsConfig"),
        errs,
    );
}

/// Where the pod may run: node selector, affinity, tolerations, spreading, gates.
fn validate_scheduling(spec: &Value, path: &Path, errs: &mut Errs) {
    meta::validate_labels(
        obj_of(spec, "nodeSelector"),
        &path.child("nodeSelector"),
        errs,
    );
    if let Some(affinity) = spec.get("affinity").filter(|v| v.is_object()) {
        validate_affinity(affinity, &path.child("affinity"), errs);
    }
    validate_tolerations(
        arr_of(spec, "tolerations"),
        &path.child("tolerations"),
        errs,
    );
    let spread = arr_of(spec, "topologySpreadConstraints");
    validate_spread(spread, &path.child("topologySpreadConstraints"), errs);
    validate_gates(spec, path, errs);
}

fn validate_host_network(spec: &Value, path: &Path, is_pod: bool, errs: &mut Errs) {
    if bool_of(spec, "hostNetwork") != Some(true) {
        return;
    }
    for (ci, c) in arr_of(spec, "containers").iter().enumerate() {
        for (pi, port) in arr_of(c, "ports").iter().enumerate() {
            let hp = int_of(port, "hostPort").unwrap_or(0);
            let cp = int_of(port, "containerPort").unwrap_or(0);
            if (is_pod || hp != 0) && hp != cp {
                let p = path
                    .child("containers")
                    .index(ci)
                    .child("ports")
                    .index(pi)
                    .child("hostPort");
                errs.push(FieldError::invalid(
                    p,
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

fn validate_pull_secrets(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, s) in list.iter().enumerate() {
        if s.as_object().is_some_and(|m| m.keys().any(|k| k != "name")) {
            errs.push(FieldError::invalid(
                path.index(i),
                s,
                "only name may be set",
            ));
        }
    }
}

fn validate_names(spec: &Value, path: &Path, errs: &mut Errs) {
    for field in ["serviceAccountName", "nodeName", "priorityClassName"] {
        let value = string_of(spec, field);
        if !value.is_empty() {
            common::dns_subdomain(value, &path.child(field), errs);
        }
    }
    for field in ["hostname", "subdomain"] {
        let value = string_of(spec, field);
        if !value.is_empty() {
            common::dns_label(value, &path.child(field), errs);
        }
    }
    if let Some(class) = str_of(spec, "runtimeClassName") {
        common::dns_subdomain(class, &path.child("runtimeClassName"), errs);
    }
}

fn validate_misc(spec: &Value, path: &Path, errs: &mut Errs) {
    if let Some(deadline) =
        int_of(spec, "activeDeadlineSeconds").filter(|d| !(1..=MAX_INT32).contains(d))
    {
        let msg = names::inclusive_range_error(1, MAX_INT32);
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            deadline,
            &msg,
        ));
    }
    if let Some(policy) = str_of(spec, "preemptionPolicy") {
        required_enum(
            policy,
            &path.child("preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
            errs,
        );
    }
    if let Some(os) = at(spec, &["os", "name"]).and_then(Value::as_str)
        && !["linux", "windows"].contains(&os)
    {
        let p = path.child("os").child("name");
        errs.push(FieldError::not_supported(p, os, &["linux", "windows"]));
    }
}

fn validate_gates(spec: &Value, path: &Path, errs: &mut Errs) {
    for (i, gate) in arr_of(spec, "readinessGates").iter().enumerate() {
        let p = path.child("readinessGates").index(i).child("conditionType");
        common::qualified_name(string_of(gate, "conditionType"), &p, errs);
    }
    let mut seen = HashSet::new();
    for (i, gate) in arr_of(spec, "schedulingGates").iter().enumerate() {
        let p = path.child("schedulingGates").index(i);
        let name = string_of(gate, "name");
        common::qualified_name(name, &p, errs);
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
}

fn validate_dns_config(config: Option<&Value>, policy: &str, path: &Path, errs: &mut Errs) {
    let config = config.filter(|c| c.is_object());
    if policy == "None" {
        let Some(c) = config else {
            let msg = "must provide `dnsConfig` when `dnsPolicy` is None";
            errs.push(FieldError::required_because(path, msg));
            return;
        };
        if arr_of(c, "nameservers").is_empty() {
            let msg = "must provide at least one DNS nameserver when `dnsPolicy` is None";
            errs.push(FieldError::required_because(path.child("nameservers"), msg));
            return;
        }
    }
    let Some(c) = config else { return };
    let servers = arr_of(c, "nameservers");
    if servers.len() > 3 {
        let value = c.get("nameservers").unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            value,
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in servers.iter().enumerate() {
        common::ip_address(
            ns.as_str().unwrap_or(""),
            &path.child("nameservers").index(i),
            errs,
        );
    }
    validate_searches(c, path, errs);
    for (i, option) in arr_of(c, "options").iter().enumerate() {
        if string_of(option, "name").is_empty() {
            errs.push(FieldError::required_because(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
}

fn validate_searches(c: &Value, path: &Path, errs: &mut Errs) {
    let searches: Vec<&str> = arr_of(c, "searches")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let value = c.get("searches").unwrap_or(&Value::Null);
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            value,
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        let msg = "must not have more than 2048 characters (including spaces) in the search list";
        errs.push(FieldError::invalid(path.child("searches"), value, msg));
    }
    for (i, search) in searches.iter().enumerate() {
        if *search != "." {
            let p = path.child("searches").index(i);
            let trimmed = search.strip_suffix('.').unwrap_or(search);
            for msg in names::dns1123_subdomain(&trimmed.replace('_', "a")) {
                errs.push(FieldError::invalid(&p, trimmed, &msg));
            }
        }
    }
}

/// Tolerations of a pod; also used for the tolerations an update may add.
pub fn validate_tolerations(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, t) in list.iter().enumerate() {
        let p = path.index(i);
        let key = string_of(t, "key");
        let operator = string_of(t, "operator");
        let effect = string_of(t, "effect");
        let value = string_of(t, "value");
        if !key.is_empty() {
            meta::validate_label_name(key, &p.child("key"), errs);
        }
        if key.is_empty() && operator != "Exists" {
            let msg = "operator must be Exists when `key` is empty, which means \"match all values and all keys\"";
            errs.push(FieldError::invalid(p.child("operator"), operator, msg));
        }
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            let msg = "effect must be 'NoExecute' when `tolerationSeconds` is set";
            errs.push(FieldError::invalid(p.child("effect"), effect, msg));
        }
        match operator {
            "" | "Equal" => {
                let msgs = names::label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" if !value.is_empty() => {
                let msg = "value must be empty when `operator` is 'Exists'";
                errs.push(FieldError::invalid(p.child("operator"), value, msg));
            }
            "Exists" => {}
            other => errs.push(FieldError::not_supported(
                p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                p.child("effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
    }
}

fn validate_host_aliases(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, alias) in list.iter().enumerate() {
        let p = path.index(i);
        common::ip_address(string_of(alias, "ip"), &p.child("ip"), errs);
        for (j, host) in arr_of(alias, "hostnames").iter().enumerate() {
            common::dns_subdomain(
                host.as_str().unwrap_or(""),
                &p.child("hostnames").index(j),
                errs,
            );
        }
    }
}

fn validate_spread(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        let skew = int_of(c, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errs.push(FieldError::invalid(
                p.child("maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        if string_of(c, "topologyKey").is_empty() {
            errs.push(FieldError::required_because(
                p.child("topologyKey"),
                "can not be empty",
            ));
        }
        let action = string_of(c, "whenUnsatisfiable");
        let supported = ["DoNotSchedule", "ScheduleAnyway"];
        if !supported.contains(&action) {
            errs.push(FieldError::not_supported(
                p.child("whenUnsatisfiable"),
                action,
                &supported,
            ));
        }
        if let Some(sel) = c.get("labelSelector").filter(|v| v.is_object()) {
            meta::validate_label_selector(sel, &p.child("labelSelector"), errs);
        }
    }
}

fn validate_affinity(affinity: &Value, path: &Path, errs: &mut Errs) {
    if let Some(node) = affinity.get("nodeAffinity").filter(|v| v.is_object()) {
        validate_node_affinity(node, &path.child("nodeAffinity"), errs);
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        if let Some(pa) = affinity.get(kind).filter(|v| v.is_object()) {
            validate_pod_affinity(pa, &path.child(kind), errs);
        }
    }
}

fn validate_node_affinity(node: &Value, path: &Path, errs: &mut Errs) {
    let required = "requiredDuringSchedulingIgnoredDuringExecution";
    if let Some(sel) = node.get(required).filter(|v| v.is_object()) {
        let p = path.child(required).child("nodeSelectorTerms");
        let terms = arr_of(sel, "nodeSelectorTerms");
        if terms.is_empty() {
            errs.push(FieldError::required_because(
                &p,
                "must have at least one node selector term",
            ));
        }
        for (i, term) in terms.iter().enumerate() {
            validate_node_selector_term(term, &p.index(i), errs);
        }
    }
    let preferred = "preferredDuringSchedulingIgnoredDuringExecution";
    for (i, term) in arr_of(node, preferred).iter().enumerate() {
        let p = path.child(preferred).index(i);
        weight(term, &p, errs);
        if let Some(pref) = term.get("preference") {
            validate_node_selector_term(pref, &p.child("preference"), errs);
        }
    }
}

fn weight(term: &Value, path: &Path, errs: &mut Errs) {
    let w = int_of(term, "weight").unwrap_or(0);
    if !(1..=100).contains(&w) {
        errs.push(FieldError::invalid(
            path.child("weight"),
            w,
            "must be in the range 1-100",
        ));
    }
}

fn validate_node_selector_term(term: &Value, path: &Path, errs: &mut Errs) {
    for (i, req) in arr_of(term, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = arr_of(req, "values");
        match string_of(req, "operator") {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required_because(
                p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "Gt" | "Lt" if values.len() != 1 => errs.push(FieldError::required_because(
                p.child("values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            other => errs.push(FieldError::invalid(
                p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        meta::validate_label_name(string_of(req, "key"), &p.child("key"), errs);
    }
}

fn validate_pod_affinity(pa: &Value, path: &Path, errs: &mut Errs) {
    let required = "requiredDuringSchedulingIgnoredDuringExecution";
    for (i, term) in arr_of(pa, required).iter().enumerate() {
        validate_affinity_term(term, &path.child(required).index(i), errs);
    }
    let preferred = "preferredDuringSchedulingIgnoredDuringExecution";
    for (i, wt) in arr_of(pa, preferred).iter().enumerate() {
        let p = path.child(preferred).index(i);
        weight(wt, &p, errs);
        if let Some(term) = wt.get("podAffinityTerm") {
            validate_affinity_term(term, &p.child("podAffinityTerm"), errs);
        }
    }
}

fn validate_affinity_term(term: &Value, path: &Path, errs: &mut Errs) {
    if let Some(sel) = term.get("labelSelector").filter(|v| v.is_object()) {
        meta::validate_label_selector(sel, &path.child("labelSelector"), errs);
    }
    for (i, ns) in arr_of(term, "namespaces").iter().enumerate() {
        let ns = ns.as_str().unwrap_or("");
        for msg in names::dns1123_label(ns) {
            errs.push(FieldError::invalid(
                path.child("namespaces").index(i),
                ns,
                &msg,
            ));
        }
    }
    if string_of(term, "topologyKey").is_empty() {
        errs.push(FieldError::required_because(
            path.child("topologyKey"),
            "can not be empty",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_errors(spec: Value) -> Vec<String> {
        let mut errs = Vec::new();
        validate_pod(&json!({ "spec": spec }), &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    fn container(extra: Value) -> Value {
        let mut c = json!({"name": "app", "image": "nginx", "imagePullPolicy": "Always",
            "terminationMessagePolicy": "File"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn spec(containers: Value) -> Value {
        json!({"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30})
    }

    #[test]
    fn a_defaulted_pod_spec_is_valid() {
        assert!(spec_errors(spec(json!([container(json!({}))]))).is_empty());
    }

    #[test]
    fn pods_need_containers() {
        assert_eq!(
            spec_errors(spec(json!([]))),
            vec!["spec.containers: Required value"]
        );
    }

    #[test]
    fn container_images_are_required() {
        let c = container(json!({"image": ""}));
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec!["spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn container_names_must_be_unique_labels() {
        let errs = spec_errors(spec(json!([container(json!({})), container(json!({}))])));
        assert_eq!(
            errs,
            vec!["spec.containers[1].name: Duplicate value: \"app\""]
        );
        let errs = spec_errors(spec(json!([container(json!({"name": "App"}))])));
        assert!(errs[0].starts_with(
            "spec.containers[0].name: Invalid value: \"App\": a lowercase RFC 1123 label"
        ));
    }

    #[test]
    fn restart_policy_must_be_known() {
        let mut s = spec(json!([container(json!({}))]));
        s["restartPolicy"] = json!("Sometimes");
        assert_eq!(
            spec_errors(s),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn ports_are_range_checked_and_protocols_known() {
        let c = container(
            json!({"ports": [{"containerPort": 70000, "protocol": "TCP"},
            {"containerPort": 80, "protocol": "HTTP"}]}),
        );
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ]
        );
    }

    #[test]
    fn mounts_must_name_existing_volumes() {
        let c = container(json!({"volumeMounts": [{"name": "data", "mountPath": "/data"}]}));
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec!["spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
    }

    #[test]
    fn requests_above_limits_are_invalid() {
        let c = container(json!({"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}));
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
    }

    #[test]
    fn unknown_container_resources_are_invalid() {
        let c = container(json!({"resources": {"limits": {"gpu": "1"}}}));
        let errs = spec_errors(spec(json!([c])));
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers"
            ]
        );
    }

    #[test]
    fn env_value_from_needs_exactly_one_source() {
        let c = container(json!({"env": [{"name": "A", "valueFrom": {}}]}));
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec![
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
            ]
        );
    }

    #[test]
    fn probes_need_a_handler_and_liveness_success_threshold_one() {
        let c = container(
            json!({"livenessProbe": {"successThreshold": 2, "timeoutSeconds": 1,
            "periodSeconds": 10, "failureThreshold": 3}}),
        );
        assert_eq!(
            spec_errors(spec(json!([c]))),
            vec![
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"
            ]
        );
    }

    #[test]
    fn plain_init_containers_may_not_have_probes() {
        let mut s = spec(json!([container(json!({}))]));
        let init =
            container(json!({"name": "init", "readinessProbe": {"exec": {"command": ["x"]}}}));
        s["initContainers"] = json!([init]);
        assert_eq!(
            spec_errors(s),
            vec![
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
            ]
        );
    }

    #[test]
    fn tolerations_without_key_need_exists() {
        let mut s = spec(json!([container(json!({}))]));
        s["tolerations"] = json!([{"operator": "Equal", "value": "x"}]);
        assert_eq!(
            spec_errors(s),
            vec![
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""
            ]
        );
    }

    #[test]
    fn host_network_pods_need_matching_host_ports() {
        let mut s = spec(json!([container(
            json!({"ports": [{"containerPort": 80, "hostPort": 81, "protocol": "TCP"}]})
        )]));
        s["hostNetwork"] = json!(true);
        assert_eq!(
            spec_errors(s),
            vec![
                "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true"
            ]
        );
    }
}
