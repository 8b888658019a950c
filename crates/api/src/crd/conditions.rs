//! A CRD's status: the names it is granted (`status.acceptedNames`), its conditions
//! (`NamesAccepted`, `Established`, `Terminating`), and the status the API server sets
//! on create and update (`status.storedVersions`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::info::{CrdInfo, CrdNames};
use crate::validation::BadValue;

/// Condition types.
pub const NAMES_ACCEPTED: &str = "NamesAccepted";
pub const ESTABLISHED: &str = "Established";
pub const TERMINATING: &str = "Terminating";

/// One entry of `status.conditions` (the transition time is set by [`set_condition`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    fn new(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The names other CRDs of the same group already hold: their accepted plurals,
/// singulars and short names (`resources`), kinds and list kinds (`kinds`).
#[derive(Clone, Debug, Default)]
pub struct TakenNames {
    pub resources: HashSet<String>,
    pub kinds: HashSet<String>,
}

impl TakenNames {
    /// Collects the accepted names of the given CRDs that are in `group`.
    pub fn of_group<'a>(group: &str, crds: impl IntoIterator<Item = &'a Value>) -> TakenNames {
        let mut taken = TakenNames::default();
        for crd in crds {
            if crd.pointer("/spec/group").and_then(Value::as_str) != Some(group) {
                continue;
            }
            let accepted =
                CrdNames::from_value(crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null));
            taken.resources.insert(accepted.plural);
            taken.resources.insert(accepted.singular);
            taken.resources.extend(accepted.short_names);
            taken.kinds.insert(accepted.kind);
            taken.kinds.insert(accepted.list_kind);
        }
        taken
    }
}

/// The outcome of the naming check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamesOutcome {
    pub accepted_names: CrdNames,
    pub names_accepted: Condition,
    pub established: Condition,
}

fn fresh(requested: &str, accepted: &str, used: &HashSet<String>) -> Result<(), String> {
    if requested == accepted || !used.contains(requested) {
        return Ok(());
    }
    Err(format!("{} is already in use", BadValue::from(requested)))
}

/// Which requested names the CRD is granted, given the names other CRDs of its group
/// hold, and the resulting `NamesAccepted` and `Established` conditions.
pub fn compute_names(crd: &Value, taken: &TakenNames) -> NamesOutcome {
    let requested = CrdInfo::from_value(crd).names;
    let accepted =
        CrdNames::from_value(crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null));
    let mut names = accepted.clone();
    let mut conflict: Option<(&str, String)> = None;

    match fresh(&requested.plural, &accepted.plural, &taken.resources) {
        Ok(()) => names.plural = requested.plural.clone(),
        Err(e) => conflict = Some(("PluralConflict", e)),
    }
    match fresh(&requested.singular, &accepted.singular, &taken.resources) {
        Ok(()) => names.singular = requested.singular.clone(),
        Err(e) => conflict = Some(("SingularConflict", e)),
    }
    if requested.short_names != accepted.short_names {
        let errs: Vec<String> = requested
            .short_names
            .iter()
            .filter(|s| !accepted.short_names.contains(s))
            .filter_map(|s| fresh(s, "", &taken.resources).err())
            .collect();
        match errs.len() {
            0 => names.short_names = requested.short_names.clone(),
            1 => conflict = Some(("ShortNamesConflict", errs[0].clone())),
            _ => conflict = Some(("ShortNamesConflict", format!("[{}]", errs.join(", ")))),
        }
    }
    match fresh(&requested.kind, &accepted.kind, &taken.kinds) {
        Ok(()) => names.kind = requested.kind.clone(),
        Err(e) => conflict = Some(("KindConflict", e)),
    }
    match fresh(&requested.list_kind, &accepted.list_kind, &taken.kinds) {
        Ok(()) => names.list_kind = requested.list_kind.clone(),
        Err(e) => conflict = Some(("ListKindConflict", e)),
    }
    names.categories = requested.categories.clone();

    let names_accepted = match &conflict {
        Some((reason, message)) => Condition::new(NAMES_ACCEPTED, "False", reason, message),
        None => Condition::new(NAMES_ACCEPTED, "True", "NoConflicts", "no conflicts found"),
    };
    let mut established = find_condition(crd, ESTABLISHED).unwrap_or_else(|| {
        Condition::new(
            ESTABLISHED,
            "False",
            "NotAccepted",
            "not all names are accepted",
        )
    });
    if established.status != "True" && conflict.is_none() {
        established = Condition::new(
            ESTABLISHED,
            "False",
            "Installing",
            "the initial names have been accepted",
        );
    }
    NamesOutcome {
        accepted_names: names,
        names_accepted,
        established,
    }
}

/// `Established` once the API serves the resource.
pub fn established() -> Condition {
    Condition::new(
        ESTABLISHED,
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    )
}

/// `Terminating` when the CRD is marked for deletion.
pub fn terminating_pending() -> Condition {
    Condition::new(
        TERMINATING,
        "True",
        "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
    )
}

/// `Terminating` while its custom resources are deleted.
pub fn terminating_in_progress() -> Condition {
    Condition::new(
        TERMINATING,
        "True",
        "InstanceDeletionInProgress",
        "CustomResource deletion is in progress",
    )
}

/// `Terminating` when deleting the custom resources failed (`could not list instances: ...`).
pub fn terminating_failed(message: &str) -> Condition {
    Condition::new(TERMINATING, "True", "InstanceDeletionFailed", message)
}

/// `Terminating` once no custom resource is left.
pub fn terminating_completed() -> Condition {
    Condition::new(
        TERMINATING,
        "False",
        "InstanceDeletionCompleted",
        "removed all instances",
    )
}

/// A condition of the CRD's status.
pub fn find_condition(crd: &Value, type_: &str) -> Option<Condition> {
    let conds = crd.pointer("/status/conditions")?.as_array()?;
    let c = conds
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some(Condition {
        type_: f("type"),
        status: f("status"),
        reason: f("reason"),
        message: f("message"),
    })
}

/// Whether a condition is `True`.
pub fn is_condition_true(crd: &Value, type_: &str) -> bool {
    find_condition(crd, type_).is_some_and(|c| c.status == "True")
}

fn status_mut(crd: &mut Value) -> Option<&mut Map<String, Value>> {
    let obj = crd.as_object_mut()?;
    let status = obj.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    status.as_object_mut()
}

/// Sets a condition; its `lastTransitionTime` becomes `now` when the status changes
/// (or the condition is new).
pub fn set_condition(crd: &mut Value, cond: &Condition, now: &str) {
    let Some(status) = status_mut(crd) else {
        return;
    };
    let conds = status.entry("conditions").or_insert_with(|| json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    let Some(list) = conds.as_array_mut() else {
        return;
    };
    let existing = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(cond.type_.as_str()));
    match existing {
        Some(c) => {
            let changed = c.get("status").and_then(Value::as_str) != Some(cond.status.as_str());
            if changed || c.get("lastTransitionTime").is_none_or(Value::is_null) {
                c["lastTransitionTime"] = Value::from(now);
            }
            c["status"] = Value::from(cond.status.as_str());
            c["reason"] = Value::from(cond.reason.as_str());
            c["message"] = Value::from(cond.message.as_str());
        }
        None => list.push(json!({
            "type": cond.type_,
            "status": cond.status,
            "lastTransitionTime": now,
            "reason": cond.reason,
            "message": cond.message,
        })),
    }
}

/// Writes `status.acceptedNames`.
pub fn set_accepted_names(crd: &mut Value, names: &CrdNames) {
    if let Some(status) = status_mut(crd) {
        status.insert("acceptedNames".into(), names.to_value());
    }
}

/// What the API server does to a new CRD before validating it: a fresh status holding
/// the storage version in `storedVersions`, and generation 1.
pub fn prepare_for_create(crd: &mut Value) {
    let storage = CrdInfo::from_value(crd)
        .storage_version()
        .map(|v| v.name.clone());
    let Some(obj) = crd.as_object_mut() else {
        return;
    };
    let stored: Vec<String> = storage.into_iter().collect();
    obj.insert(
        "status".into(),
        json!({"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored}),
    );
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("generation".into(), Value::from(1));
    }
}

/// What the API server does to an updated CRD before validating it: the status stays
/// the old one, the storage version joins `storedVersions`, and the generation grows
/// when the spec changed.
pub fn prepare_for_update(new: &mut Value, old: &Value) {
    let storage = CrdInfo::from_value(new)
        .storage_version()
        .map(|v| v.name.clone());
    let spec_changed = new.get("spec") != old.get("spec");
    let old_generation = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let Some(obj) = new.as_object_mut() else {
        return;
    };
    let mut status = old.get("status").cloned().unwrap_or_else(|| json!({}));
    if let Some(name) = storage {
        let stored = &mut status["storedVersions"];
        if !stored.is_array() {
            *stored = json!([]);
        }
        if let Some(list) = stored.as_array_mut()
            && !list.iter().any(|v| v.as_str() == Some(name.as_str()))
        {
            list.push(Value::from(name));
        }
    }
    obj.insert("status".into(), status);
    let generation = if spec_changed {
        old_generation + 1
    } else {
        old_generation
    };
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("generation".into(), Value::from(generation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str, kind: &str) -> Value {
        json!({
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "names": {
                "plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind,
                "listKind": format!("{kind}List"), "shortNames": ["w"]
            }}
        })
    }

    #[test]
    fn fresh_names_are_accepted() {
        let out = compute_names(&crd("widgets", "Widget"), &TakenNames::default());
        assert_eq!(
            out.names_accepted,
            Condition::new(NAMES_ACCEPTED, "True", "NoConflicts", "no conflicts found")
        );
        assert_eq!(out.accepted_names.plural, "widgets");
        assert_eq!(out.established.reason, "Installing");
    }

    #[test]
    fn a_plural_in_use_is_a_conflict() {
        let mut other = crd("widgets", "Gadget");
        other["status"] = json!({"acceptedNames": {"plural": "widgets", "kind": "Gadget"}});
        let taken = TakenNames::of_group("example.com", [&other]);
        let out = compute_names(&crd("widgets", "Widget"), &taken);
        assert_eq!(out.names_accepted.status, "False");
        assert_eq!(out.names_accepted.reason, "PluralConflict");
        assert_eq!(out.names_accepted.message, "\"widgets\" is already in use");
        assert_eq!(out.accepted_names.plural, "");
        assert_eq!(out.established.reason, "NotAccepted");
    }

    #[test]
    fn conditions_keep_their_transition_time_while_status_holds() {
        let mut c = crd("widgets", "Widget");
        set_condition(&mut c, &established(), "t1");
        set_condition(&mut c, &established(), "t2");
        assert_eq!(c["status"]["conditions"][0]["lastTransitionTime"], "t1");
        assert!(is_condition_true(&c, ESTABLISHED));
    }

    #[test]
    fn create_records_the_storage_version() {
        let mut c = json!({"metadata": {"name": "a"}, "spec": {"versions": [{"name": "v1", "storage": true}]}});
        prepare_for_create(&mut c);
        assert_eq!(c["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(c["metadata"]["generation"], 1);
    }
}
