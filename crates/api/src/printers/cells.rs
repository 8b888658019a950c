//! Reading values out of objects and formatting them into cells, shared by the
//! printers of every kind. Missing or mistyped fields read as their zero value.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::duration::human_duration;
use crate::selectors::LabelSelector;

/// The object's name cell.
pub(super) fn name(obj: &Value) -> Value {
    json!(text(&obj["metadata"]["name"]))
}

/// The object's age cell.
pub(super) fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    json!(since(&obj["metadata"]["creationTimestamp"], now))
}

/// Time elapsed from a timestamp field to `now`, or "<unknown>" when unset.
pub(super) fn since(ts: &Value, now: DateTime<Utc>) -> String {
    match timestamp(ts) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_string(),
    }
}

pub(super) fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(parsed.with_timezone(&Utc))
}

pub(super) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

pub(super) fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub(super) fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The text, or "<none>" when it is empty.
pub(super) fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

/// A string map as sorted `k=v` pairs joined by commas, or "<none>".
pub(super) fn format_labels(map: &Value) -> String {
    let Some(map) = map.as_object() else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect();
    pairs.sort();
    or_none(&pairs.join(","))
}

/// A `metav1.LabelSelector` in its string form, "<none>" when it selects
/// everything and "<error>" when it is malformed.
pub(super) fn format_label_selector(selector: &Value) -> String {
    match LabelSelector::from_label_selector_json(selector) {
        Ok(s) => or_none(&s.to_string()),
        Err(_) => "<error>".to_string(),
    }
}

/// The names and the images of a pod spec's containers, each joined by commas.
pub(super) fn container_cells(pod_spec: &Value) -> (Value, Value) {
    let containers = list(&pod_spec["containers"]);
    let names: Vec<&str> = containers.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(&c["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// A resource quantity as written in the object, "0" when absent.
pub(super) fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// An int-or-string value ("2" or "50%"), or `None` when absent.
pub(super) fn int_or_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Up to `max` items, then "+ N more..." for the rest; "<unset>" when empty.
pub(super) fn list_with_more(items: Vec<String>, max: usize) -> String {
    let count = items.len();
    if count == 0 {
        return "<unset>".to_string();
    }
    let shown = items.into_iter().take(max).collect::<Vec<_>>().join(",");
    if count > max {
        format!("{shown} + {} more...", count - max)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_labels_sorts_pairs_and_marks_empty_maps() {
        assert_eq!(format_labels(&json!({"b": "2", "a": "1"})), "a=1,b=2");
        assert_eq!(format_labels(&json!({})), "<none>");
        assert_eq!(format_labels(&Value::Null), "<none>");
    }

    #[test]
    fn format_label_selector_marks_empty_and_malformed_selectors() {
        assert_eq!(
            format_label_selector(&json!({"matchLabels": {"app": "web"}})),
            "app=web"
        );
        assert_eq!(format_label_selector(&json!({})), "<none>");
        assert_eq!(format_label_selector(&Value::Null), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Nope"}]});
        assert_eq!(format_label_selector(&bad), "<error>");
    }

    #[test]
    fn since_reports_unknown_for_missing_or_malformed_timestamps() {
        let now = Utc::now();
        assert_eq!(since(&Value::Null, now), "<unknown>");
        assert_eq!(since(&json!("yesterday"), now), "<unknown>");
    }

    #[test]
    fn list_with_more_caps_the_items_shown() {
        let items = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(list_with_more(items(0), 3), "<unset>");
        assert_eq!(list_with_more(items(3), 3), "1,2,3");
        assert_eq!(list_with_more(items(5), 3), "1,2,3 + 2 more...");
    }
}
