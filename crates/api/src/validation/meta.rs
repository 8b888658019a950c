//! Object metadata rules shared by every kind: names, namespaces, labels, annotations,
//! owner references, finalizers, and what an update may not change.

use serde_json::{Map, Value};

use super::access::{arr_of, int_of, obj_of, str_of, string_of};
use super::field::{FieldError, Path};
use super::names::{self, NameRule};

/// Upper bound of the summed sizes of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;
pub const IMMUTABLE: &str = "field is immutable";

/// How one kind's metadata is checked.
#[derive(Clone, Copy, Debug)]
pub struct MetaRules {
    pub namespaced: bool,
    pub name: NameRule,
    /// Unqualified finalizer names must be one of the standard ones (all kinds but
    /// core/v1 events, which only get the generic checks).
    pub kube_finalizers: bool,
}

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Metadata checks of a new object.
pub fn validate_create(obj: &Value, rules: MetaRules, errs: &mut Vec<FieldError>) {
    let path = Path::new("metadata");
    let meta = obj.get("metadata").unwrap_or(&Value::Null);
    check_names(meta, rules, &path, errs);
    check_namespace(meta, rules, &path, errs);
    check_common(meta, &path, errs);
    check_finalizers(meta, rules, &path, errs);
}

/// Metadata checks of an update: those of a new object bar the name rules, plus what
/// may not change.
pub fn validate_update(new: &Value, old: &Value, rules: MetaRules, errs: &mut Vec<FieldError>) {
    let path = Path::new("metadata");
    let meta = new.get("metadata").unwrap_or(&Value::Null);
    let old_meta = old.get("metadata").unwrap_or(&Value::Null);
    if old_meta
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        check_no_new_finalizers(meta, old_meta, &path, errs);
    }
    if int_of(meta, "generation").unwrap_or(0) < int_of(old_meta, "generation").unwrap_or(0) {
        let generation = int_of(meta, "generation").unwrap_or(0);
        errs.push(FieldError::invalid(
            path.child("generation"),
            generation,
            "must not be decremented",
        ));
    }
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
    ] {
        immutable(
            meta.get(field),
            old_meta.get(field),
            &path.child(field),
            errs,
        );
    }
    immutable(
        meta.get("deletionGracePeriodSeconds"),
        old_meta.get("deletionGracePeriodSeconds"),
        &path.child("deletionGracePeriodSeconds"),
        errs,
    );
    check_common(meta, &path, errs);
    if rules.kube_finalizers {
        check_kube_finalizers(meta, &path, errs);
    }
}

/// `<path>: Invalid value: <new>: field is immutable` when the values differ; absent
/// and null count as the same.
pub fn immutable(
    new: Option<&Value>,
    old: Option<&Value>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let new = new.filter(|v| !v.is_null());
    let old = old.filter(|v| !v.is_null());
    if new != old {
        errs.push(FieldError::invalid(
            path,
            new.unwrap_or(&Value::Null),
            IMMUTABLE,
        ));
    }
}

fn check_names(meta: &Value, rules: MetaRules, path: &Path, errs: &mut Vec<FieldError>) {
    check_names_with(
        meta,
        path,
        |name, prefix| rules.name.check(name, prefix),
        errs,
    );
}

/// `generateName` and `name` of the metadata `meta` at `path`, each checked with
/// `check(name, is_prefix)`; one of them is required.
pub(crate) fn check_names_with(
    meta: &Value,
    path: &Path,
    check: impl Fn(&str, bool) -> Vec<String>,
    errs: &mut Vec<FieldError>,
) {
    let generate = string_of(meta, "generateName");
    if !generate.is_empty() {
        for msg in check(generate, true) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                generate,
                &msg,
            ));
        }
    }
    let name = string_of(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required_because(
            path.child("name"),
            "name or generateName is required",
        ));
        return;
    }
    for msg in check(name, false) {
        errs.push(FieldError::invalid(path.child("name"), name, &msg));
    }
}

fn check_namespace(meta: &Value, rules: MetaRules, path: &Path, errs: &mut Vec<FieldError>) {
    let ns = string_of(meta, "namespace");
    match (rules.namespaced, ns.is_empty()) {
        (true, true) => errs.push(FieldError::required(path.child("namespace"))),
        (true, false) => {
            for msg in names::dns1123_label(ns) {
                errs.push(FieldError::invalid(path.child("namespace"), ns, &msg));
            }
        }
        (false, false) => errs.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        )),
        (false, true) => {}
    }
}

/// Checks shared by create and update.
fn check_common(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(g) = int_of(meta, "generation").filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            path.child("generation"),
            g,
            "must be greater than or equal to 0",
        ));
    }
    validate_labels(obj_of(meta, "labels"), &path.child("labels"), errs);
    validate_annotations(
        obj_of(meta, "annotations"),
        &path.child("annotations"),
        errs,
    );
    check_owner_references(
        arr_of(meta, "ownerReferences"),
        &path.child("ownerReferences"),
        errs,
    );
    check_managed_fields(
        arr_of(meta, "managedFields"),
        &path.child("managedFields"),
        errs,
    );
}

/// Label keys are qualified names and values valid label values; all errors carry the
/// map's path.
pub fn validate_labels(
    labels: Option<&Map<String, Value>>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    for (k, v) in labels.into_iter().flatten() {
        validate_label_name(k, path, errs);
        let value = v.as_str().unwrap_or("");
        for msg in names::label_value(value) {
            errs.push(FieldError::invalid(path, value, &msg));
        }
    }
}

pub fn validate_label_name(key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for msg in names::qualified_name(key) {
        errs.push(FieldError::invalid(path, key, &msg));
    }
}

pub fn validate_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut total = 0;
    for (k, v) in annotations.into_iter().flatten() {
        for msg in names::qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), &msg));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE));
    }
}

fn check_owner_references(refs: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut controller: Option<String> = None;
    for r in refs {
        check_owner_reference(r, path, errs);
        if r.get("controller").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let current = format!("{}/{}", string_of(r, "kind"), string_of(r, "name"));
        match &controller {
            Some(first) => errs.push(FieldError::invalid(
                path,
                &Value::Array(refs.to_vec()),
                &format!(
                    "Only one reference can have Controller set to true. Found \"true\" in \
                     references for {first} and {current}"
                ),
            )),
            None => controller = Some(current),
        }
    }
}

fn check_owner_reference(r: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let api_version = string_of(r, "apiVersion");
    let version = api_version.rsplit('/').next().unwrap_or("");
    if version.is_empty() {
        errs.push(FieldError::invalid(
            path.child("apiVersion"),
            api_version,
            "version must not be empty",
        ));
    }
    for field in ["kind", "name", "uid"] {
        let value = string_of(r, field);
        if value.is_empty() {
            errs.push(FieldError::invalid(
                path.child(field),
                value,
                "must not be empty",
            ));
        }
    }
    if api_version == "v1" && string_of(r, "kind") == "Event" {
        errs.push(FieldError::invalid(
            path,
            r,
            "/v1, Kind=Event is disallowed from being an owner",
        ));
    }
}

fn check_managed_fields(entries: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, entry) in entries.iter().enumerate() {
        let p = path.index(i);
        let op = string_of(entry, "operation");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(
                p.child("operation"),
                op,
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = string_of(entry, "fieldsType");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errs.push(FieldError::invalid(
                p.child("fieldsType"),
                fields_type,
                "must be `FieldsV1`",
            ));
        }
        if string_of(entry, "manager").len() > 128 {
            errs.push(FieldError::too_long(p.child("manager"), 128));
        }
    }
}

fn check_finalizers(meta: &Value, rules: MetaRules, path: &Path, errs: &mut Vec<FieldError>) {
    let list = finalizers(meta);
    let fpath = path.child("finalizers");
    for f in &list {
        for msg in names::qualified_name(f) {
            errs.push(FieldError::invalid(&fpath, *f, &msg));
        }
    }
    if list.contains(&"orphan") && list.contains(&"foregroundDeletion") {
        let value: Vec<Value> = list.iter().map(|f| Value::from(*f)).collect();
        errs.push(FieldError::invalid(
            &fpath,
            &Value::Array(value),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if rules.kube_finalizers {
        check_kube_finalizers(meta, path, errs);
    }
}

fn check_kube_finalizers(meta: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for (i, f) in finalizers(meta).into_iter().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
            errs.push(FieldError::invalid(
                path.child("finalizers").index(i),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

fn finalizers(meta: &Value) -> Vec<&str> {
    arr_of(meta, "finalizers")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn check_no_new_finalizers(meta: &Value, old: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let before = finalizers(old);
    let mut added: Vec<&str> = finalizers(meta)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if added.is_empty() {
        return;
    }
    added.sort();
    added.dedup();
    let list: Vec<String> = added.iter().map(|f| super::field::go_quote(f)).collect();
    errs.push(FieldError::forbidden(
        path.child("finalizers"),
        &format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers \
             []string{{{}}}",
            list.join(", ")
        ),
    ));
}

/// Checks a `metav1.LabelSelector`: its match labels and its expressions.
pub fn validate_label_selector(sel: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    validate_labels(obj_of(sel, "matchLabels"), &path.child("matchLabels"), errs);
    for (i, expr) in arr_of(sel, "matchExpressions").iter().enumerate() {
        validate_requirement(expr, &path.child("matchExpressions").index(i), errs);
    }
}

fn validate_requirement(expr: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let values = arr_of(expr, "values");
    match string_of(expr, "operator") {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required_because(
            path.child("values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errs.push(FieldError::invalid(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    validate_label_name(string_of(expr, "key"), &path.child("key"), errs);
    for (i, v) in values.iter().enumerate() {
        let value = v.as_str().unwrap_or("");
        for msg in names::label_value(value) {
            errs.push(FieldError::invalid(
                path.child("values").index(i),
                value,
                &msg,
            ));
        }
    }
}

/// What a label selector selects, after upstream's conversion of the JSON form.
pub enum Selection {
    /// A missing selector selects nothing.
    Nothing,
    /// An empty selector selects everything.
    Everything,
    Requirements,
    /// The selector has an unknown operator or other fault.
    Invalid,
}

pub fn selection(sel: Option<&Value>) -> Selection {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Selection::Nothing;
    };
    let labels = obj_of(sel, "matchLabels").map_or(0, Map::len);
    let exprs = arr_of(sel, "matchExpressions");
    if labels + exprs.len() == 0 {
        return Selection::Everything;
    }
    let valid = exprs.iter().all(|e| match string_of(e, "operator") {
        "In" | "NotIn" => !arr_of(e, "values").is_empty(),
        "Exists" | "DoesNotExist" => arr_of(e, "values").is_empty(),
        _ => false,
    });
    if valid {
        Selection::Requirements
    } else {
        Selection::Invalid
    }
}

/// Whether a label selector (JSON form) selects the given labels.
pub fn selector_matches(sel: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let match_labels = obj_of(sel, "matchLabels").into_iter().flatten();
    let labels_ok = match_labels.into_iter().all(|(k, v)| get(k) == v.as_str());
    labels_ok
        && arr_of(sel, "matchExpressions").iter().all(|e| {
            let key = string_of(e, "key");
            let values: Vec<&str> = arr_of(e, "values")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            match string_of(e, "operator") {
                "In" => get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => get(key).is_some(),
                "DoesNotExist" => get(key).is_none(),
                _ => false,
            }
        })
}

/// The labels of an object or template, if any.
pub fn labels_of(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(|m| obj_of(m, "labels"))
}

/// The name of an object.
pub fn name_of(obj: &Value) -> &str {
    obj.get("metadata")
        .and_then(|m| str_of(m, "name"))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POD: MetaRules = MetaRules {
        namespaced: true,
        name: NameRule::Subdomain,
        kube_finalizers: true,
    };

    fn create_errs(meta: Value) -> Vec<String> {
        let mut errs = Vec::new();
        validate_create(&json!({ "metadata": meta }), POD, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn missing_name_is_required() {
        assert_eq!(
            create_errs(json!({"namespace": "default"})),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
    }

    #[test]
    fn uppercase_names_are_invalid() {
        let errs = create_errs(json!({"name": "Foo", "namespace": "default"}));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain"
            )
        );
    }

    #[test]
    fn bad_generate_name_prefix_is_reported() {
        let errs =
            create_errs(json!({"name": "web-abcde", "generateName": "Web-", "namespace": "d"}));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("metadata.generateName: Invalid value: \"Web-\""));
    }

    #[test]
    fn namespaced_objects_need_a_namespace() {
        assert_eq!(
            create_errs(json!({"name": "a"})),
            vec!["metadata.namespace: Required value"]
        );
    }

    #[test]
    fn label_values_longer_than_63_bytes_are_invalid() {
        let errs =
            create_errs(json!({"name": "a", "namespace": "d", "labels": {"k": "v".repeat(64)}}));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("metadata.labels: Invalid value: \"vvvv"));
        assert!(errs[0].ends_with("must be no more than 63 bytes"));
    }

    #[test]
    fn oversized_annotations_are_too_long() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE);
        let errs = create_errs(json!({"name": "a", "namespace": "d", "annotations": {"k": big}}));
        assert_eq!(
            errs,
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn unqualified_unknown_finalizers_are_invalid() {
        let errs = create_errs(
            json!({"name": "a", "namespace": "d", "finalizers": ["foo", "example.com/x"]}),
        );
        assert_eq!(
            errs,
            vec![
                "metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard \
                 finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn renaming_on_update_is_immutable() {
        let mut errs = Vec::new();
        let old = json!({"metadata": {"name": "a", "namespace": "d"}});
        let new = json!({"metadata": {"name": "b", "namespace": "d"}});
        validate_update(&new, &old, POD, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Invalid value: \"b\": field is immutable"
        );
    }

    #[test]
    fn finalizers_cannot_be_added_while_deleting() {
        let mut errs = Vec::new();
        let old = json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        let new = json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z",
            "finalizers": ["example.com/x"]}});
        validate_update(&new, &old, POD, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being \
             deleted, found new finalizers []string{\"example.com/x\"}"
        );
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let sel = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]});
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(&sel, labels.as_object()));
        let labels = json!({"app": "web", "tier": "db"});
        assert!(!selector_matches(&sel, labels.as_object()));
    }

    #[test]
    fn selector_operators_are_checked() {
        let mut errs = Vec::new();
        let sel = json!({"matchExpressions": [{"key": "a", "operator": "Maybe"}]});
        validate_label_selector(&sel, &Path::new("spec.selector"), &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Maybe\": not a valid selector operator"
        );
    }
}
