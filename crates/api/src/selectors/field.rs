//! Field selectors: `f=v`, `f==v` and `f!=v` terms joined by commas, with `\,`,
//! `\=` and `\\` escaping commas, equals signs and backslashes in values.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::SelectorError;
use super::fields_by_kind::{check_supported, field_value};
use crate::ResourceInfo;

/// How a term compares a field with its value (`=` and `==` are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field op value` term, with the value unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

impl FieldRequirement {
    fn holds_for(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A conjunction of field terms; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses upstream's string form. Terms are kept sorted, as upstream does.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(input);
        terms.sort_unstable();
        let requirements = terms
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(|term| parse_term(input, term))
            .collect::<Result<_, _>>()?;
        Ok(FieldSelector { requirements })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `obj` satisfies every term. A field the kind does not expose reads
    /// as the empty string, so `spec.nodeName=` matches unscheduled pods.
    pub fn matches(&self, resource: &ResourceInfo, obj: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = field_value(resource, obj, &r.field).unwrap_or_default();
            r.holds_for(&actual)
        })
    }

    /// Checks that the kind accepts every field, as upstream's field label
    /// conversion does before a list or watch runs.
    pub fn validate_for(&self, resource: &ResourceInfo) -> Result<(), SelectorError> {
        self.requirements
            .iter()
            .try_for_each(|r| check_supported(resource, &r.field))
    }

    /// The value an `=`/`==` term requires of `field`, if there is such a term
    /// (lets the server pick an index, e.g. pods by spec.nodeName).
    pub fn exact_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Escapes `\`, `,` and `=` in a value so it can be written into a selector.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits on commas that are not escaped by a backslash.
fn split_terms(input: &str) -> Vec<&str> {
    if input.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
}

/// Splits a term at its first operator: the field part takes no escapes.
fn parse_term(selector: &str, term: &str) -> Result<FieldRequirement, SelectorError> {
    let syntax = || SelectorError::FieldSyntax {
        selector: selector.to_string(),
        term: term.to_string(),
    };
    let (at, operator, len) = term
        .char_indices()
        .find_map(|(i, _)| operator_at(&term[i..]).map(|(op, len)| (i, op, len)))
        .ok_or_else(syntax)?;
    Ok(FieldRequirement {
        field: term[..at].to_string(),
        operator,
        value: unescape_value(&term[at + len..])?,
    })
}

fn operator_at(rest: &str) -> Option<(FieldOperator, usize)> {
    if rest.starts_with("!=") {
        Some((FieldOperator::NotEquals, 2))
    } else if rest.starts_with("==") {
        Some((FieldOperator::Equals, 2))
    } else if rest.starts_with('=') {
        Some((FieldOperator::Equals, 1))
    } else {
        None
    }
}

/// Removes the escapes of `\\`, `\,` and `\=`; any other escape, a trailing
/// backslash, or a bare `,` or `=` is an error.
fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(SelectorError::InvalidEscape(format!("\\{e}"))),
                None => return Err(SelectorError::InvalidEscape("\\".to_string())),
            },
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::builtin_resources;

    fn resource(group: &str, plural: &str) -> ResourceInfo {
        let all = builtin_resources();
        let found = all.iter().find(|r| r.group == group && r.plural == plural);
        found
            .map(|r| r.as_ref().clone())
            .unwrap_or_else(|| panic!("no {plural}"))
    }

    fn req(field: &str, operator: FieldOperator, value: &str) -> FieldRequirement {
        FieldRequirement {
            field: field.into(),
            operator,
            value: value.into(),
        }
    }

    #[test]
    fn field_selector_parses_all_three_operators() {
        let s = FieldSelector::parse("b==2,a=1,c!=3").unwrap();
        assert_eq!(
            s.requirements(),
            [
                req("a", FieldOperator::Equals, "1"),
                req("b", FieldOperator::Equals, "2"),
                req("c", FieldOperator::NotEquals, "3"),
            ]
        );
        assert_eq!(s.to_string(), "a=1,b=2,c!=3");
    }

    #[test]
    fn empty_field_selector_and_empty_terms_select_everything() {
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert_eq!(
            FieldSelector::parse("a=1,,").unwrap().requirements().len(),
            1
        );
    }

    #[test]
    fn field_selector_values_unescape_commas_equals_and_backslashes() {
        let s = FieldSelector::parse(r"metadata.name=a\,b\=c\\d,x=y").unwrap();
        assert_eq!(s.exact_value("metadata.name"), Some(r"a,b=c\d"));
        assert_eq!(s.exact_value("x"), Some("y"));
        assert_eq!(s.to_string(), r"metadata.name=a\,b\=c\\d,x=y");
    }

    #[test]
    fn escape_value_round_trips_through_parse() {
        let value = r"we,ird=na\me";
        let s = FieldSelector::parse(&format!("f={}", escape_value(value))).unwrap();
        assert_eq!(s.exact_value("f"), Some(value));
    }

    #[test]
    fn field_selector_errors_are_clear() {
        assert_eq!(
            FieldSelector::parse("a=1,b").unwrap_err().to_string(),
            "invalid selector: 'a=1,b'; can't understand 'b'"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err(),
            SelectorError::InvalidEscape(r"\x".into())
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err(),
            SelectorError::InvalidEscape(r"\".into())
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            SelectorError::UnescapedCharacter('=')
        );
    }

    #[test]
    fn first_operator_in_a_term_splits_field_from_value() {
        let s = FieldSelector::parse("a!=b").unwrap();
        assert_eq!(s.requirements(), [req("a", FieldOperator::NotEquals, "b")]);
        assert!(FieldSelector::parse("a!==b").is_err());
    }

    #[test]
    fn exact_value_ignores_not_equals_terms() {
        let s = FieldSelector::parse("spec.nodeName!=n1").unwrap();
        assert_eq!(s.exact_value("spec.nodeName"), None);
    }

    #[test]
    fn unset_node_name_matches_the_empty_value() {
        let pods = resource("", "pods");
        let pending = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {}});
        let bound = json!({"metadata": {"name": "q"}, "spec": {"nodeName": "n1"}});
        let unscheduled = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(unscheduled.matches(&pods, &pending));
        assert!(!unscheduled.matches(&pods, &bound));
        let on_n1 = FieldSelector::parse("spec.nodeName==n1,metadata.name!=x").unwrap();
        assert!(on_n1.matches(&pods, &bound));
        assert!(!on_n1.matches(&pods, &pending));
    }

    #[test]
    fn validate_for_uses_the_kinds_field_labels() {
        let pods = resource("", "pods");
        let ok = FieldSelector::parse("status.phase=Running,spec.host=n1").unwrap();
        assert_eq!(ok.validate_for(&pods), Ok(()));
        let bad = FieldSelector::parse("spec.foo=1").unwrap();
        assert_eq!(
            bad.validate_for(&pods).unwrap_err().to_string(),
            "field label not supported: spec.foo"
        );
        let deployments = resource("apps", "deployments");
        assert_eq!(
            bad.validate_for(&deployments).unwrap_err().to_string(),
            "\"spec.foo\" is not a known field selector: only \"metadata.name\", \
             \"metadata.namespace\""
        );
    }
}
