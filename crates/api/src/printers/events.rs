//! Event rows, for core/v1 and events.k8s.io/v1 Events alike: the two share
//! upstream's printer, reading the same facts under different field names.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{int, name, since, text};
use super::{Column, NAME, Printer, col, wide};

const COLUMNS: &[Column] = &[
    col("Last Seen", "string", "Time since the event last occurred."),
    col("Type", "string", "Normal or Warning."),
    col(
        "Reason",
        "string",
        "Short machine-readable cause of the event.",
    ),
    col(
        "Object",
        "string",
        "The object the event is about, as kind/name.",
    ),
    wide(
        "Subobject",
        "string",
        "Part of the object the event is about.",
    ),
    wide(
        "Source",
        "string",
        "Component, and host, that reported the event.",
    ),
    col(
        "Message",
        "string",
        "Human-readable description of the event.",
    ),
    wide(
        "First Seen",
        "string",
        "Time since the event first occurred.",
    ),
    wide("Count", "string", "Number of times the event occurred."),
    Column {
        priority: 1,
        ..NAME
    },
];

pub(super) const CORE_EVENTS: Printer = Printer {
    columns: COLUMNS,
    row: |obj, now| event_row(obj, &CORE_FIELDS, now),
};

pub(super) const EVENTS_API_EVENTS: Printer = Printer {
    columns: COLUMNS,
    row: |obj, now| event_row(obj, &EVENTS_API_FIELDS, now),
};

/// Field names of an Event's facts in one API group.
struct EventFields {
    regarding: &'static str,
    message: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    source: &'static str,
    reporting_controller: &'static str,
}

const CORE_FIELDS: EventFields = EventFields {
    regarding: "involvedObject",
    message: "message",
    first_timestamp: "firstTimestamp",
    last_timestamp: "lastTimestamp",
    count: "count",
    source: "source",
    reporting_controller: "reportingComponent",
};

const EVENTS_API_FIELDS: EventFields = EventFields {
    regarding: "regarding",
    message: "note",
    first_timestamp: "deprecatedFirstTimestamp",
    last_timestamp: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    reporting_controller: "reportingController",
};

fn event_row(ev: &Value, fields: &EventFields, now: DateTime<Utc>) -> Vec<Value> {
    let (first_seen, last_seen, count) = timing(ev, fields, now);
    let regarding = &ev[fields.regarding];
    vec![
        json!(last_seen),
        json!(text(&ev["type"])),
        json!(text(&ev["reason"])),
        json!(target(regarding)),
        json!(text(&regarding["fieldPath"])),
        json!(source(ev, fields)),
        json!(text(&ev[fields.message]).trim()),
        json!(first_seen),
        json!(count),
        name(ev),
    ]
}

/// First seen, last seen and count. New-style events carry an eventTime and a
/// series instead of the first/last timestamps and count.
fn timing(ev: &Value, fields: &EventFields, now: DateTime<Utc>) -> (String, String, i64) {
    let first = match &ev[fields.first_timestamp] {
        Value::Null => since(&ev["eventTime"], now),
        t => since(t, now),
    };
    let series = &ev["series"];
    if series.is_object() {
        return (
            first,
            since(&series["lastObservedTime"], now),
            int(&series["count"]),
        );
    }
    let last = match &ev[fields.last_timestamp] {
        Value::Null => first.clone(),
        t => since(t, now),
    };
    // Singleton events of the new API have no count.
    let count = match int(&ev[fields.count]) {
        0 => 1,
        n => n,
    };
    (first, last, count)
}

/// "kind/name" in lower-case kind, or the kind alone for unnamed objects.
fn target(regarding: &Value) -> String {
    let kind = text(&regarding["kind"]).to_lowercase();
    match text(&regarding["name"]) {
        "" => kind,
        object => format!("{kind}/{object}"),
    }
}

/// "component, host", taking the reporting controller and instance when the
/// source is empty.
fn source(ev: &Value, fields: &EventFields) -> String {
    let src = &ev[fields.source];
    let first_non_empty = |a: &Value, b: &Value| match text(a) {
        "" => text(b).to_string(),
        s => s.to_string(),
    };
    let component = first_non_empty(&src["component"], &ev[fields.reporting_controller]);
    let host = first_non_empty(&src["host"], &ev["reportingInstance"]);
    if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    #[test]
    fn core_event_row_shows_every_cell() {
        let ev = json!({
            "metadata": {"name": "web.17f"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container\n",
            "type": "Warning",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2025-06-01T11:00:00Z",
            "lastTimestamp": "2025-06-01T11:59:30Z",
            "count": 12
        });
        assert_eq!(
            (CORE_EVENTS.row)(&ev, now()),
            [
                json!("30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(12),
                json!("web.17f")
            ]
        );
    }

    #[test]
    fn new_style_event_uses_event_time_series_and_reporting_controller() {
        let ev = json!({
            "regarding": {"kind": "Node"},
            "note": "Node ready",
            "reportingController": "skiff-kubelet",
            "reportingInstance": "node-1",
            "eventTime": "2025-06-01T11:50:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2025-06-01T11:59:00.123456Z"}
        });
        let cells = (EVENTS_API_EVENTS.row)(&ev, now());
        assert_eq!(cells[0], "59s", "fractions of a second are cut off");
        assert_eq!(cells[3], "node");
        assert_eq!(cells[5], "skiff-kubelet, node-1");
        assert_eq!(cells[6], "Node ready");
        assert_eq!(cells[7..9], [json!("10m"), json!(3)]);
    }

    #[test]
    fn singleton_event_counts_once_and_reuses_first_seen() {
        let ev = json!({"eventTime": "2025-06-01T11:59:55.000000Z"});
        let cells = (CORE_EVENTS.row)(&ev, now());
        assert_eq!(cells[0], "5s");
        assert_eq!(cells[7..9], [json!("5s"), json!(1)]);
        assert_eq!((CORE_EVENTS.row)(&json!({}), now())[0], "<unknown>");
    }

    #[test]
    fn event_columns_hide_details_and_name_in_the_default_view() {
        let wide: Vec<_> = COLUMNS
            .iter()
            .filter(|c| c.priority == 1)
            .map(|c| c.name)
            .collect();
        assert_eq!(wide, ["Subobject", "Source", "First Seen", "Count", "Name"]);
        assert_eq!(COLUMNS[9].format, "name");
    }
}
