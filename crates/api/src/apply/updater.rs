//! The two operations on managed fields: recording an update (create, update, patch) and
//! applying a configuration, following upstream's structured-merge-diff `Updater` and the
//! field manager layers around it (stripped metadata, update entries merged per manager,
//! capped update entries, `before-first-apply`).

use std::sync::OnceLock;

use serde_json::Value;

use super::Request;
use super::compare::{Comparison, compare};
use super::error::{ApplyError, Conflict, Conflicts};
use super::fieldset::FieldSet;
use super::managed::{ManagedFields, ManagedFieldsEntry, Operation};
use super::merge::{equal_but_managed_fields, merge_into_live, remove_items};
use super::path::{Path, PathElement};
use super::schema::ApplySchema;
use super::typed::field_set;

/// At most this many update entries are kept; older ones fold into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that takes over the fields of an object applied to for the first time.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Fields no manager owns: identity and bookkeeping of the object.
fn stripped() -> &'static FieldSet {
    static SET: OnceLock<FieldSet> = OnceLock::new();
    SET.get_or_init(|| {
        let field = |name: &str| PathElement::field(name);
        let mut paths = vec![
            Path(vec![field("apiVersion")]),
            Path(vec![field("kind")]),
            Path(vec![field("metadata")]),
        ];
        for name in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            paths.push(Path(vec![field("metadata"), field(name)]));
        }
        FieldSet::from_paths(paths)
    })
}

/// The entry of the request's manager for `operation`, owning nothing yet.
fn entry_for<S>(
    request: &Request<'_, S>,
    manager: &str,
    operation: Operation,
) -> ManagedFieldsEntry {
    ManagedFieldsEntry {
        manager: if manager.is_empty() {
            "unknown".into()
        } else {
            manager.into()
        },
        operation,
        api_version: request.api_version.into(),
        time: None,
        fields: FieldSet::new(),
        subresource: request
            .subresource
            .filter(|s| !s.is_empty())
            .map(String::from),
    }
}

fn compare_filtered<S: ApplySchema>(
    old: &Value,
    new: &Value,
    request: &Request<'_, S>,
) -> Comparison {
    compare(old, new, request.schema).without(request.reset_fields)
}

/// Records that `manager` changed `old` into `new` (operation Update): the fields it added
/// or modified become its own and leave every other entry, removed fields leave all
/// entries.
pub(super) fn record_update<S: ApplySchema>(
    old: &Value,
    new: &Value,
    managed: &mut ManagedFields,
    manager: &str,
    request: &Request<'_, S>,
) {
    let comparison = compare_filtered(old, new, request);
    let mut owned = comparison.changed();
    for entry in &mut managed.entries {
        entry.fields.subtract(&owned, false);
        entry.fields.subtract(&comparison.removed, false);
    }
    managed.drop_empty();

    owned.subtract(stripped(), false);
    if !owned.is_empty() {
        let mut entry = entry_for(request, manager, Operation::Update);
        entry.fields = match managed.take(&entry) {
            Some(previous) => owned.union(&previous.fields),
            None => owned,
        };
        entry.time = Some(request.now.to_string());
        managed.put(entry);
    }
    managed.cap_updaters(MAX_UPDATE_MANAGERS);
}

/// Applies `config` to `live` for the request's manager and returns the new object; its
/// `metadata.managedFields` are left for the caller to rewrite. `config` carries none.
pub(super) fn apply_config<S: ApplySchema>(
    live: &Value,
    live_exists: bool,
    config: &Value,
    managed: &mut ManagedFields,
    force: bool,
    request: &Request<'_, S>,
) -> Result<Value, ApplyError> {
    let schema = request.schema;

    // An object nobody has applied to yet is first owned by whoever made it so far.
    if managed.is_empty() && live_exists {
        let empty = Value::Object(Default::default());
        record_update(&empty, live, managed, BEFORE_FIRST_APPLY, request);
    }

    let merged = merge_into_live(live, config, schema).map_err(ApplyError::Merge)?;

    // From here on `managed` holds the other managers only.
    let applier = entry_for(request, request.manager, Operation::Apply);
    let (last, last_time) = match managed.take(&applier) {
        Some(previous) => (previous.fields, previous.time),
        None => (FieldSet::new(), None),
    };
    let mut applied = field_set(config, schema);
    if let Some(reset) = request.reset_fields {
        applied.subtract(reset, true);
    }

    let new = prune(merged, managed, &applied, &last, schema);
    take_ownership(live, &new, managed, force, request)?;

    let changed = !equal_but_managed_fields(live, &new);
    applied.subtract(stripped(), false);
    if !applied.is_empty() {
        managed.put(ManagedFieldsEntry {
            fields: applied,
            time: if changed {
                Some(request.now.to_string())
            } else {
                last_time
            },
            ..applier
        });
    }
    Ok(if changed { new } else { live.clone() })
}

/// Moves ownership to an applier: fields the apply changed leave the other managers (or
/// make the apply fail, without force), removed fields leave everyone.
fn take_ownership<S: ApplySchema>(
    live: &Value,
    new: &Value,
    others: &mut ManagedFields,
    force: bool,
    request: &Request<'_, S>,
) -> Result<(), ApplyError> {
    let comparison = compare_filtered(live, new, request);
    let changed = comparison.changed();
    if !force {
        let mut owners: Vec<&ManagedFieldsEntry> = others.entries.iter().collect();
        owners.sort_by_cached_key(|e| e.identifier());
        let conflicts: Vec<Conflict> = owners
            .into_iter()
            .flat_map(|owner| {
                let paths = owner.fields.intersection(&changed).paths();
                paths
                    .into_iter()
                    .map(move |path| Conflict::new(owner, path))
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(ApplyError::Conflicts(Conflicts(conflicts)));
        }
    }
    for entry in &mut others.entries {
        entry.fields.subtract(&changed, false);
        entry.fields.subtract(&comparison.removed, false);
    }
    others.drop_empty();
    Ok(())
}

/// Removes from `merged` the fields the applier applied last time (`last`) and no longer
/// applies (`applied` is what it applies now), unless another manager owns them
/// (upstream's prune with its two add-back passes).
fn prune<S: ApplySchema>(
    merged: Value,
    others: &ManagedFields,
    applied: &FieldSet,
    last: &FieldSet,
    schema: &S,
) -> Value {
    if last.is_empty() {
        return merged;
    }
    let named = |set: &FieldSet| set.ensure_named_fields_are_members(schema);
    let last = named(last);
    let applied = named(applied);

    // Every parent of a field in a configuration's set is in the set once named fields
    // are added, so when the applier still applies all it applied, nothing goes.
    if last.is_subset(&applied) {
        return merged;
    }
    let set_of = |value: &Option<Value>| match value {
        Some(v) => named(&field_set(v, schema)),
        None => FieldSet::new(),
    };
    let merged_set = named(&field_set(&merged, schema));

    // Everything the applier owned before goes, then what anyone still owns comes back.
    let pruned = remove_items(&merged, &last, schema);
    let owned = others
        .entries
        .iter()
        .fold(applied, |all, e| all.union(&named(&e.fields)));
    let unowned = merged_set.difference(&set_of(&pruned).union(&owned));
    let pruned = remove_items(&merged, &unowned, schema);

    // Only fields the applier owned before may be removed.
    let removed = merged_set.difference(&set_of(&pruned)).intersection(&last);
    if removed.is_empty() {
        return merged;
    }
    remove_items(&merged, &removed, schema).unwrap_or_else(|| Value::Object(Default::default()))
}
