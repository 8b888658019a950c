//! `metadata.managedFields`: who owns which fields of an object, read from and written
//! back to the object in upstream's form and order.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::fields_v1;
use super::fieldset::FieldSet;
use crate::gojson::write_json_string;

/// How a manager came to own its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    /// The name upstream writes (`Apply`, `Update`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedFieldsEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339 with seconds, in UTC; absent when the entry never changed the object.
    pub time: Option<String>,
    pub fields: FieldSet,
    pub subresource: Option<String>,
}

impl ManagedFieldsEntry {
    /// Whether `other` is the same manager: same name, operation and subresource, and for
    /// updates the same apiVersion (an applier keeps one entry across versions).
    pub fn same_manager(&self, other: &ManagedFieldsEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// Upstream's manager identifier, the JSON of the entry without its fields, time and
    /// (for appliers) apiVersion; managers are sorted by it in conflict messages.
    pub fn identifier(&self) -> String {
        let mut out = String::from("{");
        let field = |out: &mut String, name: &str, value: &str| {
            if value.is_empty() {
                return;
            }
            if out.len() > 1 {
                out.push(',');
            }
            write_json_string(out, name);
            out.push(':');
            write_json_string(out, value);
        };
        field(&mut out, "manager", &self.manager);
        field(&mut out, "operation", self.operation.as_str());
        if self.operation == Operation::Update {
            field(&mut out, "apiVersion", &self.api_version);
        }
        field(
            &mut out,
            "subresource",
            self.subresource.as_deref().unwrap_or(""),
        );
        out.push('}');
        out
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        if !self.manager.is_empty() {
            entry.insert("manager".into(), self.manager.clone().into());
        }
        entry.insert("operation".into(), self.operation.as_str().into());
        if !self.api_version.is_empty() {
            entry.insert("apiVersion".into(), self.api_version.clone().into());
        }
        if let Some(time) = &self.time {
            entry.insert("time".into(), time.clone().into());
        }
        entry.insert("fieldsType".into(), "FieldsV1".into());
        entry.insert("fieldsV1".into(), fields_v1::encode(&self.fields));
        if let Some(subresource) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            entry.insert("subresource".into(), subresource.into());
        }
        Value::Object(entry)
    }

    fn unix_seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp())
    }
}

/// The managed fields of an object, one entry per manager.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManagedFields {
    pub entries: Vec<ManagedFieldsEntry>,
}

/// Why `metadata.managedFields` could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManagedFieldsError {
    #[error("managedFields must be a list")]
    NotAList,
    #[error("managed fields entry {0} must be an object")]
    NotAnObject(usize),
    #[error("operation must be `Apply` or `Update`")]
    Operation,
    #[error("apiVersion must not be empty")]
    ApiVersion,
    #[error("missing fieldsType in managed fields entry {0}")]
    MissingFieldsType(usize),
    #[error("invalid fieldsType {0:?} in managed fields entry {1}")]
    FieldsType(String, usize),
    #[error("invalid {field} in managed fields entry {index}")]
    Field { field: &'static str, index: usize },
    #[error("error decoding set: {0}")]
    Set(#[from] fields_v1::FieldsV1Error),
}

impl ManagedFields {
    /// Reads `metadata.managedFields` of `object`; absent or null means none.
    pub fn of(object: &Value) -> Result<ManagedFields, ManagedFieldsError> {
        match object.pointer("/metadata/managedFields") {
            None | Some(Value::Null) => Ok(ManagedFields::default()),
            Some(list) => ManagedFields::decode(list),
        }
    }

    /// Reads a `managedFields` list. A later entry of the same manager replaces an earlier
    /// one.
    pub fn decode(list: &Value) -> Result<ManagedFields, ManagedFieldsError> {
        let items = list.as_array().ok_or(ManagedFieldsError::NotAList)?;
        let mut managed = ManagedFields::default();
        for (index, item) in items.iter().enumerate() {
            managed.put(decode_entry(item, index)?);
        }
        Ok(managed)
    }

    /// Whether a `managedFields` value sent by a client asks to drop all managed fields:
    /// an empty list, or a list with one empty entry.
    pub fn is_reset(list: Option<&Value>) -> bool {
        match list.and_then(Value::as_array).map(Vec::as_slice) {
            Some([]) => true,
            Some([only]) => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        }
    }

    /// The `managedFields` list in upstream's order: appliers first, then by time,
    /// manager, apiVersion and subresource. `None` when there are no entries.
    pub fn encode(&self) -> Option<Value> {
        if self.entries.is_empty() {
            return None;
        }
        let mut entries: Vec<&ManagedFieldsEntry> = self.entries.iter().collect();
        entries.sort_by(|p, q| sort_order(p, q));
        Some(Value::Array(
            entries.into_iter().map(|e| e.to_json()).collect(),
        ))
    }

    /// Writes the entries to `object`'s `metadata.managedFields`, removing the field when
    /// there are none.
    pub fn write_to(&self, object: &mut Value) {
        let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            if let (Some(list), Some(root)) = (self.encode(), object.as_object_mut()) {
                let mut metadata = Map::new();
                metadata.insert("managedFields".into(), list);
                root.insert("metadata".into(), Value::Object(metadata));
            }
            return;
        };
        match self.encode() {
            Some(list) => {
                metadata.insert("managedFields".into(), list);
            }
            None => {
                metadata.shift_remove("managedFields");
            }
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of the manager `like` names.
    pub fn get(&self, like: &ManagedFieldsEntry) -> Option<&ManagedFieldsEntry> {
        self.entries.iter().find(|e| e.same_manager(like))
    }

    /// Adds `entry`, replacing the entry of the same manager.
    pub fn put(&mut self, entry: ManagedFieldsEntry) {
        match self.entries.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// Removes and returns the entry of the manager `like` names.
    pub fn take(&mut self, like: &ManagedFieldsEntry) -> Option<ManagedFieldsEntry> {
        let at = self.entries.iter().position(|e| e.same_manager(like))?;
        Some(self.entries.remove(at))
    }

    /// Drops entries that own nothing.
    pub fn drop_empty(&mut self) {
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Folds the oldest update entries into one `ancient-changes` entry per apiVersion
    /// until at most `max` update entries remain, as upstream caps them.
    pub fn cap_updaters(&mut self, max: usize) {
        let mut updaters: Vec<ManagedFieldsEntry> = Vec::new();
        let mut rest = Vec::new();
        for entry in self.entries.drain(..) {
            if entry.operation == Operation::Update {
                updaters.push(entry);
            } else {
                rest.push(entry);
            }
        }
        if updaters.len() > max {
            updaters.sort_by(|p, q| {
                p.unix_seconds()
                    .cmp(&q.unix_seconds())
                    .then_with(|| p.identifier().cmp(&q.identifier()))
            });
            updaters = fold_oldest(updaters, max);
        }
        self.entries = rest;
        self.entries.extend(updaters);
    }
}

/// Merges the oldest entries (sorted oldest first) into buckets: per apiVersion the first
/// old entry becomes the bucket once a second one joins it.
fn fold_oldest(updaters: Vec<ManagedFieldsEntry>, max: usize) -> Vec<ManagedFieldsEntry> {
    let mut remaining = updaters.len();
    let mut kept: Vec<ManagedFieldsEntry> = Vec::new();
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    for entry in updaters {
        if remaining <= max {
            kept.push(entry);
            continue;
        }
        let version = entry.api_version.clone();
        match first_of_version.iter().find(|(v, _)| *v == version) {
            Some((_, at)) => {
                let bucket = &mut kept[*at];
                bucket.manager = "ancient-changes".into();
                bucket.subresource = None;
                bucket.fields = entry.fields.union(&bucket.fields);
                bucket.time = entry.time;
                remaining -= 1;
            }
            None => {
                first_of_version.push((version, kept.len()));
                kept.push(entry);
            }
        }
    }
    kept
}

fn sort_order(p: &ManagedFieldsEntry, q: &ManagedFieldsEntry) -> Ordering {
    p.operation
        .cmp(&q.operation)
        .then_with(|| p.unix_seconds().cmp(&q.unix_seconds()))
        .then_with(|| p.manager.cmp(&q.manager))
        .then_with(|| p.api_version.cmp(&q.api_version))
        .then_with(|| {
            let (a, b) = (p.subresource.as_deref(), q.subresource.as_deref());
            a.unwrap_or("").cmp(b.unwrap_or(""))
        })
}

fn decode_entry(item: &Value, index: usize) -> Result<ManagedFieldsEntry, ManagedFieldsError> {
    let entry = item
        .as_object()
        .ok_or(ManagedFieldsError::NotAnObject(index))?;
    let text = |field: &'static str| -> Result<String, ManagedFieldsError> {
        match entry.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ManagedFieldsError::Field { field, index }),
        }
    };
    let operation = match text("operation")?.as_str() {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return Err(ManagedFieldsError::Operation),
    };
    let api_version = text("apiVersion")?;
    if api_version.is_empty() {
        return Err(ManagedFieldsError::ApiVersion);
    }
    match text("fieldsType")?.as_str() {
        "FieldsV1" => {}
        "" => return Err(ManagedFieldsError::MissingFieldsType(index)),
        other => return Err(ManagedFieldsError::FieldsType(other.into(), index)),
    }
    let time = match text("time")?.as_str() {
        "" => None,
        time => Some(normalize_time(time).ok_or(ManagedFieldsError::Field {
            field: "time",
            index,
        })?),
    };
    let fields = match entry.get("fieldsV1") {
        None => FieldSet::new(),
        Some(document) => fields_v1::decode(document)?,
    };
    let subresource = Some(text("subresource")?).filter(|s| !s.is_empty());
    Ok(ManagedFieldsEntry {
        manager: text("manager")?,
        operation,
        api_version,
        time,
        fields,
        subresource,
    })
}

/// An RFC 3339 time as upstream writes it: UTC, whole seconds.
pub(super) fn normalize_time(time: &str) -> Option<String> {
    let parsed = DateTime::parse_from_rfc3339(time).ok()?;
    Some(
        parsed
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(manager: &str, operation: &str, time: &str) -> Value {
        json!({
            "manager": manager, "operation": operation, "apiVersion": "apps/v1",
            "time": time, "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}
        })
    }

    #[test]
    fn entries_round_trip_in_upstream_order() {
        let list = json!([
            entry("kube-controller-manager", "Update", "2024-05-01T10:00:00Z"),
            entry("kubectl", "Apply", "2024-05-02T10:00:00Z"),
            entry("kubectl-edit", "Update", "2024-05-01T09:00:00Z")
        ]);
        let managed = ManagedFields::decode(&list).expect("valid");
        let encoded = managed.encode().expect("entries");
        let managers: Vec<&str> = encoded
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(
            managers,
            ["kubectl", "kubectl-edit", "kube-controller-manager"]
        );
        assert_eq!(
            encoded[0],
            entry("kubectl", "Apply", "2024-05-02T10:00:00Z")
        );
        let keys: Vec<&String> = encoded[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "manager",
                "operation",
                "apiVersion",
                "time",
                "fieldsType",
                "fieldsV1"
            ]
        );
    }

    #[test]
    fn malformed_entries_are_rejected() {
        let mut bad = entry("m", "Patch", "2024-05-01T10:00:00Z");
        assert_eq!(
            ManagedFields::decode(&json!([bad.clone()])),
            Err(ManagedFieldsError::Operation)
        );
        bad["operation"] = json!("Update");
        bad["fieldsType"] = json!("FieldsV2");
        assert!(ManagedFields::decode(&json!([bad.clone()])).is_err());
        bad["fieldsType"] = json!("FieldsV1");
        bad["apiVersion"] = json!("");
        assert_eq!(
            ManagedFields::decode(&json!([bad])),
            Err(ManagedFieldsError::ApiVersion)
        );
        assert!(ManagedFields::decode(&json!({})).is_err());
    }

    #[test]
    fn resets_are_an_empty_list_or_one_empty_entry() {
        assert!(ManagedFields::is_reset(Some(&json!([]))));
        assert!(ManagedFields::is_reset(Some(&json!([{}]))));
        assert!(!ManagedFields::is_reset(Some(&json!([{}, {}]))));
        assert!(!ManagedFields::is_reset(None));
        assert!(!ManagedFields::is_reset(Some(&Value::Null)));
    }

    #[test]
    fn identifiers_omit_the_apply_api_version() {
        let managed = ManagedFields::decode(&json!([
            entry("kubectl", "Apply", "2024-05-02T10:00:00Z"),
            entry("kubectl", "Update", "2024-05-02T10:00:00Z")
        ]))
        .unwrap();
        assert_eq!(
            managed.entries[0].identifier(),
            r#"{"manager":"kubectl","operation":"Apply"}"#
        );
        assert_eq!(
            managed.entries[1].identifier(),
            r#"{"manager":"kubectl","operation":"Update","apiVersion":"apps/v1"}"#
        );
    }

    #[test]
    fn the_oldest_updaters_fold_into_ancient_changes() {
        let list: Vec<Value> = (0..12)
            .map(|i| {
                entry(
                    &format!("m{i:02}"),
                    "Update",
                    &format!("2024-05-01T10:00:{i:02}Z"),
                )
            })
            .collect();
        let mut managed = ManagedFields::decode(&Value::Array(list)).unwrap();
        managed.cap_updaters(10);
        let mut names: Vec<&str> = managed.entries.iter().map(|e| e.manager.as_str()).collect();
        names.sort();
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "ancient-changes");
        assert!(!names.contains(&"m00") && !names.contains(&"m01") && !names.contains(&"m02"));
        let ancient = managed
            .entries
            .iter()
            .find(|e| e.manager == "ancient-changes")
            .unwrap();
        assert_eq!(ancient.time.as_deref(), Some("2024-05-01T10:00:02Z"));
    }

    #[test]
    fn times_are_normalized_to_utc_seconds() {
        assert_eq!(
            normalize_time("2024-05-01T12:00:00.75+02:00").as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(normalize_time("yesterday"), None);
    }
}
