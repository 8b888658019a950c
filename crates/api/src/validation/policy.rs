//! PodDisruptionBudget, LimitRange and ResourceQuota rules: budgets as counts or
//! percentages, and the consistency of limit and quota quantities.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::access::{arr_of, obj_of, string_of};
use super::common::{self, Errs};
use super::containers::quantity_value;
use super::field::{FieldError, Path};
use super::meta;
use super::quantity::Quantity;
use super::workloads::{int_or_percent, not_over_100_percent};

const LIMIT_TYPES: &[&str] = &["Pod", "Container", "PersistentVolumeClaim"];
const QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

pub fn validate_pdb(obj: &Value, errs: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            &path,
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (field, value) in [("minAvailable", min), ("maxUnavailable", max)] {
        if let Some(v) = value {
            int_or_percent(v, &path.child(field), errs);
            not_over_100_percent(v, &path.child(field), errs);
        }
    }
    if let Some(sel) = spec.get("selector").filter(|s| s.is_object()) {
        meta::validate_label_selector(sel, &path.child("selector"), errs);
    }
    let policy = spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str);
    let supported = ["AlwaysAllow", "IfHealthyBudget"];
    common::optional_enum(
        policy,
        &path.child("unhealthyPodEvictionPolicy"),
        &supported,
        errs,
    );
}

pub fn validate_limit_range(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec").child("limits");
    let mut types = HashSet::new();
    let limits = obj.get("spec").map(|s| arr_of(s, "limits")).unwrap_or(&[]);
    for (i, item) in limits.iter().enumerate() {
        let p = path.index(i);
        let kind = string_of(item, "type");
        limit_type(kind, &p.child("type"), errs);
        if !types.insert(kind) {
            errs.push(FieldError::duplicate(p.child("type"), kind));
        }
        limit_item(item, kind, &p, errs);
    }
}

fn limit_type(kind: &str, path: &Path, errs: &mut Errs) {
    common::qualified_name(kind, path, errs);
    if !kind.contains('/') && !LIMIT_TYPES.contains(&kind) {
        errs.push(FieldError::invalid(
            path,
            kind,
            "must be a standard limit type or fully qualified",
        ));
    }
}

fn limit_item(item: &Value, kind: &str, path: &Path, errs: &mut Errs) {
    let mut keys: Vec<&str> = Vec::new();
    for field in [
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    ] {
        let map = obj_of(item, field);
        if kind == "Pod"
            && matches!(field, "default" | "defaultRequest")
            && map.is_some_and(|m| !m.is_empty())
        {
            let msg = "may not be specified when `type` is 'Pod'";
            errs.push(FieldError::forbidden(path.child(field), msg));
            continue;
        }
        for (name, q) in map.into_iter().flatten() {
            limit_resource_name(kind, name, &path.child(field).key(name), errs);
            quantity_value(name, q, &path.child(field).key(name), errs);
            if !keys.contains(&name.as_str()) {
                keys.push(name);
            }
        }
    }
    if kind == "PersistentVolumeClaim" {
        let has_storage = |f: &str| obj_of(item, f).is_some_and(|m| m.contains_key("storage"));
        if !has_storage("min") && !has_storage("max") {
            let msg =
                "either minimum or maximum storage value is required, but neither was provided";
            errs.push(FieldError::required_because(path.child("limits"), msg));
        }
    }
    for key in keys {
        limit_consistency(item, kind, key, path, errs);
    }
}

fn limit_resource_name(kind: &str, name: &str, path: &Path, errs: &mut Errs) {
    common::resource_name(name, path, errs);
    if (kind == "Pod" || kind == "Container")
        && !name.contains('/')
        && !matches!(name, "cpu" | "memory" | "ephemeral-storage")
        && !common::is_huge_pages(name)
    {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
}

fn quantity_at(item: &Value, field: &str, key: &str) -> Option<Quantity> {
    let v = obj_of(item, field)?.get(key)?;
    Quantity::parse(v.as_str()?.trim()).ok()
}

type Bound = Option<Quantity>;

/// One ordering between two limit values, and how its breach is reported.
struct Rule {
    lower: Bound,
    upper: Bound,
    field: &'static str,
    shown: Bound,
    lower_name: &'static str,
    upper_name: &'static str,
}

/// min <= defaultRequest <= default <= max, and ratios of at least 1.
fn limit_consistency(item: &Value, kind: &str, key: &str, path: &Path, errs: &mut Errs) {
    let pod_default = |f: &str| kind == "Pod" && (f == "default" || f == "defaultRequest");
    let get = |f: &str| {
        if pod_default(f) {
            None
        } else {
            quantity_at(item, f, key)
        }
    };
    let rules = ordering_rules(
        get("min"),
        get("max"),
        get("default"),
        get("defaultRequest"),
    );
    for rule in rules {
        if let (Some(lo), Some(hi), Some(shown)) = (rule.lower, rule.upper, rule.shown)
            && lo > hi
        {
            let text = format!(
                "{} {} is greater than {} {}",
                rule.lower_name,
                lo.canonical(),
                rule.upper_name,
                hi.canonical()
            );
            let p = path.child(rule.field).key(key);
            errs.push(FieldError::invalid(p, shown.canonical(), &text));
        }
    }
    if let Some(r) = get("maxLimitRequestRatio").filter(|r| *r < Quantity::from_int(1)) {
        let msg = format!("ratio {} is less than 1", r.canonical());
        let p = path.child("maxLimitRequestRatio").key(key);
        errs.push(FieldError::invalid(p, r.canonical(), &msg));
    }
}

fn ordering_rules(min: Bound, max: Bound, default: Bound, request: Bound) -> [Rule; 6] {
    let rule = |lower, upper, field, shown, lower_name, upper_name| Rule {
        lower,
        upper,
        field,
        shown,
        lower_name,
        upper_name,
    };
    let (min_v, max_v, req_v) = ("min value", "max value", "default request value");
    [
        rule(min, max, "min", min, min_v, max_v),
        rule(min, request, "defaultRequest", request, min_v, req_v),
        rule(request, max, "defaultRequest", request, req_v, max_v),
        rule(
            request,
            default,
            "defaultRequest",
            request,
            req_v,
            "default limit value",
        ),
        rule(min, default, "default", min, min_v, "default value"),
        rule(default, max, "default", max, "default value", max_v),
    ]
}

pub fn validate_resource_quota(obj: &Value, errs: &mut Errs) {
    let path = Path::new("spec").child("hard");
    let hard: Option<&Map<String, Value>> = obj.get("spec").and_then(|s| obj_of(s, "hard"));
    for (name, q) in hard.into_iter().flatten() {
        let p = path.key(name);
        let valid = common::resource_name(name, &p, errs);
        let standard = QUOTA_RESOURCES.contains(&name.as_str())
            || common::is_huge_pages(name)
            || name.starts_with("requests.hugepages-");
        if valid && !name.contains('/') && !standard {
            errs.push(FieldError::invalid(
                &p,
                name.as_str(),
                "must be a standard resource for quota",
            ));
        }
        quantity_value(name, q, &p, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::validation::test_support::errors;

    #[test]
    fn budgets_take_min_available_or_max_unavailable_not_both() {
        let errs = errors(
            validate_pdb,
            json!({"spec": {"minAvailable": 1, "maxUnavailable": "50%"}}),
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec: Invalid value: {"));
        assert!(errs[0].ends_with("minAvailable and maxUnavailable cannot be both set"));
    }

    #[test]
    fn budget_percentages_are_checked() {
        let errs = errors(validate_pdb, json!({"spec": {"minAvailable": "150%"}}));
        assert_eq!(
            errs,
            vec!["spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"]
        );
    }

    #[test]
    fn limit_ranges_keep_min_below_max() {
        let lr = json!({"spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
        assert_eq!(
            errors(validate_limit_range, lr),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"
            ]
        );
    }

    #[test]
    fn quotas_need_known_resources_and_whole_counts() {
        let rq = json!({"spec": {"hard": {"pods": "1500m", "widgets": "1"}}});
        assert_eq!(
            errors(validate_resource_quota, rq),
            vec![
                "spec.hard[pods]: Invalid value: \"1500m\": must be an integer",
                "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource type or fully qualified"
            ]
        );
    }
}
