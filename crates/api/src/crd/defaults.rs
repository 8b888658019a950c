//! Defaulting of custom resources from their schema's `default`s, as upstream applies
//! them after pruning on every read and write.

use serde_json::Value;

use super::schema::StructuralSchema;

/// Applies the schema's defaults: a property with a default is set when absent (or
/// null where the schema is not nullable); nested defaults apply only inside objects
/// that exist, so a default never creates its parent. List items and map values that
/// are null take their schema's default.
pub fn default(obj: &mut Value, schema: &StructuralSchema) {
    match obj {
        Value::Object(map) => {
            for (k, prop) in &schema.properties {
                let Some(d) = &prop.default else {
                    continue;
                };
                let missing = match map.get(k) {
                    None => true,
                    Some(v) => v.is_null() && !prop.nullable,
                };
                if missing {
                    map.insert(k.clone(), d.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = schema.properties.get(k) {
                    default(v, prop);
                } else if let Some(ap) = schema.additional_properties_schema() {
                    if v.is_null() && !ap.nullable {
                        *v = ap.default.clone().unwrap_or(Value::Null);
                    }
                    default(v, ap);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.items() else {
                return;
            };
            for item in items.iter_mut() {
                if item.is_null() && !item_schema.nullable {
                    *item = item_schema.default.clone().unwrap_or(Value::Null);
                }
                default(item, item_schema);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> StructuralSchema {
        StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "replicas": {"type": "integer", "default": 1},
                        "strategy": {
                            "type": "object",
                            "properties": {"type": {"type": "string", "default": "Rolling"}}
                        },
                        "ports": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"protocol": {"type": "string", "default": "TCP"}}
                            }
                        },
                        "mode": {"type": "string", "default": "auto"}
                    }
                }
            }
        }))
    }

    #[test]
    fn absent_fields_take_their_defaults() {
        let mut obj = json!({"spec": {"ports": [{"port": 80}]}});
        default(&mut obj, &schema());
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["mode"], "auto");
        assert_eq!(obj["spec"]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn nested_defaults_need_their_parent() {
        let mut obj = json!({"spec": {}});
        default(&mut obj, &schema());
        assert!(obj["spec"].get("strategy").is_none());
        let mut obj = json!({"spec": {"strategy": {}}});
        default(&mut obj, &schema());
        assert_eq!(obj["spec"]["strategy"]["type"], "Rolling");
    }

    #[test]
    fn defaults_do_not_create_the_spec() {
        let mut obj = json!({"metadata": {"name": "x"}});
        default(&mut obj, &schema());
        assert_eq!(obj, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn set_values_are_kept_and_nulls_are_replaced() {
        let mut obj = json!({"spec": {"replicas": 5, "mode": null}});
        default(&mut obj, &schema());
        assert_eq!(obj["spec"]["replicas"], 5);
        assert_eq!(obj["spec"]["mode"], "auto");
    }
}
