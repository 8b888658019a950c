//! batch/v1 rules: Jobs (generated selectors, restart policies, what updates may
//! change) and CronJobs (schedules, time zones, job templates).

use serde_json::{Map, Value, json};

use super::access::{at, bool_of, has, int_of, map_entry, str_of, string_of};
use super::common::{Errs, nonnegative, optional_enum, required_enum};
use super::cron;
use super::diff;
use super::field::{FieldError, Path};
use super::meta::{self, Selection};
use super::pod;

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_JOB_NAME: &str = "job-name";
const MAX_PARALLELISM_INDEXED: i64 = 100_000;
/// CronJob names leave room for the 11 characters of the job suffix in a 63-byte name.
const MAX_CRON_JOB_NAME: usize = 52;

/// Adds the labels and selector upstream generates for a new Job unless it sets
/// `spec.manualSelector: true`: job-name and controller-uid labels on the template
/// (prefixed and legacy keys, user values kept) and a selector on the prefixed
/// controller-uid label.
pub fn generate_job_selector(obj: &mut Value, uid: &str) {
    if at(obj, &["spec", "manualSelector"]).and_then(Value::as_bool) == Some(true) {
        return;
    }
    let name = meta::name_of(obj).to_string();
    if let Some(spec) = obj.as_object_mut().and_then(|o| map_entry(o, "spec")) {
        add_generated(spec, &name, uid);
    }
}

fn add_generated(spec: &mut Map<String, Value>, name: &str, uid: &str) {
    let template = map_entry(spec, "template");
    let labels = template
        .and_then(|t| map_entry(t, "metadata"))
        .and_then(|m| map_entry(m, "labels"));
    if let Some(labels) = labels {
        for key in [LEGACY_JOB_NAME, JOB_NAME] {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    let selector = map_entry(spec, "selector").and_then(|s| map_entry(s, "matchLabels"));
    if let Some(selector) = selector {
        selector.entry(CONTROLLER_UID).or_insert_with(|| json!(uid));
    }
}

pub fn validate_job(obj: &Value, errs: &mut Errs) {
    generated_selector(obj, errs);
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    job_spec(spec, &path, errs);
    job_selector(spec, &path, errs);
    indexed_pod_names(obj, spec, errs);
}

/// Without a manual selector, the selector must be exactly the generated one.
fn generated_selector(obj: &Value, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let uid = at(obj, &["metadata", "uid"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if bool_of(spec, "manualSelector") == Some(true) || uid.is_empty() {
        return;
    }
    let tmeta = Path::new("spec.template.metadata");
    let Some(labels) = at(spec, &["template", "metadata", "labels"]) else {
        errs.push(FieldError::required(tmeta.child("labels")));
        return;
    };
    let name = meta::name_of(obj);
    for (key, want) in [
        (LEGACY_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
        (CONTROLLER_UID, uid),
        (JOB_NAME, name),
    ] {
        has_label(labels, key, want, &tmeta, errs);
    }
    let expected = json!({"matchLabels": {CONTROLLER_UID: uid}});
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(Path::new("spec.selector"))),
        Some(sel) if !diff::same(sel, &expected) => errs.push(FieldError::invalid(
            Path::new("spec.selector"),
            sel,
            "`selector` not auto-generated",
        )),
        Some(_) => {}
    }
}

fn has_label(labels: &Value, key: &str, want: &str, path: &Path, errs: &mut Errs) {
    let detail = format!("must be '{want}'");
    match labels.get(key).and_then(Value::as_str) {
        None => errs.push(FieldError::required_because(
            path.child("labels").key(key),
            &detail,
        )),
        Some(v) if v != want => errs.push(FieldError::invalid(
            path.child("labels").key(key),
            labels,
            &detail,
        )),
        Some(_) => {}
    }
}

/// The selector must exist and select the template, however it was made.
fn job_selector(spec: &Value, path: &Path, errs: &mut Errs) {
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(path.child("selector"))),
        Some(sel) => meta::validate_label_selector(sel, &path.child("selector"), errs),
    }
    let labels = at(spec, &["template", "metadata", "labels"]);
    let matches = match meta::selection(spec.get("selector")) {
        Selection::Nothing => false,
        Selection::Everything | Selection::Invalid => true,
        Selection::Requirements => spec
            .get("selector")
            .is_some_and(|s| meta::selector_matches(s, labels.and_then(Value::as_object))),
    };
    if !matches {
        let p = path.child("template").child("metadata").child("labels");
        let msg = "`selector` does not match template `labels`";
        errs.push(FieldError::invalid(p, labels.unwrap_or(&Value::Null), msg));
    }
}

/// The spec rules shared by Jobs and the job templates of CronJobs.
fn job_spec(spec: &Value, path: &Path, errs: &mut Errs) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        nonnegative(int_of(spec, field), &path.child(field), errs);
    }
    if let Some(mode) = str_of(spec, "completionMode") {
        required_enum(
            mode,
            &path.child("completionMode"),
            &["NonIndexed", "Indexed"],
            errs,
        );
        if mode == "Indexed" {
            indexed_rules(spec, path, errs);
        }
    }
    optional_enum(
        str_of(spec, "podReplacementPolicy"),
        &path.child("podReplacementPolicy"),
        &["TerminatingOrFailed", "Failed"],
        errs,
    );
    let template = spec.get("template").unwrap_or(&Value::Null);
    let tpath = path.child("template");
    pod::validate_pod_template(template, &tpath, errs);
    let restart = at(template, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let rpath = tpath.child("spec").child("restartPolicy");
    if restart != "OnFailure" && restart != "Never" {
        errs.push(FieldError::not_supported(
            rpath,
            restart,
            &["OnFailure", "Never"],
        ));
    } else if restart == "OnFailure" && has(spec, "podFailurePolicy") {
        let msg = "only \"Never\" is supported when podFailurePolicy is specified";
        errs.push(FieldError::invalid(rpath, restart, msg));
    }
}

fn indexed_rules(spec: &Value, path: &Path, errs: &mut Errs) {
    if !has(spec, "completions") {
        errs.push(FieldError::required_because(
            path.child("completions"),
            "when completion mode is Indexed",
        ));
    }
    if let Some(p) = int_of(spec, "parallelism").filter(|p| *p > MAX_PARALLELISM_INDEXED) {
        let msg = format!(
            "must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"
        );
        errs.push(FieldError::invalid(path.child("parallelism"), p, &msg));
    }
}

/// Indexed pods are named `<job>-<index>`, which must stay a DNS label.
fn indexed_pod_names(obj: &Value, spec: &Value, errs: &mut Errs) {
    let completions = int_of(spec, "completions").unwrap_or(0);
    if str_of(spec, "completionMode") != Some("Indexed") || completions <= 0 {
        return;
    }
    let name = meta::name_of(obj);
    let hostname = format!("{name}-{}", completions - 1);
    if !super::names::dns1123_label(&hostname).is_empty() {
        let msg = format!("will not able to create pod with invalid DNS label: {hostname}");
        errs.push(FieldError::invalid(Path::new("metadata.name"), name, &msg));
    }
}

pub fn validate_job_update(new: &Value, old: &Value, errs: &mut Errs) {
    let spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    job_spec(spec, &path, errs);
    job_selector(spec, &path, errs);
    completions_update(spec, old_spec, &path, errs);
    for field in [
        "selector",
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
        "podReplacementPolicy",
    ] {
        meta::immutable(
            spec.get(field),
            old_spec.get(field),
            &path.child(field),
            errs,
        );
    }
    template_update(spec, old_spec, &path, errs);
}

/// Completions may change only for Indexed jobs, together with parallelism.
fn completions_update(spec: &Value, old: &Value, path: &Path, errs: &mut Errs) {
    let p = path.child("completions");
    if str_of(spec, "completionMode") != Some("Indexed") {
        meta::immutable(spec.get("completions"), old.get("completions"), &p, errs);
        return;
    }
    let completions = int_of(spec, "completions");
    if completions == int_of(old, "completions") || completions.is_none() {
        return;
    }
    if completions != int_of(spec, "parallelism") {
        let msg = "can only be modified in tandem with spec.parallelism";
        errs.push(FieldError::invalid(p, completions.unwrap_or(0), msg));
    }
}

/// The template is immutable, except scheduling directives of a suspended job.
fn template_update(spec: &Value, old: &Value, path: &Path, errs: &mut Errs) {
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    let mut old_template = old.get("template").cloned().unwrap_or(Value::Null);
    if bool_of(old, "suspend") == Some(true) {
        for keys in [
            ["metadata", "labels"],
            ["metadata", "annotations"],
            ["spec", "nodeSelector"],
            ["spec", "tolerations"],
            ["spec", "schedulingGates"],
        ] {
            copy_at(&template, &mut old_template, &keys);
        }
        copy_at(&template, &mut old_template, &["spec", "affinity"]);
    }
    if !diff::same(&template, &old_template) {
        errs.push(FieldError::invalid(
            path.child("template"),
            &template,
            meta::IMMUTABLE,
        ));
    }
}

fn copy_at(from: &Value, to: &mut Value, keys: &[&str]) {
    let value = at(from, keys).cloned().unwrap_or(Value::Null);
    let mut cur = to;
    for k in &keys[..keys.len() - 1] {
        if !cur.get(*k).is_some_and(Value::is_object) {
            cur[*k] = json!({});
        }
        cur = &mut cur[*k];
    }
    cur[keys[keys.len() - 1]] = value;
}

pub fn validate_cron_job(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.and_then(|o| o.get("spec"));
    let path = Path::new("spec");
    schedule(spec, old_spec, &path, errs);
    nonnegative(
        int_of(spec, "startingDeadlineSeconds"),
        &path.child("startingDeadlineSeconds"),
        errs,
    );
    let zone_changed = old_spec.is_none_or(|o| o.get("timeZone") != spec.get("timeZone"));
    if zone_changed {
        time_zone(spec.get("timeZone"), &path.child("timeZone"), errs);
    }
    let policy = string_of(spec, "concurrencyPolicy");
    required_enum(
        policy,
        &path.child("concurrencyPolicy"),
        &["Allow", "Forbid", "Replace"],
        errs,
    );
    job_template(
        spec.get("jobTemplate").unwrap_or(&Value::Null),
        &path.child("jobTemplate"),
        errs,
    );
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        nonnegative(int_of(spec, field), &path.child(field), errs);
    }
    let name = meta::name_of(obj);
    if old.is_none() && name.len() > MAX_CRON_JOB_NAME {
        let msg = format!("must be no more than {MAX_CRON_JOB_NAME} characters");
        errs.push(FieldError::invalid(Path::new("metadata.name"), name, &msg));
    }
}

fn schedule(spec: &Value, old: Option<&Value>, path: &Path, errs: &mut Errs) {
    let p = path.child("schedule");
    let schedule = string_of(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required(p));
        return;
    }
    if let Err(msg) = cron::parse_standard(schedule) {
        errs.push(FieldError::invalid(&p, schedule, &msg));
    }
    let allow_tz = old.is_some_and(|o| string_of(o, "schedule").contains("TZ"));
    if allow_tz && schedule.contains("TZ") && has(spec, "timeZone") {
        let msg = "cannot use both timeZone field and TZ or CRON_TZ in schedule";
        errs.push(FieldError::invalid(&p, schedule, msg));
    } else if !allow_tz && schedule.contains("TZ") {
        let msg = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
        errs.push(FieldError::invalid(&p, schedule, msg));
    }
}

fn time_zone(zone: Option<&Value>, path: &Path, errs: &mut Errs) {
    let Some(zone) = zone.and_then(Value::as_str) else {
        return;
    };
    if zone.is_empty() {
        errs.push(FieldError::invalid(
            path,
            zone,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    };
    if !zone.split('/').all(part_ok) {
        errs.push(FieldError::invalid(
            path,
            zone,
            &format!("unknown time zone {zone}"),
        ));
    } else if zone.eq_ignore_ascii_case("local") {
        let msg =
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones";
        errs.push(FieldError::invalid(path, zone, msg));
    }
}

fn job_template(template: &Value, path: &Path, errs: &mut Errs) {
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let sp = path.child("spec");
    job_spec(spec, &sp, errs);
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid(
            sp.child("selector"),
            sel,
            "`selector` will be auto-generated",
        ));
    }
    if bool_of(spec, "manualSelector") == Some(true) {
        errs.push(FieldError::not_supported(
            sp.child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(restart: &str) -> Value {
        json!({"metadata": {"name": "pi", "uid": "u1"}, "spec": {"backoffLimit": 6,
            "template": {"spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always",
                "terminationMessagePolicy": "File"}], "restartPolicy": restart, "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30}}}})
    }

    fn errors(obj: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        validate_job(obj, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn generated_selector_labels_the_template_and_selects_the_uid() {
        let mut j = job("Never");
        generate_job_selector(&mut j, "u1");
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"],
            json!({"job-name": "pi", "batch.kubernetes.io/job-name": "pi",
                "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"})
        );
        assert_eq!(
            j["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}})
        );
        assert!(errors(&j).is_empty());
    }

    #[test]
    fn manual_selectors_are_left_alone() {
        let mut j = job("Never");
        j["spec"]["manualSelector"] = json!(true);
        generate_job_selector(&mut j, "u1");
        assert!(j["spec"].get("selector").is_none());
    }

    #[test]
    fn jobs_must_not_restart_always() {
        let mut j = job("Always");
        generate_job_selector(&mut j, "u1");
        assert_eq!(
            errors(&j),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn user_selectors_without_manual_selector_are_rejected() {
        let mut j = job("Never");
        j["spec"]["selector"] = json!({"matchLabels": {"app": "x"}});
        j["spec"]["template"]["metadata"] = json!({"labels": {"app": "x"}});
        generate_job_selector(&mut j, "u1");
        let errs = errors(&j);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.selector: Invalid value: {\"matchLabels\":"));
        assert!(errs[0].ends_with("`selector` not auto-generated"));
    }

    #[test]
    fn job_templates_are_immutable() {
        let mut old = job("Never");
        generate_job_selector(&mut old, "u1");
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
        let mut errs = Vec::new();
        validate_job_update(&new, &old, &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .to_string()
                .starts_with("spec.template: Invalid value: {")
        );
        assert!(errs[0].to_string().ends_with("field is immutable"));
    }

    fn cron_job(schedule: &str) -> Value {
        let mut template = job("OnFailure");
        template.as_object_mut().unwrap().remove("metadata");
        json!({"metadata": {"name": "c"}, "spec": {"schedule": schedule, "concurrencyPolicy": "Allow",
            "jobTemplate": template}})
    }

    #[test]
    fn cron_jobs_need_a_parseable_schedule() {
        let mut errs = Vec::new();
        validate_cron_job(&cron_job("*/5 * * * *"), None, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        validate_cron_job(&cron_job("61 * * * *"), None, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
        );
        errs.clear();
        validate_cron_job(&cron_job(""), None, &mut errs);
        assert_eq!(errs[0].to_string(), "spec.schedule: Required value");
    }

    #[test]
    fn time_zones_in_schedules_are_refused() {
        let mut errs = Vec::new();
        validate_cron_job(&cron_job("TZ=UTC 0 * * * *"), None, &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        );
    }
}
