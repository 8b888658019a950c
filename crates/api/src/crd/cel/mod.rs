//! `x-kubernetes-validations`: CEL rules compiled when a CRD is validated and evaluated
//! against custom resources, with `self`, `oldSelf` (transition rules, on update only),
//! `messageExpression`, `reason` and `fieldPath` as upstream defines them.
//!
//! Rules are parsed and run by the `cel` crate with the CEL standard library and the
//! strings extension. Upstream type-checks rules against the schema when the CRD is
//! written and estimates their cost; skiff parses them, rejects calls to functions it
//! does not provide (the Kubernetes libraries: `quantity`, `url`, `ip`, `isSorted`...),
//! and reports type errors when a rule runs instead.

mod convert;
mod eval;

use std::sync::Arc;

use cel::{Env, Program};

pub(crate) use eval::{evaluate_rules, evaluate_rules_on_default};

use super::schema::{StructuralSchema, ValidationRule};
use crate::validation::Path;

/// The name of the value a rule validates.
pub const SELF: &str = "self";
/// The name of the previous value in transition rules.
pub const OLD_SELF: &str = "oldSelf";

/// Functions (besides operators and macros) rules may call.
const FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "string",
    "int",
    "uint",
    "double",
    "bytes",
    "bool",
    "dyn",
    "type",
    "duration",
    "timestamp",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "strings.quote",
    "reverse",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "hasValue",
    "value",
    "orValue",
    "or",
];

/// A rule ready to run.
pub(crate) struct CompiledRule {
    pub program: Program,
    pub uses_old_self: bool,
    pub message: Option<Program>,
}

/// Why a rule did not compile, with upstream's detail text.
#[derive(Debug, PartialEq)]
pub(crate) enum CompileError {
    Rule(String),
    MessageExpression(String),
}

thread_local! {
    static ENV: Arc<Env> = Arc::new(build_env());
}

fn build_env() -> Env {
    let mut env = Env::stdlib();
    if let Err(e) = env.add_extension(cel::extensions::strings) {
        tracing::error!(error = %e, "CEL strings extension could not be registered");
    }
    env
}

pub(crate) fn env() -> Arc<Env> {
    ENV.with(Arc::clone)
}

fn is_operator(name: &str) -> bool {
    name.starts_with('_')
        || name.starts_with('@')
        || name.starts_with("!_")
        || name.starts_with("-_")
}

fn parse(source: &str) -> Result<Program, String> {
    let program = env().compile(source).map_err(|e| e.to_string())?;
    let references = program.references();
    let mut unknown: Vec<&str> = references
        .functions()
        .into_iter()
        .filter(|f| !is_operator(f) && !FUNCTIONS.contains(f))
        .collect();
    unknown.sort_unstable();
    if let Some(f) = unknown.first() {
        return Err(format!(
            "ERROR: <input>: undeclared reference to '{f}' (in container ''): skiff does not \
             provide this function"
        ));
    }
    Ok(program)
}

/// Compiles a rule and its `messageExpression`.
pub(crate) fn compile(rule: &ValidationRule) -> Result<CompiledRule, CompileError> {
    let program =
        parse(&rule.rule).map_err(|e| CompileError::Rule(format!("compilation failed: {e}")))?;
    let uses_old_self = program.references().has_variable(OLD_SELF);
    let message = if rule.message_expression.is_empty() {
        None
    } else {
        let compiled = parse(&rule.message_expression).map_err(|e| {
            CompileError::MessageExpression(format!("messageExpression compilation failed: {e}"))
        })?;
        Some(compiled)
    };
    Ok(CompiledRule {
        program,
        uses_old_self,
        message,
    })
}

const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name under which a property is visible to rules (`__dash__` for `-` and so on),
/// or `None` when rules cannot reach it.
pub fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "_.-/".contains(c));
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    if !first_ok || !rest_ok {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// A rule's `fieldPath` (`.spec.replicas`, `.labels['app']`) resolved against the schema
/// of the node it sits on, as a field path relative to that node.
pub fn resolve_field_path(field_path: &str, schema: &StructuralSchema) -> Result<String, String> {
    resolve_with_schema(field_path, schema, true).map(|(p, _)| p)
}

/// A simple JSON path (`.spec.color`, `.labels['app']` when `allow_array` holds) resolved
/// against a schema: the normalized field path and the schema it points at.
pub fn resolve_with_schema<'a>(
    field_path: &str,
    schema: &'a StructuralSchema,
    allow_array: bool,
) -> Result<(String, &'a StructuralSchema), String> {
    let tokens = tokenize(field_path);
    let mut path: Option<Path> = None;
    let mut s = schema;
    let mut i = 0;
    while i < tokens.len() {
        let name = match tokens[i].as_str() {
            "." => tokens
                .get(i + 1)
                .ok_or("unexpected end of JSON path")?
                .clone(),
            "[" => {
                if !allow_array {
                    return Err("array notation is not allowed".into());
                }
                let t = tokens.get(i + 1).ok_or("unexpected end of JSON path")?;
                match tokens.get(i + 2).map(String::as_str) {
                    Some("]") => {}
                    Some(other) => return Err(format!("expected ] but got {other}")),
                    None => return Err("unexpected end of JSON path".into()),
                }
                i += 1;
                unquote(t)?
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        };
        i += 2;
        let (next, keyed) = if !s.properties.is_empty() {
            let p = s
                .properties
                .get(&name)
                .ok_or("does not refer to a valid field")?;
            (p, false)
        } else if let Some(ap) = s.additional_properties_schema() {
            (ap, true)
        } else {
            return Err("does not refer to a valid field".into());
        };
        path = Some(match (path, keyed) {
            (None, false) => Path::new(&name),
            (None, true) => Path::new("").key(&name),
            (Some(p), false) => p.child(&name),
            (Some(p), true) => p.key(&name),
        });
        s = next;
    }
    Ok((path.map(String::from).unwrap_or_default(), s))
}

fn tokenize(path: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = path.chars().peekable();
    let mut current = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                current.push(c);
                let mut escaped = false;
                for c in chars.by_ref() {
                    current.push(c);
                    if c == '\'' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
            }
            '.' | '[' | ']' => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                tokens.push(c.to_string());
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn unquote(token: &str) -> Result<String, String> {
    let inner = token
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|_| token.len() >= 2)
        .ok_or_else(|| format!("expected single quoted string but got {token}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('\'') => '\'',
            Some('\\') => '\\',
            Some(other) => {
                return Err(format!(
                    "invalid string literal: invalid escape char \\{other}"
                ));
            }
            None => return Err("invalid string literal".into()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_names_are_escaped_for_rules() {
        assert_eq!(escape("foo-bar").as_deref(), Some("foo__dash__bar"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("a b"), None);
    }

    #[test]
    fn field_paths_resolve_against_the_schema() {
        let s = StructuralSchema::parse_unchecked(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }));
        assert_eq!(
            resolve_field_path(".spec.replicas", &s).as_deref(),
            Ok("spec.replicas")
        );
        assert_eq!(
            resolve_field_path(".labels['app']", &s).as_deref(),
            Ok("labels[app]")
        );
        assert!(resolve_field_path(".spec.nope", &s).is_err());
    }

    #[test]
    fn rules_calling_unknown_functions_do_not_compile() {
        let rule = ValidationRule {
            rule: "quantity(self.size).isGreaterThan(quantity('1Gi'))".into(),
            ..Default::default()
        };
        let err = compile(&rule).err().expect("must fail");
        assert!(matches!(err, CompileError::Rule(m) if m.contains("skiff does not provide")));
    }

    #[test]
    fn syntax_errors_are_compile_errors() {
        let rule = ValidationRule {
            rule: "self.a >".into(),
            ..Default::default()
        };
        let Err(CompileError::Rule(m)) = compile(&rule) else {
            panic!("expected a compile error");
        };
        assert!(
            m.starts_with("compilation failed: ERROR: <input>:1:"),
            "{m}"
        );
    }
}
