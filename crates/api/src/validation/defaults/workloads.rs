//! Defaults of the workload kinds (apps/v1 and batch/v1) and of their pod templates.

use serde_json::{Value, json};

use super::super::access::{at, has, items_mut, obj_entry, set_default, str_of};
use super::pod::default_template;

pub fn default_deployment(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    if let Some(strategy) = obj_entry(spec, "strategy") {
        let strategy_type = strategy
            .entry("type")
            .or_insert_with(|| json!("RollingUpdate"));
        if strategy_type.as_str().is_none_or(str::is_empty) {
            *strategy_type = json!("RollingUpdate");
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if rolling.is_null() {
                *rolling = json!({});
            }
            set_default(rolling, "maxUnavailable", json!("25%"));
            set_default(rolling, "maxSurge", json!("25%"));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    default_template(spec.get_mut("template"));
}

pub fn default_replica_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    default_template(spec.get_mut("template"));
}

pub fn default_daemon_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    if let Some(strategy) = obj_entry(spec, "updateStrategy") {
        let mut strategy_value = Value::Object(std::mem::take(strategy));
        set_default(&mut strategy_value, "type", json!("RollingUpdate"));
        if str_of(&strategy_value, "type") == Some("RollingUpdate") {
            set_default(&mut strategy_value, "rollingUpdate", json!({}));
            if let Some(rolling) = strategy_value.get_mut("rollingUpdate") {
                set_default(rolling, "maxUnavailable", json!(1));
                set_default(rolling, "maxSurge", json!(0));
            }
        }
        spec["updateStrategy"] = strategy_value;
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    default_template(spec.get_mut("template"));
}

pub fn default_stateful_set(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "podManagementPolicy", json!("OrderedReady"));
    stateful_set_strategy(spec);
    set_default(spec, "persistentVolumeClaimRetentionPolicy", json!({}));
    if let Some(policy) = spec.get_mut("persistentVolumeClaimRetentionPolicy") {
        set_default(policy, "whenDeleted", json!("Retain"));
        set_default(policy, "whenScaled", json!("Retain"));
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    default_template(spec.get_mut("template"));
    for claim in items_mut(spec, "volumeClaimTemplates") {
        super::default_claim(claim);
    }
}

fn stateful_set_strategy(spec: &mut Value) {
    set_default(spec, "updateStrategy", json!({}));
    let Some(strategy) = spec.get_mut("updateStrategy") else {
        return;
    };
    if str_of(strategy, "type").is_none_or(str::is_empty) {
        strategy["type"] = json!("RollingUpdate");
        set_default(strategy, "rollingUpdate", json!({}));
    }
    let rolling =
        str_of(strategy, "type") == Some("RollingUpdate") && has(strategy, "rollingUpdate");
    if let Some(r) = strategy.get_mut("rollingUpdate").filter(|_| rolling) {
        set_default(r, "partition", json!(0));
    }
}

pub fn default_job(obj: &mut Value) {
    let template_labels = at(obj, &["spec", "template", "metadata", "labels"]).cloned();
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        default_job_spec(spec);
    }
    copy_template_labels(obj, template_labels);
}

/// A Job without labels takes those of its pod template.
pub fn copy_template_labels(obj: &mut Value, labels: Option<Value>) {
    let Some(labels) = labels.filter(|l| l.as_object().is_some_and(|m| !m.is_empty())) else {
        return;
    };
    let Some(meta) = obj_entry(obj, "metadata") else {
        return;
    };
    let empty = meta
        .get("labels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty());
    if empty {
        meta.insert("labels".into(), labels);
    }
}

fn default_job_spec(spec: &mut Value) {
    if !has(spec, "completions") && !has(spec, "parallelism") {
        spec["completions"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    let backoff = if has(spec, "backoffLimitPerIndex") {
        i64::from(i32::MAX)
    } else {
        6
    };
    set_default(spec, "backoffLimit", json!(backoff));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let replacement = if has(spec, "podFailurePolicy") {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    if let Some(policy) = spec.get_mut("podFailurePolicy").filter(|p| p.is_object()) {
        for rule in items_mut(policy, "rules") {
            for pattern in items_mut(rule, "onPodConditions") {
                set_default(pattern, "status", json!("True"));
            }
        }
    }
    default_template(spec.get_mut("template"));
}

pub fn default_cron_job(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "concurrencyPolicy", json!("Allow"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
    let template = spec
        .get_mut("jobTemplate")
        .and_then(|t| t.get_mut("spec"))
        .and_then(|s| s.get_mut("template"));
    default_template(template);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_get_replicas_strategy_and_limits() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": []}}}});
        default_deployment(&mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
        assert!(spec["template"]["spec"].get("enableServiceLinks").is_none());
    }

    #[test]
    fn recreate_deployments_get_no_rolling_update() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        default_deployment(&mut d);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn stateful_sets_get_ordered_ready_and_retain() {
        let mut s =
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}});
        default_stateful_set(&mut s);
        let spec = &s["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );
    }

    #[test]
    fn daemon_sets_surge_zero_and_unavailable_one() {
        let mut ds = json!({"spec": {}});
        default_daemon_set(&mut ds);
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
    }

    #[test]
    fn jobs_get_completions_and_backoff() {
        let mut j =
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {}}}});
        default_job(&mut j);
        let spec = &j["spec"];
        assert_eq!(
            (spec["completions"].clone(), spec["parallelism"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(j["metadata"]["labels"], json!({"app": "x"}));
    }

    #[test]
    fn parallel_jobs_keep_completions_unset() {
        let mut j = json!({"spec": {"parallelism": 3}});
        default_job(&mut j);
        assert!(j["spec"].get("completions").is_none());
    }

    #[test]
    fn cron_jobs_default_their_template_pod_spec() {
        let mut c = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}}}}}});
        default_cron_job(&mut c);
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        let pod = &c["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert!(
            c["spec"]["jobTemplate"]["spec"]
                .get("backoffLimit")
                .is_none()
        );
    }
}
