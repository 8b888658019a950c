//! Server-side printing: the Table columns and row cells `kubectl get` shows for
//! each kind, following upstream's printers.
//!
//! Cells always include the wide (priority 1) columns, as upstream's server does;
//! kubectl hides them unless asked for `-o wide`.

mod basics;
mod cells;
pub mod custom;
mod duration;
mod events;
mod network;
mod nodes;
mod pods;
mod storage;
mod workloads;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub use duration::human_duration;

use crate::ResourceInfo;

/// One column of a Table, as `metav1.TableColumnDefinition` describes it.
#[derive(Clone, Copy, Debug)]
struct Column {
    name: &'static str,
    /// The OpenAPI type of the cells: string, integer, boolean, number or date.
    kind: &'static str,
    /// `name` for the column holding the object's name, empty otherwise.
    format: &'static str,
    /// 0 for the default view, 1 for columns shown only with `-o wide`.
    priority: u8,
    description: &'static str,
}

impl Column {
    fn to_json(self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        priority: 0,
        description,
    }
}

/// A column shown only with `-o wide`.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        priority: 1,
        description,
    }
}

const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    priority: 0,
    description: "Name of the object, unique among objects of its kind in its namespace.",
};

const AGE: Column = col("Age", "string", "Time since the object was created.");

const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of the template's containers.",
);

const IMAGES: Column = wide("Images", "string", "Images of the template's containers.");

const SELECTOR: Column = wide("Selector", "string", "Label selector of the managed pods.");

/// The columns of one kind and the function computing a row's cells.
struct Printer {
    columns: &'static [Column],
    row: fn(&Value, DateTime<Utc>) -> Vec<Value>,
}

/// What kinds without a printer of their own show: custom resources get Name
/// and Age, as upstream's default for custom resources.
const NAME_AND_AGE: Printer = Printer {
    columns: &[
        NAME,
        col("Age", "date", "Time since the object was created."),
    ],
    row: |obj, now| vec![cells::name(obj), cells::age(obj, now)],
};

/// Built-in kinds without a printer upstream (LimitRange) show the creation
/// time as an RFC 3339 timestamp, as upstream's default table does.
const NAME_AND_CREATED_AT: Printer = Printer {
    columns: &[
        NAME,
        col("Created At", "date", "Time the object was created."),
    ],
    row: |obj, _| vec![cells::name(obj), json!(created_at(obj))],
};

fn created_at(obj: &Value) -> String {
    let time = cells::timestamp(&obj["metadata"]["creationTimestamp"]).unwrap_or_default();
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn printer_for(resource: &ResourceInfo) -> &'static Printer {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => &pods::PODS,
        ("", "namespaces") => &basics::NAMESPACES,
        ("", "configmaps") => &basics::CONFIG_MAPS,
        ("", "secrets") => &basics::SECRETS,
        ("", "serviceaccounts") => &basics::SERVICE_ACCOUNTS,
        ("", "resourcequotas") => &basics::RESOURCE_QUOTAS,
        ("", "limitranges") => &NAME_AND_CREATED_AT,
        ("", "services") => &network::SERVICES,
        ("", "endpoints") => &network::ENDPOINTS,
        ("discovery.k8s.io", "endpointslices") => &network::ENDPOINT_SLICES,
        ("", "nodes") => &nodes::NODES,
        ("", "persistentvolumes") => &storage::PERSISTENT_VOLUMES,
        ("", "persistentvolumeclaims") => &storage::PERSISTENT_VOLUME_CLAIMS,
        ("storage.k8s.io", "storageclasses") => &storage::STORAGE_CLASSES,
        ("", "events") => &events::CORE_EVENTS,
        ("events.k8s.io", "events") => &events::EVENTS_API_EVENTS,
        ("coordination.k8s.io", "leases") => &basics::LEASES,
        ("apps", "deployments") => &workloads::DEPLOYMENTS,
        ("apps", "replicasets") => &workloads::REPLICA_SETS,
        ("apps", "statefulsets") => &workloads::STATEFUL_SETS,
        ("apps", "daemonsets") => &workloads::DAEMON_SETS,
        ("apps", "controllerrevisions") => &workloads::CONTROLLER_REVISIONS,
        ("batch", "jobs") => &workloads::JOBS,
        ("batch", "cronjobs") => &workloads::CRON_JOBS,
        ("policy", "poddisruptionbudgets") => &workloads::POD_DISRUPTION_BUDGETS,
        ("apiextensions.k8s.io", "customresourcedefinitions") => &NAME_AND_CREATED_AT,
        _ => &NAME_AND_AGE,
    }
}

/// Column definitions (metav1.TableColumnDefinition JSON objects: name, type,
/// format, description, priority) for a resource.
pub fn column_definitions(resource: &ResourceInfo) -> Vec<Value> {
    if let Some(columns) = custom_columns(resource) {
        return custom::column_definitions(columns);
    }
    printer_for(resource)
        .columns
        .iter()
        .map(|c| c.to_json())
        .collect()
}

/// The cells of one object's row, in column order (JSON strings, integers and
/// booleans), wide columns included. Ages are measured against `now`.
pub fn row_cells(resource: &ResourceInfo, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    if let Some(columns) = custom_columns(resource) {
        return custom::row_cells(columns, obj, now);
    }
    (printer_for(resource).row)(obj, now)
}

/// The `additionalPrinterColumns` of a custom resource's version, as declared.
fn custom_columns(resource: &ResourceInfo) -> Option<&[Value]> {
    let custom = resource.custom.as_ref()?;
    let version = custom
        .crd
        .pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(&custom.version.name))?;
    Some(
        version
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    fn custom_resource() -> ResourceInfo {
        ResourceInfo {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            namespaced: true,
            short_names: vec![],
            categories: vec![],
            subresources: vec![],
            custom: None,
        }
    }

    #[test]
    fn every_builtin_row_has_one_cell_per_column() {
        let objects = [
            serde_json::json!({}),
            serde_json::json!(null),
            serde_json::json!([1]),
        ];
        for r in builtin_resources() {
            let columns = column_definitions(&r);
            for obj in &objects {
                assert_eq!(
                    row_cells(&r, obj, now()).len(),
                    columns.len(),
                    "{}",
                    r.plural
                );
            }
        }
    }

    #[test]
    fn every_builtin_table_starts_with_a_name_column_except_events() {
        for r in builtin_resources() {
            let first = &column_definitions(&r)[0];
            if r.plural == "events" {
                assert_eq!(first["name"], "Last Seen");
            } else {
                assert_eq!(first["name"], "Name", "{}", r.plural);
                assert_eq!(first["format"], "name");
            }
        }
    }

    #[test]
    fn column_definitions_carry_all_metav1_fields() {
        let r = custom_resource();
        let cols = column_definitions(&r);
        assert_eq!(
            cols[0],
            serde_json::json!({
                "name": "Name", "type": "string", "format": "name",
                "description": NAME.description, "priority": 0
            })
        );
    }

    #[test]
    fn custom_resources_get_name_and_age() {
        let r = custom_resource();
        let names: Vec<_> = column_definitions(&r)
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, ["Name", "Age"]);
        let obj = serde_json::json!({
            "metadata": {"name": "w1", "creationTimestamp": "2025-06-01T11:58:30Z"}
        });
        assert_eq!(row_cells(&r, &obj, now()), ["w1", "90s"]);
    }

    #[test]
    fn limit_ranges_show_the_creation_time_like_upstreams_default_table() {
        let all = builtin_resources();
        let Some(r) = all.iter().find(|r| r.plural == "limitranges") else {
            panic!("limitranges missing");
        };
        let obj = serde_json::json!({
            "metadata": {"name": "limits", "creationTimestamp": "2025-05-01T08:00:00+02:00"}
        });
        assert_eq!(
            row_cells(r, &obj, now()),
            ["limits", "2025-05-01T06:00:00Z"]
        );
        assert_eq!(column_definitions(r)[1]["name"], "Created At");
    }
}
