//! apps/v1 rules: Deployments, ReplicaSets, DaemonSets and StatefulSets (selectors that
//! match their templates, rollout strategies) and ControllerRevisions.

use serde_json::Value;

use super::access::{at, has, int_of, obj_of, string_of};
use super::common::{Errs, nonnegative};
use super::field::{FieldError, Path};
use super::meta::{self, Selection};
use super::names;
use super::pod;

const NO_MATCH: &str = "`selector` does not match template `labels`";

pub fn validate_deployment(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    nonnegative(int_of(spec, "replicas"), &path.child("replicas"), errs);
    replica_set_like(spec, &path, "deployment", "ReplicaSet", errs);
    deployment_strategy(
        spec.get("strategy").unwrap_or(&Value::Null),
        &path.child("strategy"),
        errs,
    );
    nonnegative(
        int_of(spec, "minReadySeconds"),
        &path.child("minReadySeconds"),
        errs,
    );
    nonnegative(
        int_of(spec, "revisionHistoryLimit"),
        &path.child("revisionHistoryLimit"),
        errs,
    );
    if let Some(deadline) = int_of(spec, "progressDeadlineSeconds") {
        let p = path.child("progressDeadlineSeconds");
        nonnegative(Some(deadline), &p, errs);
        if deadline <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                p,
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

pub fn validate_replica_set(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    nonnegative(int_of(spec, "replicas"), &path.child("replicas"), errs);
    nonnegative(
        int_of(spec, "minReadySeconds"),
        &path.child("minReadySeconds"),
        errs,
    );
    replica_set_like(spec, &path, "deployment", "ReplicaSet", errs);
}

/// The selector of Deployments and ReplicaSets (upstream words the empty-selector error
/// for deployments in both) and their template.
fn replica_set_like(spec: &Value, path: &Path, noun: &str, owner: &str, errs: &mut Errs) {
    let sel_path = path.child("selector");
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(&sel_path)),
        Some(sel) => {
            meta::validate_label_selector(sel, &sel_path, errs);
            if matches!(meta::selection(Some(sel)), Selection::Everything) {
                let msg = format!("empty selector is invalid for {noun}");
                errs.push(FieldError::invalid(&sel_path, sel, &msg));
            }
        }
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    let tpath = path.child("template");
    if matches!(meta::selection(spec.get("selector")), Selection::Invalid) {
        let sel = spec.get("selector").unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(
            &sel_path,
            sel,
            "invalid label selector",
        ));
        return;
    }
    selector_matches_template(spec, &tpath, errs);
    pod::validate_pod_template(template, &tpath, errs);
    always_restart(template, &tpath, errs);
    if has(
        template.get("spec").unwrap_or(&Value::Null),
        "activeDeadlineSeconds",
    ) {
        let msg = format!("activeDeadlineSeconds in {owner} is not Supported");
        errs.push(FieldError::forbidden(
            tpath.child("spec").child("activeDeadlineSeconds"),
            &msg,
        ));
    }
}

/// A missing selector matches nothing and an empty one everything, as upstream's
/// conversion to a label selector has it.
fn selector_matches_template(spec: &Value, tpath: &Path, errs: &mut Errs) {
    let selector = spec.get("selector");
    let template = spec.get("template").unwrap_or(&Value::Null);
    let labels = meta::labels_of(template);
    let matches = match meta::selection(selector) {
        Selection::Nothing => false,
        Selection::Everything | Selection::Invalid => true,
        Selection::Requirements => selector.is_some_and(|s| meta::selector_matches(s, labels)),
    };
    if !matches {
        let value = template
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(
            tpath.child("metadata").child("labels"),
            value,
            NO_MATCH,
        ));
    }
}

fn always_restart(template: &Value, tpath: &Path, errs: &mut Errs) {
    let policy = at(template, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if policy != "Always" {
        let p = tpath.child("spec").child("restartPolicy");
        errs.push(FieldError::not_supported(p, policy, &["Always"]));
    }
}

fn deployment_strategy(strategy: &Value, path: &Path, errs: &mut Errs) {
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match string_of(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                let msg = "may not be specified when strategy `type` is 'Recreate'";
                errs.push(FieldError::forbidden(path.child("rollingUpdate"), msg));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(FieldError::required_because(
                path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(r) => rolling_update_deployment(r, &path.child("rollingUpdate"), errs),
        },
        _ => errs.push(FieldError::not_supported(
            path,
            strategy,
            &["Recreate", "RollingUpdate"],
        )),
    }
}

fn rolling_update_deployment(r: &Value, path: &Path, errs: &mut Errs) {
    let unavailable = r.get("maxUnavailable").unwrap_or(&Value::Null);
    let surge = r.get("maxSurge").unwrap_or(&Value::Null);
    int_or_percent(unavailable, &path.child("maxUnavailable"), errs);
    int_or_percent(surge, &path.child("maxSurge"), errs);
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        let msg = "may not be 0 when `maxSurge` is 0";
        errs.push(FieldError::invalid(
            path.child("maxUnavailable"),
            unavailable,
            msg,
        ));
    }
    not_over_100_percent(unavailable, &path.child("maxUnavailable"), errs);
}

/// A non-negative integer or a percentage string.
pub fn int_or_percent(v: &Value, path: &Path, errs: &mut Errs) {
    match v {
        Value::String(s) => {
            for msg in names::percent(s) {
                errs.push(FieldError::invalid(path, s.as_str(), &msg));
            }
        }
        Value::Number(_) => nonnegative(v.as_i64(), path, errs),
        Value::Null => nonnegative(Some(0), path, errs),
        other => errs.push(FieldError::invalid(
            path,
            other,
            "must be an integer or percentage (e.g '5%%')",
        )),
    }
}

fn percent_value(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    if !names::percent(s).is_empty() {
        return None;
    }
    s.trim_end_matches('%').parse().ok()
}

pub fn int_or_percent_value(v: &Value) -> i64 {
    percent_value(v).or_else(|| v.as_i64()).unwrap_or(0)
}

pub fn not_over_100_percent(v: &Value, path: &Path, errs: &mut Errs) {
    if percent_value(v).is_some_and(|p| p > 100) {
        errs.push(FieldError::invalid(
            path,
            v,
            "must not be greater than 100%",
        ));
    }
}

pub fn validate_daemon_set(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let sel_path = path.child("selector");
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        meta::validate_label_selector(sel, &sel_path, errs);
    }
    let tpath = path.child("template");
    if !matches!(meta::selection(spec.get("selector")), Selection::Invalid) {
        selector_matches_template(spec, &tpath, errs);
    }
    if let Some(sel) = spec
        .get("selector")
        .filter(|s| matches!(meta::selection(Some(s)), Selection::Everything))
    {
        errs.push(FieldError::invalid(
            &sel_path,
            sel,
            "empty selector is invalid for daemonset",
        ));
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    pod::validate_pod_template(template, &tpath, errs);
    always_restart(template, &tpath, errs);
    if has(
        template.get("spec").unwrap_or(&Value::Null),
        "activeDeadlineSeconds",
    ) {
        let msg = "activeDeadlineSeconds in DaemonSet is not Supported";
        errs.push(FieldError::forbidden(
            tpath.child("spec").child("activeDeadlineSeconds"),
            msg,
        ));
    }
    for field in [
        "minReadySeconds",
        "templateGeneration",
        "revisionHistoryLimit",
    ] {
        nonnegative(int_of(spec, field), &path.child(field), errs);
    }
    daemon_set_strategy(
        spec.get("updateStrategy").unwrap_or(&Value::Null),
        &path.child("updateStrategy"),
        errs,
    );
}

fn daemon_set_strategy(strategy: &Value, path: &Path, errs: &mut Errs) {
    match string_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errs.push(FieldError::required(path.child("rollingUpdate"))),
            Some(r) => rolling_update_daemon_set(r, &path.child("rollingUpdate"), errs),
        },
        _ => errs.push(FieldError::not_supported(
            path,
            strategy,
            &["RollingUpdate", "OnDelete"],
        )),
    }
}

fn rolling_update_daemon_set(r: &Value, path: &Path, errs: &mut Errs) {
    let unavailable = r.get("maxUnavailable").unwrap_or(&Value::Null);
    let surge = r.get("maxSurge").unwrap_or(&Value::Null);
    int_or_percent(unavailable, &path.child("maxUnavailable"), errs);
    int_or_percent(surge, &path.child("maxSurge"), errs);
    not_over_100_percent(unavailable, &path.child("maxUnavailable"), errs);
    not_over_100_percent(surge, &path.child("maxSurge"), errs);
    match (
        int_or_percent_value(unavailable) != 0,
        int_or_percent_value(surge) != 0,
    ) {
        (true, true) => {
            let msg = "may not be set when maxUnavailable is non-zero";
            errs.push(FieldError::invalid(path.child("maxSurge"), surge, msg));
        }
        (false, false) => errs.push(FieldError::required_because(
            path.child("maxUnavailable"),
            "cannot be 0 when maxSurge is 0",
        )),
        _ => {}
    }
}

pub fn validate_stateful_set(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    stateful_set_policies(spec, &path, errs);
    nonnegative(int_of(spec, "replicas"), &path.child("replicas"), errs);
    nonnegative(
        int_of(spec, "minReadySeconds"),
        &path.child("minReadySeconds"),
        errs,
    );
    if let Some(start) = at(spec, &["ordinals", "start"]).and_then(Value::as_i64) {
        nonnegative(Some(start), &path.child("ordinals.start"), errs);
    }
    stateful_set_selector(spec, &path, errs);
    let tpath = path.child("template");
    let template = spec.get("template").unwrap_or(&Value::Null);
    always_restart(template, &tpath, errs);
    if has(
        template.get("spec").unwrap_or(&Value::Null),
        "activeDeadlineSeconds",
    ) {
        let msg = "activeDeadlineSeconds in StatefulSet is not Supported";
        errs.push(FieldError::forbidden(
            tpath.child("spec").child("activeDeadlineSeconds"),
            msg,
        ));
    }
}

fn stateful_set_selector(spec: &Value, path: &Path, errs: &mut Errs) {
    let sel_path = path.child("selector");
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(&sel_path)),
        Some(sel) => {
            meta::validate_label_selector(sel, &sel_path, errs);
            if matches!(meta::selection(Some(sel)), Selection::Everything) {
                let msg = "empty selector is invalid for statefulset";
                errs.push(FieldError::invalid(&sel_path, sel, msg));
            }
        }
    }
    if matches!(meta::selection(spec.get("selector")), Selection::Invalid) {
        let sel = spec.get("selector").unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(&sel_path, sel, ""));
        return;
    }
    let tpath = path.child("template");
    selector_matches_template(spec, &tpath, errs);
    // Upstream checks only the template's metadata: its volumes are completed by the
    // claim templates, which the pod spec rules do not know.
    let tmeta = at(spec, &["template", "metadata"]).unwrap_or(&Value::Null);
    meta::validate_labels(obj_of(tmeta, "labels"), &tpath.child("labels"), errs);
    meta::validate_annotations(
        obj_of(tmeta, "annotations"),
        &tpath.child("annotations"),
        errs,
    );
}

fn stateful_set_policies(spec: &Value, path: &Path, errs: &mut Errs) {
    match string_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required(path.child("podManagementPolicy"))),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    let sp = path.child("updateStrategy");
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match string_of(strategy, "type") {
        "" => errs.push(FieldError::required(&sp)),
        "OnDelete" => {
            if let Some(r) = rolling {
                let msg = "only allowed for updateStrategy 'RollingUpdate'";
                errs.push(FieldError::invalid(sp.child("rollingUpdate"), r, msg));
            }
        }
        "RollingUpdate" => {
            if let Some(r) = rolling {
                rolling_update_stateful_set(r, &sp.child("rollingUpdate"), errs);
            }
        }
        _ => errs.push(FieldError::invalid(
            &sp,
            strategy,
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let retention = path.child("persistentVolumeClaimRetentionPolicy");
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|v| v.is_object())
    {
        for field in ["whenDeleted", "whenScaled"] {
            let value = string_of(policy, field);
            if value != "Retain" && value != "Delete" {
                errs.push(FieldError::not_supported(
                    retention.child(field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
}

fn rolling_update_stateful_set(r: &Value, path: &Path, errs: &mut Errs) {
    nonnegative(int_of(r, "partition"), &path.child("partition"), errs);
    if let Some(max) = r.get("maxUnavailable").filter(|v| !v.is_null()) {
        let p = path.child("maxUnavailable");
        int_or_percent(max, &p, errs);
        if int_or_percent_value(max) == 0 {
            errs.push(FieldError::invalid(&p, max, "cannot be 0"));
        }
        not_over_100_percent(max, &p, errs);
    }
}

/// Only some StatefulSet spec fields may change.
pub fn validate_stateful_set_update(new: &Value, old: &Value, errs: &mut Errs) {
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |obj: &Value| {
        let mut spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            m.retain(|k, _| !mutable.contains(&k.as_str()));
        }
        spec
    };
    if !super::diff::same(&strip(new), &strip(old)) {
        errs.push(FieldError::forbidden(
            Path::new("spec"),
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', \
             'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and \
             'minReadySeconds' are forbidden",
        ));
    }
}

/// The selector of apps/v1 Deployments, ReplicaSets and DaemonSets cannot change.
pub fn validate_selector_immutable(new: &Value, old: &Value, errs: &mut Errs) {
    let selector = |v: &Value| at(v, &["spec", "selector"]).cloned();
    meta::immutable(
        selector(new).as_ref(),
        selector(old).as_ref(),
        &Path::new("spec.selector"),
        errs,
    );
}

pub fn validate_controller_revision(obj: &Value, errs: &mut Errs) {
    if !has(obj, "data") {
        errs.push(FieldError::required_because(
            Path::new("data"),
            "data is mandatory",
        ));
    }
    nonnegative(int_of(obj, "revision"), &Path::new("revision"), errs);
}

pub fn validate_controller_revision_update(new: &Value, old: &Value, errs: &mut Errs) {
    meta::immutable(new.get("data"), old.get("data"), &Path::new("data"), errs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"replicas": 1, "selector": selector,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30}}}})
    }

    fn errors(f: fn(&Value, &mut Errs), obj: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        f(obj, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_matching_deployment_is_valid() {
        let d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        assert!(errors(validate_deployment, &d).is_empty());
    }

    #[test]
    fn a_selector_that_misses_the_template_labels_is_invalid() {
        let d = deployment(
            json!({"matchLabels": {"app": "api"}}),
            json!({"app": "web"}),
        );
        assert_eq!(
            errors(validate_deployment, &d),
            vec![
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn a_missing_selector_is_required_and_matches_nothing() {
        let mut d = deployment(Value::Null, json!({"app": "web"}));
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            errors(validate_deployment, &d),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn negative_replicas_are_invalid() {
        let mut d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        d["spec"]["replicas"] = json!(-1);
        assert_eq!(
            errors(validate_deployment, &d),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn templates_must_restart_always() {
        let mut d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            errors(validate_deployment, &d),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
            ]
        );
    }

    #[test]
    fn recreate_with_rolling_update_parameters_is_forbidden() {
        let mut d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        d["spec"]["strategy"]["type"] = json!("Recreate");
        assert_eq!(
            errors(validate_deployment, &d),
            vec![
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
    }

    #[test]
    fn selectors_are_immutable() {
        let old = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        let new = deployment(
            json!({"matchLabels": {"app": "api"}}),
            json!({"app": "api"}),
        );
        let mut errs = Vec::new();
        validate_selector_immutable(&new, &old, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"api\"}}: field is immutable"
        );
    }

    #[test]
    fn daemon_sets_need_one_of_surge_and_unavailable() {
        let ds = json!({"spec": {"selector": {"matchLabels": {"a": "b"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
            "template": deployment(json!({}), json!({"a": "b"}))["spec"]["template"]}});
        assert_eq!(
            errors(validate_daemon_set, &ds),
            vec![
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
            ]
        );
    }

    #[test]
    fn stateful_set_updates_outside_the_mutable_fields_are_forbidden() {
        let old = json!({"spec": {"serviceName": "a", "replicas": 1}});
        let new = json!({"spec": {"serviceName": "b", "replicas": 3}});
        let mut errs = Vec::new();
        validate_stateful_set_update(&new, &old, &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .to_string()
                .starts_with("spec: Forbidden: updates to statefulset spec")
        );
        let new = json!({"spec": {"serviceName": "a", "replicas": 3}});
        errs.clear();
        validate_stateful_set_update(&new, &old, &mut errs);
        assert!(errs.is_empty());
    }
}
