//! Server-side apply and update scenarios from upstream's documented behaviour.

use serde_json::{Value, json};

use super::*;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn schema() -> BuiltinSchema {
    builtin_schema("apps", "v1", "Deployment").expect("deployment schema")
}

fn status() -> FieldSet {
    FieldSet::top_level(&["status"])
}

fn request<'a>(
    manager: &'a str,
    schema: &'a BuiltinSchema,
    reset: &'a FieldSet,
    now: &'a str,
) -> Request<'a, BuiltinSchema> {
    Request {
        manager,
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: None,
        schema,
        reset_fields: Some(reset),
        now,
    }
}

/// Applies `config` as `manager` at `now`.
fn apply_as(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let (schema, reset) = (schema(), status());
    apply(live, config, force, &request(manager, &schema, &reset, now))
}

/// Records an update by `manager` from `old` to `new` at `now`.
fn update_as(old: Option<&Value>, mut new: Value, manager: &str, now: &str) -> Value {
    let (schema, reset) = (schema(), status());
    update_managed_fields(old, &mut new, &request(manager, &schema, &reset, now));
    new
}

fn config(spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec
    })
}

fn containers(list: Value) -> Value {
    json!({"template": {"spec": {"containers": list}}})
}

fn entry<'a>(object: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

/// The paths `manager`'s entry owns.
fn owned(object: &Value, manager: &str, operation: &str) -> Vec<String> {
    let Some(entry) = entry(object, manager, operation) else {
        return Vec::new();
    };
    let set = decode_fields_v1(&entry["fieldsV1"]).expect("valid fieldsV1");
    set.paths().iter().map(|p| p.to_string()).collect()
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["manager"].as_str().unwrap(),
                        e["operation"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn creating_by_apply_records_exactly_the_config_fields_for_the_applier() {
    let applied = apply_as(None, &config(json!({"replicas": 2})), "kubectl", false, T1)
        .expect("apply creates");
    assert_eq!(applied["spec"]["replicas"], 2);
    assert_eq!(
        applied["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
            "time": T1, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}
        }])
    );
}

#[test]
fn applying_the_same_config_twice_leaves_the_object_equal() {
    let cfg = config(json!({"replicas": 2, "paused": false}));
    let first = apply_as(None, &cfg, "a", false, T1).unwrap();
    let second = apply_as(Some(&first), &cfg, "a", false, T2).unwrap();
    assert_eq!(first, second);
}

#[test]
fn two_appliers_setting_the_same_value_share_the_field() {
    let first = apply_as(None, &config(json!({"replicas": 2})), "a", false, T1).unwrap();
    let second = apply_as(
        Some(&first),
        &config(json!({"replicas": 2})),
        "b",
        false,
        T2,
    )
    .expect("same value is no conflict");
    assert_eq!(owned(&second, "a", "Apply"), [".spec.replicas"]);
    assert_eq!(owned(&second, "b", "Apply"), [".spec.replicas"]);
    // Nothing changed, so the new entry carries no time and the first keeps its own.
    assert!(entry(&second, "b", "Apply").unwrap().get("time").is_none());
    assert_eq!(entry(&second, "a", "Apply").unwrap()["time"], T1);
}

#[test]
fn changing_a_field_another_applier_owns_conflicts() {
    let first = apply_as(None, &config(json!({"replicas": 2})), "a", false, T1).unwrap();
    let err = apply_as(
        Some(&first),
        &config(json!({"replicas": 3})),
        "b",
        false,
        T2,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    assert_eq!(err.status_code(), 409);
    assert_eq!(err.conflicts()[0].field(), ".spec.replicas");
}

#[test]
fn forcing_moves_ownership_to_the_applier() {
    let first = apply_as(
        None,
        &config(json!({"replicas": 2, "paused": true})),
        "a",
        false,
        T1,
    )
    .unwrap();
    let forced =
        apply_as(Some(&first), &config(json!({"replicas": 3})), "b", true, T2).expect("force wins");
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(owned(&forced, "a", "Apply"), [".spec.paused"]);
    assert_eq!(owned(&forced, "b", "Apply"), [".spec.replicas"]);
    assert_eq!(entry(&forced, "b", "Apply").unwrap()["time"], T2);
}

#[test]
fn removing_a_field_from_the_applied_config_removes_it_from_the_object() {
    let first = apply_as(
        None,
        &config(json!({"replicas": 2, "paused": true})),
        "a",
        false,
        T1,
    )
    .unwrap();
    let second = apply_as(
        Some(&first),
        &config(json!({"replicas": 2})),
        "a",
        false,
        T2,
    )
    .unwrap();
    assert!(second["spec"].get("paused").is_none());
    assert_eq!(owned(&second, "a", "Apply"), [".spec.replicas"]);
    assert_eq!(entry(&second, "a", "Apply").unwrap()["time"], T2);
}

#[test]
fn removing_a_field_another_manager_also_owns_keeps_the_value() {
    let first = apply_as(
        None,
        &config(json!({"replicas": 2, "paused": true})),
        "a",
        false,
        T1,
    )
    .unwrap();
    let shared = apply_as(
        Some(&first),
        &config(json!({"paused": true})),
        "b",
        false,
        T2,
    )
    .unwrap();
    let dropped = apply_as(
        Some(&shared),
        &config(json!({"replicas": 2})),
        "a",
        false,
        T3,
    )
    .unwrap();
    assert_eq!(dropped["spec"]["paused"], true);
    assert_eq!(owned(&dropped, "a", "Apply"), [".spec.replicas"]);
    assert_eq!(owned(&dropped, "b", "Apply"), [".spec.paused"]);
}

#[test]
fn list_map_items_other_managers_applied_are_kept() {
    let nginx = json!({"name": "nginx", "image": "nginx:1.27"});
    let sidecar = json!({"name": "sidecar", "image": "envoy:1"});
    let first = apply_as(
        None,
        &config(containers(json!([nginx.clone()]))),
        "app",
        false,
        T1,
    )
    .unwrap();
    let both = apply_as(
        Some(&first),
        &config(containers(json!([sidecar]))),
        "mesh",
        false,
        T2,
    )
    .unwrap();
    let list = &both["spec"]["template"]["spec"]["containers"];
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        owned(&both, "mesh", "Apply"),
        [
            ".spec.template.spec.containers[name=\"sidecar\"]",
            ".spec.template.spec.containers[name=\"sidecar\"].image",
            ".spec.template.spec.containers[name=\"sidecar\"].name"
        ]
    );

    // The app updates its container without mentioning the sidecar: the sidecar stays.
    let nginx2 = json!({"name": "nginx", "image": "nginx:1.28"});
    let updated = apply_as(
        Some(&both),
        &config(containers(json!([nginx2]))),
        "app",
        false,
        T3,
    )
    .unwrap();
    let names: Vec<&str> = updated["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx", "sidecar"]);
    assert_eq!(
        updated["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
}

#[test]
fn dropping_a_list_map_item_from_the_config_removes_it() {
    let two = containers(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]));
    let first = apply_as(None, &config(two), "app", false, T1).unwrap();
    let one = containers(json!([{"name": "a", "image": "a"}]));
    let second = apply_as(Some(&first), &config(one), "app", false, T2).unwrap();
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "a"}])
    );
}

#[test]
fn finalizers_merge_as_a_set_owned_value_by_value() {
    let with = |finalizers: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "finalizers": finalizers}})
    };
    let first = apply_as(None, &with(json!(["a.io/x"])), "one", false, T1).unwrap();
    let second = apply_as(Some(&first), &with(json!(["b.io/y"])), "two", false, T2).unwrap();
    assert_eq!(
        second["metadata"]["finalizers"],
        json!(["a.io/x", "b.io/y"])
    );
    assert_eq!(
        owned(&second, "two", "Apply"),
        [".metadata.finalizers[=\"b.io/y\"]"]
    );
    let dropped = apply_as(Some(&second), &with(json!([])), "one", false, T3).unwrap();
    assert_eq!(dropped["metadata"]["finalizers"], json!(["b.io/y"]));
}

#[test]
fn atomic_lists_are_replaced_whole_and_owned_as_one_field() {
    let with_args = |args: Value| containers(json!([{"name": "c", "image": "i", "args": args}]));
    let first = apply_as(None, &config(with_args(json!(["a", "b"]))), "x", false, T1).unwrap();
    let second = apply_as(
        Some(&first),
        &config(with_args(json!(["c"]))),
        "x",
        false,
        T2,
    )
    .unwrap();
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["c"])
    );
    assert!(
        owned(&second, "x", "Apply")
            .contains(&".spec.template.spec.containers[name=\"c\"].args".to_string())
    );
}

#[test]
fn an_update_after_an_apply_takes_the_changed_field_so_the_next_apply_conflicts() {
    let applied = apply_as(None, &config(json!({"replicas": 2})), "kubectl", false, T1).unwrap();
    let mut scaled = applied.clone();
    scaled["spec"]["replicas"] = json!(5);
    let updated = update_as(Some(&applied), scaled, "kube-controller-manager", T2);
    assert!(owned(&updated, "kubectl", "Apply").is_empty());
    assert_eq!(
        owned(&updated, "kube-controller-manager", "Update"),
        [".spec.replicas"]
    );
    assert_eq!(managers(&updated), ["kube-controller-manager/Update"]);

    let err = apply_as(
        Some(&updated),
        &config(json!({"replicas": 2})),
        "kubectl",
        false,
        T3,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using \
         apps/v1: .spec.replicas"
    );
}

#[test]
fn several_conflicts_list_each_manager_and_field() {
    let base = apply_as(
        None,
        &config(json!({"replicas": 2, "paused": true})),
        "a",
        false,
        T1,
    )
    .unwrap();
    let mut changed = base.clone();
    changed["spec"]["minReadySeconds"] = json!(5);
    let updated = update_as(Some(&base), changed, "editor", T2);
    let cfg = config(json!({"replicas": 3, "paused": false, "minReadySeconds": 9}));
    let err = apply_as(Some(&updated), &cfg, "b", false, T3).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"a\":\n\
         - .spec.paused\n\
         - .spec.replicas\n\
         conflicts with \"editor\" using apps/v1:\n\
         - .spec.minReadySeconds"
    );
}

#[test]
fn creating_by_update_owns_every_field_the_object_sets_except_identity_and_status() {
    let object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 1},
        "status": {"replicas": 0}
    });
    let created = update_as(None, object, "kubectl-create", T1);
    assert_eq!(
        entry(&created, "kubectl-create", "Update").unwrap()["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {".": {}, "f:replicas": {}}
        })
    );
}

#[test]
fn an_update_that_changes_nothing_leaves_managed_fields_alone() {
    let created = update_as(None, config(json!({"replicas": 1})), "creator", T1);
    let mut same = created.clone();
    same["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    let updated = update_as(Some(&created), same, "editor", T2);
    assert_eq!(updated, created);
}

#[test]
fn clients_may_replace_or_reset_managed_fields_on_update() {
    let mut created = update_as(None, config(json!({"replicas": 1})), "creator", T1);
    created["metadata"]["uid"] = json!("u1");

    let mut reset = created.clone();
    reset["metadata"]["managedFields"] = json!([]);
    let after_reset = update_as(Some(&created), reset, "editor", T2);
    assert!(after_reset["metadata"].get("managedFields").is_none());

    let mut replaced = created.clone();
    replaced["metadata"]["managedFields"][0]["manager"] = json!("someone-else");
    let after_replace = update_as(Some(&created), replaced, "editor", T2);
    assert_eq!(managers(&after_replace), ["someone-else/Update"]);

    let mut garbage = created.clone();
    garbage["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Nope"}]);
    let after_garbage = update_as(Some(&created), garbage, "editor", T2);
    assert_eq!(managers(&after_garbage), ["creator/Update"]);
}

#[test]
fn applying_to_an_object_without_managed_fields_hands_its_fields_to_before_first_apply() {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "uid": "u1"},
        "spec": {"replicas": 1, "paused": true}
    });
    let err = apply_as(
        Some(&live),
        &config(json!({"replicas": 2})),
        "kubectl",
        false,
        T1,
    )
    .expect_err("conflict with the previous owner");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: \
         .spec.replicas"
    );
    let forced = apply_as(
        Some(&live),
        &config(json!({"replicas": 2})),
        "kubectl",
        true,
        T1,
    )
    .unwrap();
    assert_eq!(
        owned(&forced, "before-first-apply", "Update"),
        [".spec", ".spec.paused"]
    );
}

#[test]
fn kubectl_takes_over_fields_its_last_applied_annotation_still_matches() {
    let last = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":2}}"#;
    let mut created = config(json!({"replicas": 2}));
    created["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": last});
    let live = update_as(None, created, "kubectl-client-side-apply", T1);

    let cfg = config(json!({"replicas": 3}));
    let applied = apply_as(Some(&live), &cfg, "kubectl", false, T2).expect("migration");
    assert_eq!(applied["spec"]["replicas"], 3);
    assert_eq!(owned(&applied, "kubectl", "Apply"), [".spec.replicas"]);
    let annotation =
        applied["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap();
    assert_eq!(
        annotation,
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\
         \"namespace\":\"default\"},\"spec\":{\"replicas\":3}}\n"
    );

    // Another manager gets no such help.
    let err = apply_as(
        Some(&live),
        &config(json!({"replicas": 3})),
        "helm",
        false,
        T2,
    );
    assert!(matches!(err, Err(ApplyError::Conflicts(_))));
}

#[test]
fn status_is_neither_owned_nor_conflicting_on_the_main_resource() {
    let mut cfg = config(json!({"replicas": 1}));
    cfg["status"] = json!({"replicas": 1});
    let applied = apply_as(None, &cfg, "a", false, T1).unwrap();
    assert_eq!(owned(&applied, "a", "Apply"), [".spec.replicas"]);
}

#[test]
fn invalid_configs_are_rejected_like_upstream() {
    let mut with_managed = config(json!({}));
    with_managed["metadata"]["managedFields"] = json!([]);
    let err = apply_as(None, &with_managed, "a", false, T1).unwrap_err();
    assert_eq!(err.to_string(), "metadata.managedFields must be nil");
    assert_eq!(err.status_code(), 400);

    let mut wrong_kind = config(json!({}));
    wrong_kind["apiVersion"] = json!("v1");
    wrong_kind["kind"] = json!("Pod");
    let err = apply_as(None, &wrong_kind, "a", false, T1).unwrap_err();
    assert_eq!(err.to_string(), "invalid object type: /v1, Kind=Pod");

    let err = apply_as(None, &json!([1]), "a", false, T1).unwrap_err();
    assert_eq!(err.status_code(), 400);

    let dup = config(containers(json!([{"name": "c"}, {"name": "c"}])));
    let err = apply_as(None, &dup, "a", false, T1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
         .spec.template.spec.containers: duplicate entries for key [name=\"c\"]"
    );
    assert_eq!(err.status_code(), 500);

    let keyless = config(containers(json!([{"image": "x"}])));
    assert!(matches!(
        apply_as(None, &keyless, "a", false, T1),
        Err(ApplyError::InvalidConfig { .. })
    ));
}

#[test]
fn unreadable_live_managed_fields_fail_the_apply() {
    let mut live = config(json!({"replicas": 1}));
    live["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Nope"}]);
    let err = apply_as(Some(&live), &config(json!({})), "a", false, T1).unwrap_err();
    assert!(matches!(err, ApplyError::InvalidManagedFields(_)));
}

#[test]
fn default_managers_come_from_the_user_agent() {
    assert_eq!(
        default_manager(Some("kubectl/v1.35.0 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(default_manager(Some("my\u{7}agent/1")), "myagent");
    assert_eq!(default_manager(None), "");
    assert_eq!(default_manager(Some(&"x".repeat(200))).len(), 128);
}

#[test]
fn field_manager_names_must_be_short_and_printable() {
    assert!(validate_field_manager("kubectl").is_empty());
    assert_eq!(
        validate_field_manager(&"x".repeat(129)),
        [FieldManagerError::TooLong]
    );
    let errors = validate_field_manager("a\u{0}b");
    assert_eq!(
        errors[0].to_string(),
        "fieldManager: Invalid value: \"a\\x00b\": invalid character U+0000 (at position 1)"
    );
}

/// A Deployment with `n` containers, each with env vars, ports and resources.
fn large_deployment(n: usize, image: &str) -> Value {
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "name": format!("c{i}"),
                "image": format!("{image}:{i}"),
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "value": "2"},
                    {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                ],
                "ports": [{"containerPort": 8000 + i, "name": "http"}, {"containerPort": 9000 + i, "protocol": "UDP"}],
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}, "requests": {"cpu": "50m"}}
            })
        })
        .collect();
    config(json!({
        "replicas": 3,
        "selector": {"matchLabels": {"app": "big"}},
        "template": {
            "metadata": {"labels": {"app": "big"}},
            "spec": {"containers": containers}
        }
    }))
}

#[test]
fn a_deployment_with_two_hundred_containers_applies_and_reapplies() {
    let first = apply_as(None, &large_deployment(200, "img"), "big", false, T1).unwrap();
    let paths = owned(&first, "big", "Apply");
    assert!(paths.len() > 200 * 20, "{} paths", paths.len());

    let mut scaled = first.clone();
    scaled["spec"]["replicas"] = json!(4);
    let updated = update_as(Some(&first), scaled, "hpa", T2);
    let second = apply_as(
        Some(&updated),
        &large_deployment(200, "img2"),
        "big",
        true,
        T3,
    )
    .unwrap();
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][199]["image"],
        "img2:199"
    );
    assert_eq!(owned(&second, "hpa", "Update"), Vec::<String>::new());
}

#[test]
fn owner_references_keep_every_field_on_create() {
    let schema = builtin_schema("", "v1", "ConfigMap").expect("configmap schema");
    let reset = FieldSet::top_level(&[]);
    let request = Request {
        manager: "op",
        api_version: "v1",
        kind: "ConfigMap",
        subresource: None,
        schema: &schema,
        reset_fields: Some(&reset),
        now: T1,
    };
    let owner = json!({"apiVersion": "ops.skiff.dev/v1", "kind": "Greeting", "name": "hello",
        "uid": "8b056b21", "controller": true, "blockOwnerDeletion": true});
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "ownerReferences": [owner]}, "data": {"a": "b"}});
    let created = apply(None, &config, true, &request).unwrap();
    assert_eq!(created["metadata"]["ownerReferences"], json!([owner]));
}
