//! Running the rules of a schema over a custom resource.

use cel::{Context, ExecutionError, Value as Cel};
use serde_json::Value;

use super::convert::to_cel;
use super::{CompiledRule, OLD_SELF, SELF, compile, env, resolve_field_path};
use crate::crd::schema::{StructuralSchema, ValidationRule};
use crate::validation::{BadValue, FieldError, Path, reason};

/// Upper bound of an evaluated `messageExpression`, in bytes.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// Where the walk is: the field path (`None` at the root, which upstream renders
/// `<nil>`), the correlated old value, and whether the nearest correlated value is
/// unchanged (rule failures there are dropped, as upstream ratchets them).
#[derive(Clone, Copy)]
struct At<'a> {
    old: Option<&'a Value>,
    unchanged: bool,
    resource_root: bool,
}

/// Evaluates every rule of `schema` on `obj` (and `old` on update, for transition
/// rules and ratcheting).
pub(crate) fn evaluate_rules(
    obj: &Value,
    old: Option<&Value>,
    schema: &StructuralSchema,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let at = At {
        old,
        unchanged: old == Some(obj),
        resource_root: true,
    };
    walk(obj, schema, None, at, &mut errs);
    errs
}

/// Evaluates the rules of `schema` on its own default value, with that value as
/// `oldSelf` too, as upstream checks defaults when a CRD is written.
pub(crate) fn evaluate_rules_on_default(
    default: &Value,
    schema: &StructuralSchema,
    path: &Path,
    resource_root: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let at = At {
        old: Some(default),
        unchanged: false,
        resource_root,
    };
    walk(default, schema, Some(path), at, &mut errs);
    errs
}

fn child_path(path: Option<&Path>, name: &str, keyed: bool) -> Path {
    match (path, keyed) {
        (Some(p), false) => p.child(name),
        (Some(p), true) => p.key(name),
        (None, false) => Path::new(name),
        (None, true) => Path::new("").key(name),
    }
}

fn walk(
    obj: &Value,
    s: &StructuralSchema,
    path: Option<&Path>,
    at: At,
    errs: &mut Vec<FieldError>,
) {
    if obj.is_null() || !s.has_validations() {
        return;
    }
    if !s.validations.is_empty() {
        node_rules(obj, s, path, at, errs);
    }
    match obj {
        Value::Object(map) => {
            for (k, v) in map {
                let (sub, keyed) = match s.properties.get(k) {
                    Some(p) => (p, false),
                    None => match s.additional_properties_schema() {
                        Some(ap) => (ap, true),
                        None => continue,
                    },
                };
                let type_meta = path.is_none() && (k == "apiVersion" || k == "kind");
                let old = at.old.and_then(|o| o.get(k)).filter(|_| !type_meta);
                let next = At {
                    old,
                    unchanged: match old {
                        Some(o) => o == v,
                        None if type_meta => false,
                        None => at.unchanged,
                    },
                    resource_root: sub.embedded_resource,
                };
                walk(v, sub, Some(&child_path(path, k, keyed)), next, errs);
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items() else {
                return;
            };
            let base = path.cloned().unwrap_or_default();
            let old_items = at.old.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let old = old_items.and_then(|o| map_list_item(s, item, o));
                let next = At {
                    old,
                    unchanged: old.map_or(at.unchanged, |o| o == item),
                    resource_root: item_schema.embedded_resource,
                };
                walk(item, item_schema, Some(&base.index(i)), next, errs);
            }
        }
        _ => {}
    }
}

/// Items of `map` lists correspond by key; items of other lists have no old value.
fn map_list_item<'a>(s: &StructuralSchema, item: &Value, old: &'a [Value]) -> Option<&'a Value> {
    if s.list_type.as_deref() != Some("map") {
        return None;
    }
    let key = |v: &Value| -> Vec<Option<Value>> {
        s.list_map_keys.iter().map(|k| v.get(k).cloned()).collect()
    };
    let wanted = key(item);
    old.iter().find(|o| key(o) == wanted)
}

fn node_rules(
    obj: &Value,
    s: &StructuralSchema,
    path: Option<&Path>,
    at: At,
    errs: &mut Vec<FieldError>,
) {
    let self_value = to_cel(obj, Some(s), at.resource_root);
    let old_value = at.old.map(|o| to_cel(o, Some(s), at.resource_root));
    for rule in &s.validations {
        let compiled = match compile(rule) {
            Ok(c) => c,
            Err(e) => {
                let detail = match e {
                    super::CompileError::Rule(d) | super::CompileError::MessageExpression(d) => d,
                };
                errs.push(type_error(
                    path,
                    s,
                    &format!("rule compile error: {detail}"),
                ));
                continue;
            }
        };
        let optional = rule.optional_old_self == Some(true);
        if compiled.uses_old_self && old_value.is_none() && !optional {
            continue;
        }
        let ctx = match activation(&self_value, old_value.as_ref(), optional) {
            Ok(ctx) => ctx,
            Err(e) => {
                errs.push(type_error(
                    path,
                    s,
                    &format!("{} evaluating rule: {}", error_text(&e), rule_text(rule)),
                ));
                continue;
            }
        };
        match compiled.program.execute(&ctx) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => {
                if compiled.uses_old_self || !at.unchanged {
                    errs.push(failure(obj, s, path, rule, &compiled, &ctx));
                }
            }
            Ok(other) => errs.push(type_error(
                path,
                s,
                &format!(
                    "rule compile error: cel expression must evaluate to a bool, got {other:?}"
                ),
            )),
            Err(e) => errs.push(evaluation_error(path, s, rule, &e)),
        }
    }
}

fn activation(
    self_value: &Cel,
    old: Option<&Cel>,
    optional: bool,
) -> Result<Context<'static, 'static>, ExecutionError> {
    let mut ctx = Context::with_env(env());
    ctx.add_variable_from_value(SELF, self_value.clone());
    match (old, optional) {
        (Some(o), false) => ctx.add_variable_from_value(OLD_SELF, o.clone()),
        (old, true) => {
            let wrapped = wrap_optional(old)?;
            ctx.add_variable_from_value(OLD_SELF, wrapped);
        }
        (None, false) => {}
    }
    Ok(ctx)
}

/// `optional.of(old)` or `optional.none()`, built by CEL itself.
fn wrap_optional(old: Option<&Cel>) -> Result<Cel, ExecutionError> {
    let env = env();
    let source = if old.is_some() {
        "optional.of(__old)"
    } else {
        "optional.none()"
    };
    let program = env
        .compile(source)
        .map_err(|e| ExecutionError::function_error("optional", e.to_string()))?;
    let mut ctx = Context::with_env(env);
    if let Some(o) = old {
        ctx.add_variable_from_value("__old", o.clone());
    }
    program.execute(&ctx)
}

fn type_name(s: &StructuralSchema) -> BadValue {
    BadValue::from(s.type_.as_str())
}

fn field_of(path: Option<&Path>) -> String {
    path.map_or_else(|| "<nil>".to_string(), String::from)
}

fn type_error(path: Option<&Path>, s: &StructuralSchema, detail: &str) -> FieldError {
    FieldError {
        reason: reason::INVALID,
        field: field_of(path),
        message: format!("Invalid value: {}: {detail}", type_name(s)),
    }
}

fn rule_text(rule: &ValidationRule) -> String {
    if rule.message.is_empty() {
        rule.rule.trim().to_string()
    } else {
        rule.message.trim().to_string()
    }
}

fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        other => other.to_string(),
    }
}

fn evaluation_error(
    path: Option<&Path>,
    s: &StructuralSchema,
    rule: &ValidationRule,
    e: &ExecutionError,
) -> FieldError {
    let detail = match e {
        ExecutionError::UnsupportedBinaryOperator(..) | ExecutionError::NoSuchOverload(_) => {
            format!(
                "'no such overload: {e}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                rule_text(rule)
            )
        }
        _ => format!("{} evaluating rule: {}", error_text(e), rule_text(rule)),
    };
    type_error(path, s, &detail)
}

fn failure(
    obj: &Value,
    s: &StructuralSchema,
    path: Option<&Path>,
    rule: &ValidationRule,
    compiled: &CompiledRule,
    ctx: &Context,
) -> FieldError {
    let mut field = path.cloned();
    if !rule.field_path.is_empty()
        && let Ok(rel) = resolve_field_path(&rule.field_path, s)
        && !rel.is_empty()
    {
        field = Some(child_path(path, &rel, false));
    }
    let detail = compiled
        .message
        .as_ref()
        .and_then(|m| message_from(m, ctx))
        .unwrap_or_else(|| {
            if rule.message.is_empty() {
                format!("failed rule: {}", rule.rule.trim())
            } else {
                rule.message.trim().to_string()
            }
        });
    let field = field_of(field.as_ref());
    let omit = s.type_ == "object" || s.type_ == "array";
    let value = if omit {
        None
    } else {
        Some(BadValue::from(obj))
    };
    match rule.reason.as_deref() {
        Some("FieldValueForbidden") => FieldError::forbidden(field, &detail),
        Some("FieldValueRequired") => FieldError::required_because(field, &detail),
        Some("FieldValueDuplicate") => FieldError {
            reason: reason::DUPLICATE,
            field,
            message: match value {
                Some(v) => format!("Duplicate value: {v}"),
                None => "Duplicate value".to_string(),
            },
        },
        _ => FieldError {
            reason: reason::INVALID,
            field,
            message: match value {
                Some(v) => format!("Invalid value: {v}: {detail}"),
                None => format!("Invalid value: {detail}"),
            },
        },
    }
}

/// The evaluated `messageExpression`, when it gives a usable message.
fn message_from(program: &cel::Program, ctx: &Context) -> Option<String> {
    match program.execute(ctx) {
        Ok(Cel::String(s)) => {
            let trimmed = s.trim();
            let usable = !trimmed.is_empty()
                && trimmed.len() <= MAX_MESSAGE_BYTES
                && !trimmed.contains('\n');
            usable.then(|| trimmed.to_string())
        }
        _ => None,
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
                    "x-kubernetes-validations": [
                        {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas"},
                        {"rule": "self.mode == oldSelf.mode", "message": "mode is immutable", "fieldPath": ".mode"}
                    ],
                    "properties": {
                        "minReplicas": {"type": "integer"},
                        "maxReplicas": {"type": "integer"},
                        "mode": {"type": "string"},
                        "name": {
                            "type": "string",
                            "x-kubernetes-validations": [{
                                "rule": "self.startsWith('app-')",
                                "messageExpression": "'name ' + self + ' must start with app-'"
                            }]
                        }
                    }
                }
            }
        }))
    }

    fn run(obj: Value, old: Option<Value>) -> Vec<String> {
        evaluate_rules(&obj, old.as_ref(), &schema())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn failed_rules_report_their_message_at_the_node() {
        let errs = run(
            json!({"spec": {"minReplicas": 5, "maxReplicas": 2, "mode": "a"}}),
            None,
        );
        assert_eq!(
            errs,
            vec!["spec: Invalid value: minReplicas must not exceed maxReplicas"]
        );
    }

    #[test]
    fn transition_rules_run_only_on_update() {
        let new = json!({"spec": {"minReplicas": 1, "maxReplicas": 2, "mode": "b"}});
        assert!(run(new.clone(), None).is_empty());
        let old = json!({"spec": {"minReplicas": 1, "maxReplicas": 2, "mode": "a"}});
        assert_eq!(
            run(new, Some(old)),
            vec!["spec.mode: Invalid value: mode is immutable"]
        );
    }

    #[test]
    fn message_expressions_build_the_message() {
        let errs = run(
            json!({"spec": {"minReplicas": 1, "maxReplicas": 2, "name": "db"}}),
            None,
        );
        assert_eq!(
            errs,
            vec!["spec.name: Invalid value: \"db\": name db must start with app-"]
        );
    }

    #[test]
    fn unchanged_values_ratchet_non_transition_rules() {
        let old = json!({"spec": {"minReplicas": 5, "maxReplicas": 2, "mode": "a"}});
        assert!(run(old.clone(), Some(old)).is_empty());
    }

    #[test]
    fn missing_fields_are_evaluation_errors() {
        let errs = run(json!({"spec": {"maxReplicas": 2}}), None);
        assert_eq!(
            errs,
            vec![
                "spec: Invalid value: \"object\": no such key: minReplicas evaluating rule: \
                 minReplicas must not exceed maxReplicas"
            ]
        );
    }
}
