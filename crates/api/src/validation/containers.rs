//! Container rules of a pod spec: names, images, ports, environment, mounts, resources,
//! probes and lifecycle handlers, for regular and init containers.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::access::{arr_of, has, int_of, obj_of, str_of, string_of};
use super::common::{self, Errs, nonnegative, required_enum};
use super::field::{FieldError, Path};
use super::names;
use super::quantity::Quantity;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];
const SCHEMES: &[&str] = &["HTTP", "HTTPS"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
pub const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
const INIT_ONLY: &str = "may not be set for init containers without restartPolicy=Always";

/// What container checks need from the rest of the pod spec.
pub struct PodContext<'a> {
    /// Valid volumes by name.
    pub volumes: &'a HashMap<String, &'a Value>,
    pub grace_period: Option<i64>,
    pub restart_policy: &'a str,
}

/// Regular containers: at least one, unique names, probes and lifecycle allowed.
pub fn validate_containers(list: &[Value], ctx: &PodContext, path: &Path, errs: &mut Errs) {
    if list.is_empty() {
        errs.push(FieldError::required(path));
        return;
    }
    let mut seen = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        validate_common(c, ctx, &p, errs);
        let name = string_of(c, "name");
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        }
        validate_handlers(c, ctx, &p, errs);
        if has(c, "restartPolicy") {
            errs.push(FieldError::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(list, path, errs);
}

/// Init containers: names unique across all containers; probes and lifecycle only for
/// sidecars (restartPolicy Always).
pub fn validate_init_containers(
    list: &[Value],
    regular: &[Value],
    ctx: &PodContext,
    path: &Path,
    errs: &mut Errs,
) {
    let mut seen: HashSet<&str> = regular.iter().map(|c| string_of(c, "name")).collect();
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        validate_common(c, ctx, &p, errs);
        let restart = str_of(c, "restartPolicy");
        if let Some(policy) = restart.filter(|r| *r != "Always") {
            errs.push(FieldError::not_supported(
                p.child("restartPolicy"),
                policy,
                &["Always"],
            ));
        }
        let name = string_of(c, "name");
        if seen.contains(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        } else if !name.is_empty() {
            seen.insert(name);
        }
        host_port_conflicts(std::slice::from_ref(c), path, errs);
        if restart == Some("Always") {
            validate_handlers(c, ctx, &p, errs);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if has(c, field) {
                    errs.push(FieldError::forbidden(p.child(field), INIT_ONLY));
                }
            }
        }
    }
}

fn validate_common(c: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    let name = string_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name")));
    } else {
        common::dns_label(name, &path.child("name"), errs);
    }
    if string_of(c, "image").is_empty() {
        errs.push(FieldError::required(path.child("image")));
    }
    let policy = string_of(c, "terminationMessagePolicy");
    required_enum(
        policy,
        &path.child("terminationMessagePolicy"),
        MESSAGE_POLICIES,
        errs,
    );
    validate_ports(arr_of(c, "ports"), &path.child("ports"), errs);
    validate_env(arr_of(c, "env"), &path.child("env"), errs);
    validate_env_from(arr_of(c, "envFrom"), &path.child("envFrom"), errs);
    validate_mounts(c, ctx, &path.child("volumeMounts"), errs);
    required_enum(
        string_of(c, "imagePullPolicy"),
        &path.child("imagePullPolicy"),
        PULL_POLICIES,
        errs,
    );
    if let Some(r) = c.get("resources") {
        validate_resources(r, &path.child("resources"), errs);
    }
    resize_policy(
        arr_of(c, "resizePolicy"),
        ctx.restart_policy,
        &path.child("resizePolicy"),
        errs,
    );
    if let Some(sc) = c.get("securityContext").filter(|v| v.is_object()) {
        validate_security_context(sc, &path.child("securityContext"), errs);
    }
}

fn validate_ports(ports: &[Value], path: &Path, errs: &mut Errs) {
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = string_of(port, "name");
        if !name.is_empty() {
            let msgs = names::port_name(name);
            for msg in &msgs {
                errs.push(FieldError::invalid(p.child("name"), name, msg));
            }
            if msgs.is_empty() && !names_seen.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
        }
        match int_of(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(p.child("containerPort"))),
            n => common::port_number(n, &p.child("containerPort"), errs),
        }
        if let Some(hp) = int_of(port, "hostPort").filter(|hp| *hp != 0) {
            common::port_number(hp, &p.child("hostPort"), errs);
        }
        required_enum(
            string_of(port, "protocol"),
            &p.child("protocol"),
            PROTOCOLS,
            errs,
        );
    }
}

/// Host ports must not repeat for the same protocol and host IP.
fn host_port_conflicts(containers: &[Value], path: &Path, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in arr_of(c, "ports").iter().enumerate() {
            let host_port = int_of(port, "hostPort").unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{host_port}",
                string_of(port, "protocol"),
                string_of(port, "hostIP")
            );
            if !seen.insert(key.clone()) {
                let p = path.index(ci).child("ports").index(pi).child("hostPort");
                errs.push(FieldError::duplicate(p, key));
            }
        }
    }
}

fn validate_env(vars: &[Value], path: &Path, errs: &mut Errs) {
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let name = string_of(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name")));
        } else {
            for msg in names::env_var_name(name) {
                errs.push(FieldError::invalid(p.child("name"), name, &msg));
            }
        }
        if let Some(from) = ev.get("valueFrom").filter(|v| v.is_object()) {
            validate_value_from(
                from,
                !string_of(ev, "value").is_empty(),
                &p.child("valueFrom"),
                errs,
            );
        }
    }
}

fn validate_value_from(from: &Value, has_value: bool, path: &Path, errs: &mut Errs) {
    let mut sources = 0;
    if let Some(f) = from.get("fieldRef").filter(|v| v.is_object()) {
        sources += 1;
        validate_field_ref(f, ENV_FIELD_PATHS, &path.child("fieldRef"), errs);
    }
    if let Some(r) = from.get("resourceFieldRef").filter(|v| v.is_object()) {
        sources += 1;
        validate_resource_field_ref(r, false, &path.child("resourceFieldRef"), errs);
    }
    for key in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(sel) = from.get(key).filter(|v| v.is_object()) {
            sources += 1;
            validate_key_selector(sel, &path.child(key), errs);
        }
    }
    let detail = match (sources, has_value) {
        (0, _) => {
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        }
        (_, true) => "may not be specified when `value` is not empty",
        (n, false) if n > 1 => "may not have more than one field specified at a time",
        _ => return,
    };
    errs.push(FieldError::invalid(path, "", detail));
}

/// A downward API field reference; `supported` lists the unsubscripted paths allowed.
pub fn validate_field_ref(f: &Value, supported: &[&str], path: &Path, errs: &mut Errs) {
    if string_of(f, "apiVersion").is_empty() {
        errs.push(FieldError::required(path.child("apiVersion")));
        return;
    }
    let field_path = string_of(f, "fieldPath");
    if field_path.is_empty() {
        errs.push(FieldError::required(path.child("fieldPath")));
        return;
    }
    if let Some((base, subscript)) = split_subscript(field_path) {
        match base {
            "metadata.annotations" => common::qualified_name(&subscript.to_lowercase(), path, errs),
            "metadata.labels" => common::qualified_name(subscript, path, errs),
            other => errs.push(FieldError::invalid(
                path,
                other,
                "does not support subscript",
            )),
        }
        return;
    }
    if !CONVERTIBLE_FIELD_PATHS.contains(&field_path) {
        let msg = format!("error converting fieldPath: field label not supported: {field_path}");
        errs.push(FieldError::invalid(
            path.child("fieldPath"),
            field_path,
            &msg,
        ));
    } else if !supported.contains(&field_path) {
        errs.push(FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            supported,
        ));
    }
}

/// `metadata.labels['app']` -> (`metadata.labels`, `app`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_suffix("']")?;
    let open = rest.find("['")?;
    Some((&rest[..open], &rest[open + 2..]))
}

/// A resource field reference; volumes must name the container.
pub fn validate_resource_field_ref(r: &Value, volume: bool, path: &Path, errs: &mut Errs) {
    let resource = string_of(r, "resource");
    if volume && string_of(r, "containerName").is_empty() {
        errs.push(FieldError::required(path.child("containerName")));
    } else if resource.is_empty() {
        errs.push(FieldError::required(path.child("resource")));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(
            path.child("resource"),
            resource,
            RESOURCE_FIELD_PATHS,
        ));
    }
}

fn validate_key_selector(sel: &Value, path: &Path, errs: &mut Errs) {
    let name = string_of(sel, "name");
    common::dns_subdomain(name, &path.child("name"), errs);
    let key = string_of(sel, "key");
    if key.is_empty() {
        errs.push(FieldError::required(path.child("key")));
        return;
    }
    for msg in names::config_map_key(key) {
        errs.push(FieldError::invalid(path.child("key"), key, &msg));
    }
}

fn validate_env_from(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, ev) in list.iter().enumerate() {
        let p = path.index(i);
        let prefix = string_of(ev, "prefix");
        if !prefix.is_empty() {
            for msg in names::env_var_name(prefix) {
                errs.push(FieldError::invalid(p.child("prefix"), prefix, &msg));
            }
        }
        let mut sources = 0;
        for key in ["configMapRef", "secretRef"] {
            let Some(src) = ev.get(key).filter(|v| v.is_object()) else {
                continue;
            };
            sources += 1;
            let name = string_of(src, "name");
            if name.is_empty() {
                errs.push(FieldError::required(p.child(key).child("name")));
            } else {
                for msg in names::NameRule::Subdomain.check(name, true) {
                    errs.push(FieldError::invalid(p.child(key).child("name"), name, &msg));
                }
            }
        }
        match sources {
            0 => errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            1 => {}
            _ => errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            )),
        }
    }
}

fn validate_mounts(c: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    let mut mount_points = HashSet::new();
    for (i, m) in arr_of(c, "volumeMounts").iter().enumerate() {
        let p = path.index(i);
        let name = string_of(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name")));
        }
        if !ctx.volumes.contains_key(name) {
            errs.push(FieldError::not_found(p.child("name"), name));
        }
        let mount_path = string_of(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(p.child("mountPath")));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let sub_path = string_of(m, "subPath");
        if !sub_path.is_empty() {
            common::local_descending_path(sub_path, &path.child("subPath"), errs);
        }
        let expr = string_of(m, "subPathExpr");
        if !expr.is_empty() {
            if !sub_path.is_empty() {
                let msg = "subPathExpr and subPath are mutually exclusive";
                errs.push(FieldError::invalid(p.child("subPathExpr"), expr, msg));
            }
            common::local_descending_path(expr, &path.child("subPathExpr"), errs);
        }
    }
}

/// Requests and limits: known resource names, non-negative quantities, requests not
/// above limits.
pub fn validate_resources(r: &Value, path: &Path, errs: &mut Errs) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = obj_of(r, "limits");
    for (name, q) in limits.into_iter().flatten() {
        let p = lim_path.key(name);
        container_resource_name(name, &p, errs);
        quantity_value(name, q, &p, errs);
    }
    for (name, q) in obj_of(r, "requests").into_iter().flatten() {
        let p = req_path.key(name);
        container_resource_name(name, &p, errs);
        quantity_value(name, q, &p, errs);
        let limit = limits.and_then(|l| l.get(name));
        request_within_limit(name, q, limit, &req_path, &lim_path, errs);
    }
}

fn request_within_limit(
    name: &str,
    req: &Value,
    limit: Option<&Value>,
    req_path: &Path,
    lim_path: &Path,
    errs: &mut Errs,
) {
    let Some(request) = parse(req) else { return };
    let Some(limit) = limit else {
        if !common::overcommit_allowed(name) {
            let msg = "Limit must be set for non overcommitable resources";
            errs.push(FieldError::required_because(lim_path, msg));
        }
        return;
    };
    let Some(limit) = parse(limit) else { return };
    let (req_text, lim_text) = (request.canonical(), limit.canonical());
    if request != limit && !common::overcommit_allowed(name) {
        let msg = format!("must be equal to {name} limit of {lim_text}");
        errs.push(FieldError::invalid(req_path, req_text, &msg));
    } else if request > limit {
        let msg = format!("must be less than or equal to {name} limit of {lim_text}");
        errs.push(FieldError::invalid(req_path, req_text, &msg));
    }
}

fn parse(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s.trim()).ok(),
        Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

/// A quantity must not be negative, and whole for countable resources.
pub fn quantity_value(name: &str, v: &Value, path: &Path, errs: &mut Errs) {
    let Some(q) = parse(v) else { return };
    if q.is_negative() {
        errs.push(FieldError::invalid(path, q.canonical(), common::NEGATIVE));
    }
    if common::is_integer_resource(name) && !q.is_integer() {
        errs.push(FieldError::invalid(
            path,
            q.canonical(),
            "must be an integer",
        ));
    }
}

fn container_resource_name(name: &str, path: &Path, errs: &mut Errs) {
    common::resource_name(name, path, errs);
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !common::is_huge_pages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !common::is_native(name) && !common::is_extended(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// In-place resize policies: one per resource, cpu or memory only.
fn resize_policy(list: &[Value], pod_restart: &str, path: &Path, errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, p) in list.iter().enumerate() {
        let resource = string_of(p, "resourceName");
        if !seen.insert(resource) {
            errs.push(FieldError::duplicate(path.index(i), resource));
        }
        required_enum(resource, path, &["cpu", "memory"], errs);
        let restart = string_of(p, "restartPolicy");
        required_enum(restart, path, &["NotRequired", "RestartContainer"], errs);
        if pod_restart == "Never" && restart != "NotRequired" {
            let msg = "must be 'NotRequired' when `restartPolicy` is 'Never'";
            errs.push(FieldError::invalid(path, restart, msg));
        }
    }
}

fn validate_security_context(sc: &Value, path: &Path, errs: &mut Errs) {
    for field in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int_of(sc, field).filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            let msg = names::inclusive_range_error(0, i64::from(i32::MAX));
            errs.push(FieldError::invalid(path.child(field), id, &msg));
        }
    }
    let privileged = sc.get("privileged").and_then(Value::as_bool) == Some(true);
    let escalation = sc.get("allowPrivilegeEscalation").and_then(Value::as_bool);
    if privileged && escalation == Some(false) {
        let msg = "cannot set `allowPrivilegeEscalation` to false and `privileged` to true";
        errs.push(FieldError::invalid(path, sc, msg));
    }
}

/// Probes and lifecycle hooks of regular containers and sidecars.
fn validate_handlers(c: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    if let Some(lc) = c.get("lifecycle").filter(|v| v.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get(hook).filter(|v| v.is_object()) {
                validate_handler(h, true, ctx, &path.child("lifecycle").child(hook), errs);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(pr) = c.get(probe).filter(|v| v.is_object()) else {
            continue;
        };
        let p = path.child(probe);
        validate_probe(pr, ctx, &p, errs);
        let success = int_of(pr, "successThreshold").unwrap_or(0);
        if probe != "readinessProbe" && success != 1 {
            errs.push(FieldError::invalid(
                p.child("successThreshold"),
                success,
                "must be 1",
            ));
        }
        if probe == "readinessProbe" && has(pr, "terminationGracePeriodSeconds") {
            let v = pr
                .get("terminationGracePeriodSeconds")
                .unwrap_or(&Value::Null);
            let msg = "must not be set for readinessProbes";
            errs.push(FieldError::invalid(
                p.child("terminationGracePeriodSeconds"),
                v,
                msg,
            ));
        }
    }
}

fn validate_probe(pr: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    validate_handler(pr, false, ctx, path, errs);
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonnegative(int_of(pr, field), &path.child(field), errs);
    }
    if let Some(t) = int_of(pr, "terminationGracePeriodSeconds").filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
}

/// Exactly one action: exec, httpGet, tcpSocket, grpc (probes) or sleep (hooks).
fn validate_handler(h: &Value, hook: bool, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    let kinds: &[&str] = if hook {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut count = 0;
    for kind in kinds {
        let Some(action) = h.get(*kind).filter(|v| v.is_object()) else {
            continue;
        };
        let p = path.child(kind);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        validate_action(kind, action, ctx, &p, errs);
    }
    if count == 0 {
        errs.push(FieldError::required_because(
            path,
            "must specify a handler type",
        ));
    }
}

fn validate_action(kind: &str, action: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    match kind {
        "exec" if arr_of(action, "command").is_empty() => {
            errs.push(FieldError::required(path.child("command")))
        }
        "httpGet" => {
            if string_of(action, "path").is_empty() {
                errs.push(FieldError::required(path.child("path")));
            }
            common::port_num_or_name(action.get("port"), &path.child("port"), errs);
            let scheme = string_of(action, "scheme");
            if !SCHEMES.contains(&scheme) {
                errs.push(FieldError::not_supported(
                    path.child("scheme"),
                    scheme,
                    SCHEMES,
                ));
            }
            for header in arr_of(action, "httpHeaders") {
                let name = string_of(header, "name");
                for msg in names::http_header_name(name) {
                    errs.push(FieldError::invalid(path.child("httpHeaders"), name, &msg));
                }
            }
        }
        "tcpSocket" | "grpc" => {
            common::port_num_or_name(action.get("port"), &path.child("port"), errs)
        }
        "sleep" => validate_sleep(action, ctx, path, errs),
        _ => {}
    }
}

fn validate_sleep(action: &Value, ctx: &PodContext, path: &Path, errs: &mut Errs) {
    let seconds = int_of(action, "seconds").unwrap_or(0);
    if let Some(grace) = ctx.grace_period.filter(|g| seconds < 0 || seconds > *g) {
        let msg =
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})");
        errs.push(FieldError::invalid(path, seconds, &msg));
    }
}

/// Image names must not carry surrounding whitespace in pods.
pub fn validate_image_whitespace(list: &[Value], path: &Path, errs: &mut Errs) {
    for (i, c) in list.iter().enumerate() {
        let image = string_of(c, "image");
        if image.trim() != image {
            let msg = "must not have leading or trailing whitespace";
            errs.push(FieldError::invalid(
                path.index(i).child("image"),
                image,
                msg,
            ));
        }
    }
}
