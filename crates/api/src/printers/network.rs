//! Rows of services, endpoints and endpoint slices.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{age, format_labels, int, list, list_with_more, name, or_none, text};
use super::{AGE, NAME, Printer, col, wide};

/// Endpoint cells list this many addresses before "+ N more...".
const MAX_LISTED: usize = 3;

pub(super) const SERVICES: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "How the service is exposed."),
        col(
            "Cluster-IP",
            "string",
            "Virtual IP of the service inside the cluster.",
        ),
        col(
            "External-IP",
            "string",
            "Addresses the service is reachable at from outside.",
        ),
        col(
            "Port(s)",
            "string",
            "Ports of the service, with node ports.",
        ),
        AGE,
        wide(
            "Selector",
            "string",
            "Labels of the pods the service routes to.",
        ),
    ],
    row: service_row,
};

fn service_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = &obj["spec"];
    let cluster_ip = match text(&spec["clusterIPs"][0]) {
        "" => text(&spec["clusterIP"]),
        ip => ip,
    };
    vec![
        name(obj),
        json!(service_type(spec)),
        json!(or_none(cluster_ip)),
        json!(external_ip(obj)),
        json!(or_none(&port_list(spec))),
        age(obj, now),
        json!(format_labels(&spec["selector"])),
    ]
}

/// The type, ClusterIP when unset as defaulting makes it.
fn service_type(spec: &Value) -> &str {
    match text(&spec["type"]) {
        "" => "ClusterIP",
        t => t,
    }
}

fn external_ip(svc: &Value) -> String {
    let spec = &svc["spec"];
    let external_ips: Vec<&str> = list(&spec["externalIPs"]).iter().map(text).collect();
    match service_type(spec) {
        "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(&svc["status"]["loadBalancer"]);
            if all.is_empty() && external_ips.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external_ips);
            all.join(",")
        }
        "ExternalName" => text(&spec["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// Ingress IPs (or hostnames where an entry has no IP), sorted and unique.
fn load_balancer_addresses(status: &Value) -> Vec<&str> {
    let addresses: BTreeSet<&str> = list(&status["ingress"])
        .iter()
        .filter_map(|i| {
            [&i["ip"], &i["hostname"]]
                .into_iter()
                .map(text)
                .find(|s| !s.is_empty())
        })
        .collect();
    addresses.into_iter().collect()
}

/// "80/TCP,443:30443/TCP": port, node port when allocated, protocol.
fn port_list(spec: &Value) -> String {
    let ports: Vec<String> = list(&spec["ports"])
        .iter()
        .map(|p| {
            let protocol = match text(&p["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            match int(&p["nodePort"]) {
                n if n > 0 => format!("{}:{n}/{protocol}", int(&p["port"])),
                _ => format!("{}/{protocol}", int(&p["port"])),
            }
        })
        .collect();
    ports.join(",")
}

pub(super) const ENDPOINTS: Printer = Printer {
    columns: &[
        NAME,
        col("Endpoints", "string", "Ready addresses with their ports."),
        AGE,
    ],
    row: |obj, now| vec![name(obj), json!(endpoint_addresses(obj)), age(obj, now)],
};

/// Up to three ready `ip:port` pairs, then "+ N more...".
fn endpoint_addresses(obj: &Value) -> String {
    let subsets = list(&obj["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown = Vec::new();
    let mut count = 0;
    for subset in subsets {
        let addresses = list(&subset["addresses"]);
        let ports = list(&subset["ports"]);
        // Headless services may have addresses without ports.
        let ports: Vec<Option<i64>> = match ports {
            [] => vec![None],
            ports => ports.iter().map(|p| Some(int(&p["port"]))).collect(),
        };
        for port in ports {
            count += addresses.len();
            for address in addresses
                .iter()
                .take(MAX_LISTED.saturating_sub(shown.len()))
            {
                shown.push(host_port(text(&address["ip"]), port));
            }
        }
    }
    if count > MAX_LISTED {
        format!("{} + {} more...", shown.join(","), count - MAX_LISTED)
    } else {
        shown.join(",")
    }
}

/// `ip:port`, with brackets around IPv6 addresses.
fn host_port(ip: &str, port: Option<i64>) -> String {
    match port {
        None => ip.to_string(),
        Some(port) if ip.contains(':') => format!("[{ip}]:{port}"),
        Some(port) => format!("{ip}:{port}"),
    }
}

pub(super) const ENDPOINT_SLICES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "AddressType",
            "string",
            "Type of the addresses: IPv4, IPv6 or FQDN.",
        ),
        col("Ports", "string", "Ports of the endpoints."),
        col("Endpoints", "string", "Addresses of the endpoints."),
        AGE,
    ],
    row: endpoint_slice_row,
};

fn endpoint_slice_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports = list(&obj["ports"])
        .iter()
        .map(|p| match (&p["port"], text(&p["name"])) {
            (Value::Number(n), _) => n.to_string(),
            (_, "") if p["name"].is_null() => "*".to_string(),
            (_, port_name) => port_name.to_string(),
        })
        .collect();
    let addresses = list(&obj["endpoints"])
        .iter()
        .flat_map(|e| list(&e["addresses"]).iter().map(|a| text(a).to_string()))
        .collect();
    vec![
        name(obj),
        json!(text(&obj["addressType"])),
        json!(list_with_more(ports, MAX_LISTED)),
        json!(list_with_more(addresses, MAX_LISTED)),
        age(obj, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    #[test]
    fn cluster_ip_service_row_shows_ports_and_no_external_ip() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:59:00Z"},
            "spec": {
                "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"app": "web"}
            }
        });
        assert_eq!(
            service_row(&svc, now()),
            [
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("60s"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn node_port_service_shows_node_ports_and_external_ips() {
        let svc = json!({"spec": {
            "type": "NodePort", "clusterIP": "10.96.0.7", "externalIPs": ["192.0.2.1"],
            "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]
        }});
        let cells = service_row(&svc, now());
        assert_eq!(
            cells[2..5],
            [
                json!("10.96.0.7"),
                json!("192.0.2.1"),
                json!("443:30443/TCP")
            ]
        );
        assert_eq!(cells[6], "<none>");
    }

    #[test]
    fn load_balancer_service_is_pending_until_it_has_an_ingress() {
        let mut svc = json!({"spec": {"type": "LoadBalancer", "ports": []}});
        assert_eq!(external_ip(&svc), "<pending>");
        svc["status"] = json!({"loadBalancer": {"ingress": [
            {"hostname": "lb.example.com"}, {"ip": "203.0.113.9"}, {"ip": "203.0.113.9"}
        ]}});
        assert_eq!(external_ip(&svc), "203.0.113.9,lb.example.com");
        svc["spec"]["externalIPs"] = json!(["192.0.2.1"]);
        assert_eq!(external_ip(&svc), "203.0.113.9,lb.example.com,192.0.2.1");
    }

    #[test]
    fn headless_and_external_name_services_show_their_targets() {
        let headless = json!({"spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
        assert_eq!(
            service_row(&headless, now())[2..5],
            [json!("None"), json!("<none>"), json!("<none>")]
        );
        let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        assert_eq!(
            service_row(&external, now())[2..4],
            [json!("<none>"), json!("db.example.com")]
        );
    }

    #[test]
    fn endpoints_list_three_addresses_then_a_count() {
        let ep = json!({"subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 8080}]
        }]});
        assert_eq!(
            endpoint_addresses(&ep),
            "10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 1 more..."
        );
        assert_eq!(endpoint_addresses(&json!({})), "<none>");
        let no_ports = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        assert_eq!(endpoint_addresses(&no_ports), "10.0.0.1");
    }

    #[test]
    fn endpoint_slice_row_shows_ports_and_addresses() {
        let slice = json!({
            "addressType": "IPv4",
            "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]
        });
        let cells = endpoint_slice_row(&slice, now());
        assert_eq!(
            cells[1..4],
            [
                json!("IPv4"),
                json!("80,metrics,*"),
                json!("10.0.0.1,10.0.0.2")
            ]
        );
        assert_eq!(
            endpoint_slice_row(&json!({}), now())[2..4],
            [json!("<unset>"), json!("<unset>")]
        );
    }
}
