//! Service rules (types, ports, session affinity, cluster IPs, traffic policies), and
//! those of Endpoints and EndpointSlices.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::Value;

use super::access::{arr_of, has, int_of, obj_of, str_of, string_of};
use super::common::{self, Errs, required_enum};
use super::field::{BadValue, FieldError, Path};
use super::meta;
use super::names;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const KUBELET_PORT: i64 = 10250;
const MAX_AFFINITY_SECONDS: i64 = 86400;

fn primary_cluster_ip(spec: &Value) -> &str {
    arr_of(spec, "clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| string_of(spec, "clusterIP"))
}

fn is_headless(spec: &Value) -> bool {
    primary_cluster_ip(spec) == "None"
}

/// NodePort and LoadBalancer services, and ClusterIP ones with external IPs.
fn externally_accessible(spec: &Value) -> bool {
    match string_of(spec, "type") {
        "NodePort" | "LoadBalancer" => true,
        "ClusterIP" => !arr_of(spec, "externalIPs").is_empty(),
        _ => false,
    }
}

pub fn validate_service(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let kind = string_of(spec, "type");
    let ports = arr_of(spec, "ports");
    if ports.is_empty() && !is_headless(spec) && kind != "ExternalName" {
        errs.push(FieldError::required(path.child("ports")));
    }
    type_rules(spec, kind, &path, errs);
    let mut seen_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        service_port(
            port,
            ports.len() > 1,
            &mut seen_names,
            &path.child("ports").index(i),
            errs,
        );
    }
    meta::validate_labels(obj_of(spec, "selector"), &path.child("selector"), errs);
    session_affinity(spec, &path, errs);
    cluster_ips(spec, &path, errs);
    for (i, ip) in arr_of(spec, "externalIPs").iter().enumerate() {
        endpoint_ip(
            ip.as_str().unwrap_or(""),
            &path.child("externalIPs").index(i),
            errs,
        );
    }
    required_enum(kind, &path.child("type"), TYPES, errs);
    port_conflicts(spec, kind, &path, errs);
    traffic_policies(spec, &path, errs);
}

fn type_rules(spec: &Value, kind: &str, path: &Path, errs: &mut Errs) {
    match kind {
        "LoadBalancer" | "NodePort" if is_headless(spec) => {
            let msg = format!("may not be set to 'None' for {kind} services");
            errs.push(FieldError::invalid(
                path.child("clusterIPs").index(0),
                "None",
                &msg,
            ));
        }
        "ExternalName" => external_name(spec, path, errs),
        _ => {}
    }
    if kind == "LoadBalancer" {
        for (i, port) in arr_of(spec, "ports").iter().enumerate() {
            if int_of(port, "port") == Some(KUBELET_PORT) {
                let msg = format!(
                    "may not expose port {KUBELET_PORT} externally since it is used by kubelet"
                );
                errs.push(FieldError::invalid(
                    path.child("ports").index(i),
                    KUBELET_PORT,
                    &msg,
                ));
            }
        }
    }
}

fn external_name(spec: &Value, path: &Path, errs: &mut Errs) {
    let forbidden = "may not be set for ExternalName services";
    let ips = !arr_of(spec, "clusterIPs").is_empty() || !string_of(spec, "clusterIP").is_empty();
    if ips {
        errs.push(FieldError::forbidden(path.child("clusterIPs"), forbidden));
    }
    if !arr_of(spec, "ipFamilies").is_empty() {
        errs.push(FieldError::forbidden(path.child("ipFamilies"), forbidden));
    }
    if has(spec, "ipFamilyPolicy") {
        errs.push(FieldError::forbidden(
            path.child("ipFamilyPolicy"),
            forbidden,
        ));
    }
    let cname = string_of(spec, "externalName");
    let cname = cname.strip_suffix('.').unwrap_or(cname);
    if cname.is_empty() {
        errs.push(FieldError::required(path.child("externalName")));
    } else {
        common::dns_subdomain(cname, &path.child("externalName"), errs);
    }
}

fn service_port<'a>(
    port: &'a Value,
    require_name: bool,
    seen: &mut HashSet<&'a str>,
    path: &Path,
    errs: &mut Errs,
) {
    let name = string_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name")));
    } else if !name.is_empty() {
        common::dns_label(name, &path.child("name"), errs);
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(path.child("name"), name));
        }
    }
    common::port_number(int_of(port, "port").unwrap_or(0), &path.child("port"), errs);
    required_enum(
        string_of(port, "protocol"),
        &path.child("protocol"),
        PROTOCOLS,
        errs,
    );
    common::port_num_or_name(port.get("targetPort"), &path.child("targetPort"), errs);
    if let Some(app) = str_of(port, "appProtocol") {
        common::qualified_name(app, &path.child("appProtocol"), errs);
    }
}

fn session_affinity(spec: &Value, path: &Path, errs: &mut Errs) {
    let affinity = string_of(spec, "sessionAffinity");
    required_enum(
        affinity,
        &path.child("sessionAffinity"),
        &["ClientIP", "None"],
        errs,
    );
    let config_path = path.child("sessionAffinityConfig");
    let config = spec.get("sessionAffinityConfig").filter(|c| !c.is_null());
    match affinity {
        "ClientIP" => client_ip_config(config, &config_path, errs),
        "None" if config.is_some() => errs.push(FieldError::forbidden(
            config_path,
            "must not be set when session affinity is None",
        )),
        _ => {}
    }
}

fn client_ip_config(config: Option<&Value>, path: &Path, errs: &mut Errs) {
    let detail = "when session affinity type is ClientIP";
    let Some(config) = config else {
        errs.push(FieldError::required_because(path, detail));
        return;
    };
    let Some(client) = config.get("clientIP").filter(|c| !c.is_null()) else {
        errs.push(FieldError::required_because(path.child("clientIP"), detail));
        return;
    };
    let tpath = path.child("clientIP").child("timeoutSeconds");
    match int_of(client, "timeoutSeconds") {
        None => errs.push(FieldError::required_because(tpath, detail)),
        Some(t) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
            let msg = format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}");
            errs.push(FieldError::invalid(tpath, t, &msg));
        }
        Some(_) => {}
    }
}

fn cluster_ips(spec: &Value, path: &Path, errs: &mut Errs) {
    let ips: Vec<&str> = arr_of(spec, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let single = string_of(spec, "clusterIP");
    if !single.is_empty() && !ips.is_empty() && ips[0] != single {
        let value = spec.get("clusterIPs").unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(
            path.child("clusterIPs"),
            value,
            "first value must match `clusterIP`",
        ));
    }
    let list = if ips.is_empty() && !single.is_empty() {
        vec![single]
    } else {
        ips
    };
    for (i, ip) in list.iter().enumerate() {
        let p = path.child("clusterIPs").index(i);
        if *ip == "None" && i == 0 && list.len() == 1 {
            continue;
        }
        if ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                p,
                *ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    if let Some(policy) = str_of(spec, "ipFamilyPolicy") {
        let supported = ["SingleStack", "PreferDualStack", "RequireDualStack"];
        required_enum(policy, &path.child("ipFamilyPolicy"), &supported, errs);
    }
    let mut families = HashSet::new();
    for (i, family) in arr_of(spec, "ipFamilies").iter().enumerate() {
        let family = family.as_str().unwrap_or("");
        let p = path.child("ipFamilies").index(i);
        if family != "IPv4" && family != "IPv6" {
            errs.push(FieldError::not_supported(&p, family, &["IPv4", "IPv6"]));
        } else if !families.insert(family) {
            errs.push(FieldError::duplicate(&p, family));
        }
    }
}

fn port_conflicts(spec: &Value, kind: &str, path: &Path, errs: &mut Errs) {
    let mut node_ports = HashSet::new();
    let mut ports = HashSet::new();
    for (i, port) in arr_of(spec, "ports").iter().enumerate() {
        let p = path.child("ports").index(i);
        let protocol = string_of(port, "protocol");
        let node_port = int_of(port, "nodePort").unwrap_or(0);
        if kind == "ClusterIP" && node_port != 0 {
            errs.push(FieldError::forbidden(
                p.child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if node_port != 0 && !node_ports.insert((protocol, node_port)) {
            errs.push(FieldError::duplicate(p.child("nodePort"), node_port));
        }
        let number = int_of(port, "port").unwrap_or(0);
        if !ports.insert((protocol, number)) {
            let rendered = format!(
                "{{\"Name\":\"\",\"Protocol\":{},\"AppProtocol\":null,\"Port\":{number},\"TargetPort\":0,\"NodePort\":0}}",
                super::field::go_quote(protocol)
            );
            errs.push(FieldError::duplicate(&p, BadValue::Raw(rendered)));
        }
    }
}

fn traffic_policies(spec: &Value, path: &Path, errs: &mut Errs) {
    let external = string_of(spec, "externalTrafficPolicy");
    let ep = path.child("externalTrafficPolicy");
    if externally_accessible(spec) {
        required_enum(external, &ep, &["Cluster", "Local"], errs);
    } else if !external.is_empty() {
        errs.push(FieldError::invalid(
            ep,
            external,
            "may only be set for externally-accessible services",
        ));
    }
    if string_of(spec, "type") != "ExternalName" {
        let internal = string_of(spec, "internalTrafficPolicy");
        required_enum(
            internal,
            &path.child("internalTrafficPolicy"),
            &["Cluster", "Local"],
            errs,
        );
    }
}

/// IPs that may back a service: not unspecified, loopback or link-local.
fn endpoint_ip(ip: &str, path: &Path, errs: &mut Errs) {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        errs.push(FieldError::invalid(
            path,
            ip,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
        return;
    };
    let detail = if addr.is_unspecified() {
        format!("may not be unspecified ({ip})")
    } else if addr.is_loopback() {
        "may not be in the loopback range (127.0.0.0/8, ::1/128)".to_string()
    } else if is_link_local_unicast(&addr) {
        "may not be in the link-local range (169.254.0.0/16, fe80::/10)".to_string()
    } else if is_link_local_multicast(&addr) {
        "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".to_string()
    } else {
        return;
    };
    errs.push(FieldError::invalid(path, ip, &detail));
}

fn is_link_local_unicast(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_link_local_multicast(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff02,
    }
}

/// The primary cluster IP and IP family cannot change, bar ExternalName services.
pub fn validate_service_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    if string_of(spec, "type") == "ExternalName" || string_of(old_spec, "type") == "ExternalName" {
        return;
    }
    let (ip, old_ip) = (primary_cluster_ip(spec), primary_cluster_ip(old_spec));
    if !ip.is_empty() && !old_ip.is_empty() && ip != old_ip {
        let value = spec
            .get("clusterIPs")
            .cloned()
            .unwrap_or_else(|| Value::from(vec![ip]));
        errs.push(FieldError::invalid(
            Path::new("spec.clusterIPs").index(0),
            &value,
            "may not change once set",
        ));
    }
    let family = |s: &Value| {
        arr_of(s, "ipFamilies")
            .first()
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let (Some(f), Some(old_f)) = (family(spec), family(old_spec))
        && f != old_f
    {
        let value = spec.get("ipFamilies").unwrap_or(&Value::Null);
        let p = Path::new("spec.ipFamilies").index(0);
        errs.push(FieldError::invalid(p, value, "may not change once set"));
    }
}

pub fn validate_endpoints(obj: &Value, errs: &mut Errs) {
    for (i, subset) in arr_of(obj, "subsets").iter().enumerate() {
        let p = Path::new("subsets").index(i);
        if arr_of(subset, "addresses").is_empty() && arr_of(subset, "notReadyAddresses").is_empty()
        {
            errs.push(FieldError::required_because(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for key in ["addresses", "notReadyAddresses"] {
            for (j, addr) in arr_of(subset, key).iter().enumerate() {
                endpoint_address(addr, &p.child(key).index(j), errs);
            }
        }
        let ports = arr_of(subset, "ports");
        for (j, port) in ports.iter().enumerate() {
            endpoint_port(port, ports.len() > 1, &p.child("ports").index(j), errs);
        }
    }
}

fn endpoint_address(addr: &Value, path: &Path, errs: &mut Errs) {
    let hostname = string_of(addr, "hostname");
    if !hostname.is_empty() {
        common::dns_label(hostname, &path.child("hostname"), errs);
    }
    if let Some(node) = str_of(addr, "nodeName") {
        common::dns_subdomain(node, &path.child("nodeName"), errs);
    }
    endpoint_ip(string_of(addr, "ip"), &path.child("ip"), errs);
}

fn endpoint_port(port: &Value, require_name: bool, path: &Path, errs: &mut Errs) {
    let name = string_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name")));
    } else if !name.is_empty() {
        common::dns_label(name, &path.child("name"), errs);
    }
    common::port_number(int_of(port, "port").unwrap_or(0), &path.child("port"), errs);
    required_enum(
        string_of(port, "protocol"),
        &path.child("protocol"),
        PROTOCOLS,
        errs,
    );
    if let Some(app) = str_of(port, "appProtocol") {
        common::qualified_name(app, &path.child("appProtocol"), errs);
    }
}

pub fn validate_endpoint_slice(obj: &Value, errs: &mut Errs) {
    let address_type = string_of(obj, "addressType");
    required_enum(
        address_type,
        &Path::new("addressType"),
        &["FQDN", "IPv4", "IPv6"],
        errs,
    );
    let endpoints = arr_of(obj, "endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many(
            Path::new("endpoints"),
            endpoints.len(),
            1000,
        ));
    }
    for (i, ep) in endpoints.iter().enumerate() {
        slice_endpoint(ep, address_type, &Path::new("endpoints").index(i), errs);
    }
    let mut seen = HashSet::new();
    for (i, port) in arr_of(obj, "ports").iter().enumerate() {
        let p = Path::new("ports").index(i);
        let name = string_of(port, "name");
        if !name.is_empty() {
            common::dns_label(name, &p.child("name"), errs);
        }
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), name));
        }
        match str_of(port, "protocol") {
            None => errs.push(FieldError::required(p.child("protocol"))),
            Some(proto) if !PROTOCOLS.contains(&proto) => errs.push(FieldError::not_supported(
                p.child("protocol"),
                proto,
                PROTOCOLS,
            )),
            Some(_) => {}
        }
        if let Some(app) = str_of(port, "appProtocol") {
            common::qualified_name(app, &p.child("appProtocol"), errs);
        }
    }
}

fn slice_endpoint(ep: &Value, address_type: &str, path: &Path, errs: &mut Errs) {
    let addresses = arr_of(ep, "addresses");
    let ap = path.child("addresses");
    if addresses.is_empty() {
        errs.push(FieldError::required_because(
            &ap,
            "must contain at least 1 address",
        ));
    } else if addresses.len() > 100 {
        errs.push(FieldError::too_many(&ap, addresses.len(), 100));
    }
    for (i, addr) in addresses.iter().enumerate() {
        let addr = addr.as_str().unwrap_or("");
        let p = ap.index(i);
        let ok = match address_type {
            "IPv4" => addr.parse::<std::net::Ipv4Addr>().is_ok(),
            "IPv6" => addr.parse::<std::net::Ipv6Addr>().is_ok(),
            _ => true,
        };
        if !ok {
            let family = if address_type == "IPv4" {
                "IPv4"
            } else {
                "IPv6"
            };
            errs.push(FieldError::invalid(
                &p,
                addr,
                &format!("must be a valid {family} address"),
            ));
        }
        if address_type == "FQDN" {
            fqdn(addr, &p, errs);
        }
    }
    if let Some(node) = str_of(ep, "nodeName") {
        common::dns_subdomain(node, &path.child("nodeName"), errs);
    }
    if let Some(host) = str_of(ep, "hostname") {
        common::dns_label(host, &path.child("hostname"), errs);
    }
}

fn fqdn(name: &str, path: &Path, errs: &mut Errs) {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        errs.push(FieldError::required(path));
        return;
    }
    let msgs = names::dns1123_subdomain(name);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid(path, name, &msgs.join(",")));
    } else if !name.contains('.') {
        errs.push(FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        ));
    }
}

pub fn validate_endpoint_slice_update(new: &Value, old: &Value, errs: &mut Errs) {
    meta::immutable(
        new.get("addressType"),
        old.get("addressType"),
        &Path::new("addressType"),
        errs,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(spec: Value) -> Vec<String> {
        let mut base = json!({"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"});
        for (k, v) in spec.as_object().unwrap() {
            base[k] = v.clone();
        }
        let mut errs = Vec::new();
        validate_service(&json!({ "spec": base }), &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_defaulted_service_is_valid() {
        assert!(
            service(json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}))
                .is_empty()
        );
    }

    #[test]
    fn services_need_ports_unless_headless() {
        assert_eq!(service(json!({})), vec!["spec.ports: Required value"]);
        assert!(service(json!({"clusterIP": "None"})).is_empty());
    }

    #[test]
    fn multiple_ports_need_unique_names() {
        let errs = service(json!({"ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "b", "port": 81, "protocol": "TCP", "targetPort": 81}]}));
        assert_eq!(errs, vec!["spec.ports[0].name: Required value"]);
    }

    #[test]
    fn port_ranges_and_types_are_checked() {
        let errs = service(
            json!({"type": "Magic", "ports": [{"port": 0, "protocol": "TCP", "targetPort": 1}]}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
            ]
        );
    }

    #[test]
    fn cluster_ips_cannot_change() {
        let old = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}});
        let new = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.2", "clusterIPs": ["10.0.0.2"]}});
        let mut errs = Vec::new();
        validate_service_update(&new, &old, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.clusterIPs[0]: Invalid value: [\"10.0.0.2\"]: may not change once set"
        );
    }

    #[test]
    fn endpoint_slices_need_known_address_types() {
        let mut errs = Vec::new();
        validate_endpoint_slice(&json!({"addressType": "IPv5"}), &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
        );
    }

    #[test]
    fn endpoints_reject_loopback_addresses() {
        let mut errs = Vec::new();
        let ep = json!({"subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]});
        validate_endpoints(&ep, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
        );
    }
}
