//! CRD validation tests, one family of upstream rules each.

use serde_json::{Value, json};

use super::*;

fn crd_with(schema: Value) -> Value {
    let mut crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": schema}
            }]
        }
    });
    prepare_for_create(&mut crd);
    crd
}

fn simple_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}
    })
}

fn errors(crd: &Value) -> Vec<String> {
    validate_crd(crd).iter().map(ToString::to_string).collect()
}

#[test]
fn a_well_formed_crd_is_valid() {
    assert_eq!(errors(&crd_with(simple_schema())), Vec::<String>::new());
}

#[test]
fn the_name_must_be_plural_dot_group() {
    let mut crd = crd_with(simple_schema());
    crd["metadata"]["name"] = json!("gadgets.example.com");
    assert_eq!(
        errors(&crd),
        vec![
            "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"
        ]
    );
}

#[test]
fn groups_need_a_dot_and_scopes_are_an_enumeration() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["group"] = json!("example");
    crd["metadata"]["name"] = json!("widgets.example");
    crd["spec"]["scope"] = json!("Global");
    assert_eq!(
        errors(&crd),
        vec![
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
        ]
    );
}

#[test]
fn names_are_required_and_checked() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["names"] =
        json!({"plural": "widgets", "kind": "Widget", "listKind": "Widget", "shortNames": ["W"]});
    let errs = errors(&crd);
    assert_eq!(errs[0], "spec.names.singular: Required value");
    assert!(
        errs[1].starts_with("spec.names.shortNames[0]: Invalid value: \"W\": a DNS-1035 label")
    );
    assert_eq!(
        errs[2],
        "spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same"
    );
}

#[test]
fn exactly_one_storage_version_with_unique_names() {
    let mut crd = crd_with(simple_schema());
    let v = crd["spec"]["versions"][0].clone();
    crd["spec"]["versions"] = json!([v.clone(), v]);
    let errs = errors(&crd);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.versions: Invalid value: ")
                && e.ends_with("must contain unique version names"))
    );
    assert!(
        errs.iter()
            .any(|e| e.ends_with("must have exactly one version marked as storage version"))
    );
}

#[test]
fn every_version_needs_a_schema() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["versions"][0]
        .as_object_mut()
        .map(|v| v.remove("schema"));
    assert_eq!(
        errors(&crd),
        vec!["spec.versions[0].schema.openAPIV3Schema: Required value"]
    );
}

#[test]
fn non_structural_schemas_are_rejected_with_each_violation() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {
                "properties": {"size": {"type": "integer"}},
                "additionalProperties": {"type": "string"}
            }
        }
    }));
    assert_eq!(
        errors(&crd),
        vec![
            "spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            "spec.validation.openAPIV3Schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
        ]
    );
}

#[test]
fn differing_version_schemas_are_checked_per_version() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": simple_schema()}},
        {"name": "v2", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "string"}}}
    ]);
    assert_eq!(
        errors(&crd),
        vec![
            "spec.versions[1].schema.openAPIV3Schema.type: Invalid value: \"string\": must be object at the root"
        ]
    );
}

#[test]
fn map_list_keys_must_be_required_or_defaulted_and_set_items_atomic() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}
            },
            "groups": {
                "type": "array",
                "x-kubernetes-list-type": "set",
                "items": {"type": "object", "properties": {"a": {"type": "string"}}}
            }
        }}}
    }));
    assert_eq!(
        errors(&crd),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[groups].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set",
            "spec.validation.openAPIV3Schema.properties[spec].properties[ports].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
        ]
    );
}

#[test]
fn list_types_need_arrays() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "x-kubernetes-list-type": "set"}}
    }));
    assert_eq!(
        errors(&crd),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].type: Invalid value: \"object\": must be array if x-kubernetes-list-type is specified"
        ]
    );
}

#[test]
fn defaults_must_validate() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "mode": {"type": "string", "enum": ["a", "b"], "default": "c"}
        }}}
    }));
    assert_eq!(
        errors(&crd),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[mode].default: Unsupported value: \"c\": supported values: \"a\", \"b\""
        ]
    );
}

#[test]
fn conversion_webhooks_are_not_supported() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["conversion"] =
        json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"]}});
    let errs = errors(&crd);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(
        "spec.conversion.strategy: Forbidden: skiff does not support conversion webhooks"
    ));
}

#[test]
fn subresources_and_columns_are_checked() {
    let mut crd = crd_with(simple_schema());
    crd["spec"]["versions"][0]["subresources"] = json!({"scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": "status.replicas"}});
    crd["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": "Age", "type": "time", "jsonPath": ".metadata.creationTimestamp"}]);
    assert_eq!(
        errors(&crd),
        vec![
            "spec.subresources.scale.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec",
            "spec.subresources.scale.statusReplicasPath: Invalid value: \"status.replicas\": must be a simple json path starting with .",
            "spec.additionalPrinterColumns[0].type: Invalid value: \"time\": must be one of boolean,date,integer,number,string",
        ]
    );
}

#[test]
fn cel_rules_compile_when_the_crd_is_written() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.size >"}],
            "properties": {"size": {"type": "integer"}}
        }}
    }));
    let errs = errors(&crd);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: {\"rule\":\"self.size >\"}: compilation failed: ERROR: <input>:1:"
        ),
        "{errs:?}"
    );
}

#[test]
fn transition_rules_need_correlatable_values() {
    let crd = crd_with(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "items": {
                "type": "array",
                "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}
            }
        }}}
    }));
    assert_eq!(
        errors(&crd),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[items].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[items]"
        ]
    );
}

#[test]
fn group_and_plural_are_immutable_and_scope_once_established() {
    let mut old = crd_with(simple_schema());
    set_condition(&mut old, &established(), "now");
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["group"] = json!("example.org");
    new["metadata"]["name"] = json!("widgets.example.org");
    prepare_for_update(&mut new, &old);
    let errs: Vec<String> = validate_crd_update(&new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errs.contains(&"spec.scope: Invalid value: \"Cluster\": field is immutable".to_string()),
        "{errs:?}"
    );
    assert!(
        errs.contains(
            &"spec.group: Invalid value: \"example.org\": field is immutable".to_string()
        )
    );
    assert!(errs.contains(
        &"metadata.name: Invalid value: \"widgets.example.org\": field is immutable".to_string()
    ));
}

#[test]
fn structural_schemas_drive_pruning_defaulting_and_validation() {
    let schema = StructuralSchema::parse(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer", "default": 1, "maximum": 3}
        }}}
    }))
    .expect("structural");
    let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "red"}});
    assert_eq!(prune(&mut obj, &schema), vec!["spec.color"]);
    default(&mut obj, &schema);
    assert_eq!(obj["spec"], json!({"size": 1}));
    assert!(validate(&obj, &schema).is_empty());
    obj["spec"]["size"] = json!(4);
    assert_eq!(validate(&obj, &schema).len(), 1);
}

#[test]
fn parse_reports_non_structural_causes() {
    let err = StructuralSchema::parse(&json!({"type": "object", "properties": {"a": {}}}))
        .expect_err("not structural");
    assert_eq!(
        err.causes[0].to_string(),
        "openAPIV3Schema.properties[a].type: Required value: must not be empty for specified object fields"
    );
}
