//! What a pod update may change: container images, a shorter active deadline, added
//! tolerations, removed scheduling gates, and nothing else of the spec.

use serde_json::{Value, json};

use super::access::{arr_of, int_of, string_of};
use super::common::Errs;
use super::diff;
use super::field::{FieldError, Path};
use super::names;
use super::pod;

const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,\
`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),\
`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

pub fn validate_pod_update(new: &Value, old: &Value, errs: &mut Errs) {
    let path = Path::new("spec");
    let spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    pod::validate_pod_spec(spec, &path, true, errs);
    pod::validate_pod_only(spec, &path, errs);
    for field in ["containers", "initContainers"] {
        if !container_updates(
            arr_of(spec, field),
            arr_of(old_spec, field),
            &path.child(field),
            errs,
        ) {
            return;
        }
    }
    if !deadline_update(spec, old_spec, &path, errs) {
        return;
    }
    only_added_tolerations(spec, old_spec, &path.child("tolerations"), errs);
    only_removed_gates(spec, old_spec, &path.child("schedulingGates"), errs);
    if diff::same(spec, old_spec) {
        return;
    }
    let munged = munge(spec, old_spec);
    if !diff::same(&munged, old_spec) {
        let listing = diff::describe(old_spec, &munged, "spec");
        let msg = format!("pod updates may not change fields other than {UPDATABLE}\n{listing}");
        errs.push(FieldError::forbidden(&path, &msg));
    }
}

/// False when the container lists differ in length: nothing more is compared then.
fn container_updates(new: &[Value], old: &[Value], path: &Path, errs: &mut Errs) -> bool {
    if new.len() != old.len() {
        errs.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return false;
    }
    for (i, c) in new.iter().enumerate() {
        let image = string_of(c, "image");
        if image.is_empty() {
            errs.push(FieldError::required(path.index(i).child("image")));
        }
    }
    true
}

/// The deadline may be set, or shortened, but not removed or extended.
fn deadline_update(spec: &Value, old: &Value, path: &Path, errs: &mut Errs) -> bool {
    let p = path.child("activeDeadlineSeconds");
    match (
        int_of(spec, "activeDeadlineSeconds"),
        int_of(old, "activeDeadlineSeconds"),
    ) {
        (Some(new), _) if !(0..=i64::from(i32::MAX)).contains(&new) => {
            errs.push(FieldError::invalid(
                p,
                new,
                &names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            false
        }
        (Some(new), Some(old)) if old < new => {
            errs.push(FieldError::invalid(
                p,
                new,
                "must be less than or equal to previous value",
            ));
            false
        }
        (None, Some(_)) => {
            errs.push(FieldError::invalid(
                p,
                &Value::Null,
                "must not update from a positive integer to nil value",
            ));
            true
        }
        _ => true,
    }
}

fn only_added_tolerations(spec: &Value, old: &Value, path: &Path, errs: &mut Errs) {
    let new_list = arr_of(spec, "tolerations");
    for existing in arr_of(old, "tolerations") {
        let kept = new_list.iter().any(|t| same_toleration(existing, t));
        if !kept {
            let msg = "existing toleration can not be modified except its tolerationSeconds";
            errs.push(FieldError::forbidden(path, msg));
            return;
        }
    }
}

fn same_toleration(a: &Value, b: &Value) -> bool {
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    diff::same(&strip(a), &strip(b))
}

fn only_removed_gates(spec: &Value, old: &Value, path: &Path, errs: &mut Errs) {
    let before: Vec<&str> = arr_of(old, "schedulingGates")
        .iter()
        .map(|g| string_of(g, "name"))
        .collect();
    for (i, gate) in arr_of(spec, "schedulingGates").iter().enumerate() {
        let name = string_of(gate, "name");
        if !before.contains(&name) {
            let msg = format!("only deletion is allowed, but found new scheduling gate '{name}'");
            errs.push(FieldError::forbidden(path.index(i).child("name"), &msg));
        }
    }
}

/// The new spec with every updatable field taken from the old one.
fn munge(spec: &Value, old: &Value) -> Value {
    let mut munged = spec.clone();
    for field in ["containers", "initContainers"] {
        let old_list = arr_of(old, field);
        if let Some(list) = munged.get_mut(field).and_then(Value::as_array_mut) {
            for (c, o) in list.iter_mut().zip(old_list) {
                c["image"] = o.get("image").cloned().unwrap_or(Value::Null);
            }
        }
    }
    for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
        munged[field] = old.get(field).cloned().unwrap_or(Value::Null);
    }
    let old_grace = int_of(old, "terminationGracePeriodSeconds");
    if old_grace.is_some_and(|g| g < 0)
        && int_of(&munged, "terminationGracePeriodSeconds") == Some(1)
    {
        munged["terminationGracePeriodSeconds"] = json!(old_grace);
    }
    if !arr_of(old, "schedulingGates").is_empty() {
        munged["nodeSelector"] = old.get("nodeSelector").cloned().unwrap_or(Value::Null);
        munged["affinity"] = old.get("affinity").cloned().unwrap_or(Value::Null);
    }
    munged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str, port: i64) -> Value {
        json!({"spec": {"containers": [{"name": "app", "image": image, "imagePullPolicy": "Always",
            "terminationMessagePolicy": "File", "ports": [{"containerPort": port, "protocol": "TCP"}]}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "a", "operator": "Exists"}]}})
    }

    fn errors(new: &Value, old: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        validate_pod_update(new, old, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn changing_the_image_is_allowed() {
        assert!(errors(&pod("nginx:2", 80), &pod("nginx:1", 80)).is_empty());
    }

    #[test]
    fn changing_a_port_is_forbidden_with_a_diff() {
        let errs = errors(&pod("nginx", 8080), &pod("nginx", 80));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        ));
        assert!(errs[0].ends_with(
            "\n- spec.containers[0].ports[0].containerPort: 80\n+ spec.containers[0].ports[0].containerPort: 8080"
        ));
    }

    #[test]
    fn adding_a_container_is_forbidden() {
        let old = pod("nginx", 80);
        let mut new = old.clone();
        let extra = new["spec"]["containers"][0].clone();
        let mut extra = extra;
        extra["name"] = json!("second");
        new["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        assert_eq!(
            errors(&new, &old),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
    }

    #[test]
    fn removing_a_toleration_is_forbidden_but_adding_is_not() {
        let old = pod("nginx", 80);
        let mut new = old.clone();
        new["spec"]["tolerations"] = json!([]);
        assert_eq!(
            errors(&new, &old),
            vec![
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
            ]
        );
        new["spec"]["tolerations"] =
            json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]);
        assert!(errors(&new, &old).is_empty());
    }

    #[test]
    fn the_active_deadline_may_only_shrink() {
        let mut old = pod("nginx", 80);
        old["spec"]["activeDeadlineSeconds"] = json!(100);
        let mut new = old.clone();
        new["spec"]["activeDeadlineSeconds"] = json!(50);
        assert!(errors(&new, &old).is_empty());
        new["spec"]["activeDeadlineSeconds"] = json!(200);
        assert_eq!(
            errors(&new, &old),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
            ]
        );
    }
}
