//! Label selectors: the string grammar, the `metav1.LabelSelector` JSON form, and
//! matching against label sets.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::SelectorError;
use super::lexer::{Token, tokenize};
use super::names::{validate_label_key, validate_label_value};

/// How a requirement compares a label with its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One condition on one label key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and without duplicates.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values and that their number
    /// fits the operator.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        validate_label_key(key)?;
        let values: Vec<String> = values
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        check_value_count(key, operator, &values)?;
        for value in &values {
            validate_label_value(value)?;
        }
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set, read through `get`, satisfies this requirement. Absent
    /// labels satisfy `!=` and `notin`, as upstream.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        let label = get(&self.key);
        let contains = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => label.is_some_and(contains),
            Operator::NotEquals | Operator::NotIn => !label.is_some_and(contains),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => self.compare_integers(label),
        }
    }

    fn compare_integers(&self, label: Option<&str>) -> bool {
        let Some(actual) = label.and_then(|l| l.parse::<i64>().ok()) else {
            return false;
        };
        let Some(bound) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
            return false;
        };
        match self.operator {
            Operator::GreaterThan => actual > bound,
            _ => actual < bound,
        }
    }
}

fn check_value_count(
    key: &str,
    operator: Operator,
    values: &[String],
) -> Result<(), SelectorError> {
    let invalid = |reason| {
        Err(SelectorError::InvalidRequirement {
            key: key.to_string(),
            reason,
        })
    };
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            invalid("the in and notin operators need at least one value")
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            invalid("the =, == and != operators need exactly one value")
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            invalid("the exists and does-not-exist operators take no values")
        }
        Operator::GreaterThan | Operator::LessThan => match values {
            [v] if v.parse::<i64>().is_ok() => Ok(()),
            [_] => invalid("the > and < operators need an integer value"),
            _ => invalid("the > and < operators need exactly one value"),
        },
        _ => Ok(()),
    }
}

impl fmt::Display for Requirement {
    /// Upstream's canonical form: `!k`, `k`, `k=v`, `k in (a,b)`, `k>3` ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return f.write_str(&self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
        };
        let values = self.values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{op}({values})", self.key),
            _ => write!(f, "{}{op}{values}", self.key),
        }
    }
}

/// A conjunction of requirements. The empty selector matches everything; the one
/// built from a missing (`null`) `metav1.LabelSelector` matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches no object.
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// A selector of these requirements, kept in key order as upstream prints them.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// Parses upstream's string form; the empty string selects everything.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let requirements = Parser {
            tokens: tokenize(input),
            pos: 0,
        }
        .selector()?;
        Ok(Self::from_requirements(requirements))
    }

    /// Builds a selector from a `metav1.LabelSelector` (matchLabels plus
    /// matchExpressions); `null` selects nothing and `{}` everything.
    pub fn from_label_selector_json(sel: &Value) -> Result<Self, SelectorError> {
        let obj = match sel {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(obj) => obj,
            _ => return Err(shape_error("a label selector must be an object")),
        };
        let mut requirements = match_labels(obj.get("matchLabels"))?;
        requirements.extend(match_expressions(obj.get("matchExpressions"))?);
        Ok(Self::from_requirements(requirements))
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector has no requirements and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.nothing
    }

    /// Whether a label set read through `get` satisfies every requirement.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(&get))
    }

    /// Whether `metadata.labels`-shaped JSON labels satisfy the selector. Labels
    /// whose value is not a string count as absent.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.matches_with(|key| labels.get(key).and_then(Value::as_str))
    }

    /// Whether an object's `metadata.labels` satisfy the selector.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        self.matches_with(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str))
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelSelector::parse(s)
    }
}

impl fmt::Display for LabelSelector {
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

fn shape_error(message: &str) -> SelectorError {
    SelectorError::InvalidLabelSelector(message.to_string())
}

fn match_labels(value: Option<&Value>) -> Result<Vec<Requirement>, SelectorError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| shape_error("matchLabels must be an object"))?;
    map.iter()
        .map(|(key, v)| {
            let v = v
                .as_str()
                .ok_or_else(|| shape_error("matchLabels values must be strings"))?;
            Requirement::new(key, Operator::Equals, vec![v.to_string()])
        })
        .collect()
}

fn match_expressions(value: Option<&Value>) -> Result<Vec<Requirement>, SelectorError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| shape_error("matchExpressions must be a list"))?;
    list.iter().map(match_expression).collect()
}

fn match_expression(expr: &Value) -> Result<Requirement, SelectorError> {
    let key = expr["key"].as_str().unwrap_or_default();
    let operator = match expr["operator"].as_str().unwrap_or_default() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::InvalidOperator(other.to_string())),
    };
    let values = match &expr["values"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| shape_error("matchExpressions values must be strings"))?,
        _ => return Err(shape_error("matchExpressions values must be a list")),
    };
    Requirement::new(key, operator, values)
}

/// A recursive-descent reader over the tokens of a selector string.
struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

fn syntax(found: Token<'_>, expected: &'static str) -> SelectorError {
    SelectorError::LabelSyntax {
        found: found.literal().to_string(),
        expected,
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token<'a> {
        self.tokens.get(self.pos).copied().unwrap_or(Token::End)
    }

    fn next(&mut self) -> Token<'a> {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn starts_requirement(token: Token<'_>) -> bool {
        token == Token::Bang || token.as_word().is_some()
    }

    /// requirement (',' requirement)* | empty
    fn selector(mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        match self.peek() {
            Token::End => return Ok(requirements),
            t if Self::starts_requirement(t) => {}
            t => return Err(syntax(t, "!, identifier, or 'end of string'")),
        }
        loop {
            requirements.push(self.requirement()?);
            match self.next() {
                Token::End => return Ok(requirements),
                Token::Comma if Self::starts_requirement(self.peek()) => {}
                Token::Comma => return Err(syntax(self.peek(), "identifier after ','")),
                t => return Err(syntax(t, "',' or 'end of string'")),
            }
        }
    }

    /// '!' key | key | key op value(s)
    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = self.peek() == Token::Bang;
        if negated {
            self.next();
        }
        let token = self.next();
        let key = token.as_word().ok_or_else(|| syntax(token, "identifier"))?;
        validate_label_key(key)?;
        if negated {
            return Requirement::new(key, Operator::DoesNotExist, Vec::new());
        }
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Requirement::new(key, Operator::Exists, Vec::new());
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        Requirement::new(key, operator, values)
    }

    fn operator(&mut self) -> Result<Operator, SelectorError> {
        Ok(match self.next() {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            t => return Err(syntax(t, "one of in, notin, =, ==, !=, >, <")),
        })
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing before a comma or the
    /// end means the empty value.
    fn exact_value(&mut self) -> Result<String, SelectorError> {
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        let token = self.next();
        token
            .as_word()
            .map(str::to_string)
            .ok_or_else(|| syntax(token, "identifier"))
    }

    /// '(' values ')', where `()` is the single empty value, as upstream.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let open = self.next();
        if open != Token::OpenParen {
            return Err(syntax(open, "'('"));
        }
        match self.peek() {
            Token::CloseParen => {
                self.next();
                Ok(vec![String::new()])
            }
            t if t == Token::Comma || t.as_word().is_some() => {
                let values = self.value_list()?;
                match self.next() {
                    Token::CloseParen => Ok(values),
                    t => Err(syntax(t, "')'")),
                }
            }
            t => Err(syntax(t, "',', ')' or identifier")),
        }
    }

    /// Comma-separated values up to (not including) `)`. Empty items between
    /// commas are empty values.
    fn value_list(&mut self) -> Result<Vec<String>, SelectorError> {
        let mut values = Vec::new();
        loop {
            let token = self.next();
            if let Some(word) = token.as_word() {
                values.push(word.to_string());
                match self.peek() {
                    Token::Comma => continue,
                    Token::CloseParen => return Ok(values),
                    t => return Err(syntax(t, "',' or ')'")),
                }
            }
            if token != Token::Comma {
                return Err(syntax(token, "',', or identifier"));
            }
            if values.is_empty() {
                values.push(String::new());
            }
            match self.peek() {
                Token::CloseParen => {
                    values.push(String::new());
                    return Ok(values);
                }
                Token::Comma => {
                    self.next();
                    values.push(String::new());
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    fn sel(s: &str) -> LabelSelector {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = sel("");
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
        assert_eq!(s.to_string(), "");
    }

    #[test]
    fn equality_forms_match_only_the_given_value() {
        for s in ["a=b", "a==b", " a = b "] {
            let s = sel(s);
            assert!(s.matches(&labels(&[("a", "b")])));
            assert!(!s.matches(&labels(&[("a", "c")])));
            assert!(!s.matches(&labels(&[])));
        }
    }

    #[test]
    fn not_equals_matches_absent_labels() {
        let s = sel("a!=b");
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "c")])));
        assert!(!s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn label_selector_with_in_matches_any_listed_value() {
        let s = sel("env in (prod, staging)");
        assert!(s.matches(&labels(&[("env", "prod")])));
        assert!(s.matches(&labels(&[("env", "staging")])));
        assert!(!s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn label_selector_with_notin_excludes_matching_values() {
        let s = sel("env notin (prod)");
        assert!(!s.matches(&labels(&[("env", "prod")])));
        assert!(s.matches(&labels(&[("env", "dev")])));
        assert!(s.matches(&labels(&[])));
    }

    #[test]
    fn exists_and_does_not_exist_test_presence_only() {
        let s = sel("a,!b");
        assert!(s.matches(&labels(&[("a", "")])));
        assert!(!s.matches(&labels(&[("a", "x"), ("b", "y")])));
        assert!(!s.matches(&labels(&[("b", "y")])));
    }

    #[test]
    fn greater_and_less_than_compare_integer_labels() {
        let s = sel("replicas>1,replicas<5");
        assert!(s.matches(&labels(&[("replicas", "3")])));
        assert!(!s.matches(&labels(&[("replicas", "5")])));
        assert!(!s.matches(&labels(&[("replicas", "1")])));
        assert!(!s.matches(&labels(&[("replicas", "many")])));
        assert!(!s.matches(&labels(&[])));
    }

    #[test]
    fn comma_joins_requirements_with_and() {
        let s = sel("app=web,tier=front");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn keywords_are_allowed_as_keys_and_values() {
        let s = sel("in=notin");
        assert!(s.matches(&labels(&[("in", "notin")])));
        assert!(sel("a in (in,notin)").matches(&labels(&[("a", "in")])));
    }

    #[test]
    fn missing_value_after_equals_means_the_empty_value() {
        let s = sel("a=,b");
        assert!(s.matches(&labels(&[("a", ""), ("b", "x")])));
        assert!(!s.matches(&labels(&[("a", "x"), ("b", "x")])));
    }

    #[test]
    fn empty_items_in_a_value_list_are_empty_values() {
        assert_eq!(sel("a in ()").requirements()[0].values(), [""]);
        assert_eq!(sel("a in (,x)").requirements()[0].values(), ["", "x"]);
        assert_eq!(sel("a in (x,)").requirements()[0].values(), ["", "x"]);
        assert_eq!(
            sel("a in (x,,y)").requirements()[0].values(),
            ["", "x", "y"]
        );
    }

    #[test]
    fn display_sorts_keys_and_values_like_upstream() {
        let s = sel("z in (b,a),a!=1,!m,k,n>3,d==x");
        assert_eq!(s.to_string(), "a!=1,d==x,k,!m,n>3,z in (a,b)");
    }

    #[test]
    fn syntax_errors_name_what_was_found_and_expected() {
        let cases = [
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                "a b",
                "found 'b', expected: one of in, notin, =, ==, !=, >, <",
            ),
            ("a=b,", "found '', expected: identifier after ','"),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            ("a in b", "found 'b', expected: '('"),
            ("a in (b", "found '', expected: ',' or ')'"),
            (
                "a (b)",
                "found '(', expected: one of in, notin, =, ==, !=, >, <",
            ),
            ("a=(", "found '(', expected: identifier"),
            ("!", "found '', expected: identifier"),
        ];
        for (input, message) in cases {
            let err = input.parse::<LabelSelector>().unwrap_err();
            assert_eq!(err.to_string(), message, "{input}");
        }
    }

    #[test]
    fn invalid_keys_and_values_are_rejected() {
        assert!(matches!(
            "Bad Key=x".parse::<LabelSelector>(),
            Err(SelectorError::LabelSyntax { .. })
        ));
        assert!(matches!(
            "-a=x".parse::<LabelSelector>(),
            Err(SelectorError::InvalidLabelKey { .. })
        ));
        assert!(matches!(
            "a=x-".parse::<LabelSelector>(),
            Err(SelectorError::InvalidLabelValue { .. })
        ));
    }

    #[test]
    fn greater_than_needs_an_integer_value() {
        let err = "a>x".parse::<LabelSelector>().unwrap_err();
        assert!(
            matches!(err, SelectorError::InvalidRequirement { .. }),
            "{err}"
        );
        assert!("a>".parse::<LabelSelector>().is_err());
        assert!(
            "a<-3".parse::<LabelSelector>().is_err(),
            "'-3' is no valid label value"
        );
    }

    #[test]
    fn json_selector_combines_match_labels_and_expressions() {
        let s = LabelSelector::from_label_selector_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(s.to_string(), "app=web,!canary,tier in (edge,front)");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("canary", "1")
        ])));
    }

    #[test]
    fn json_selector_null_matches_nothing_and_empty_matches_everything() {
        let none = LabelSelector::from_label_selector_json(&Value::Null).unwrap();
        assert!(!none.matches(&labels(&[])));
        assert!(!none.is_empty());
        let all = LabelSelector::from_label_selector_json(&json!({})).unwrap();
        assert!(all.is_empty());
        assert!(all.matches(&labels(&[("x", "y")])));
    }

    #[test]
    fn json_selector_rejects_unknown_operators_and_bad_value_counts() {
        let bad_op = json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert_eq!(
            LabelSelector::from_label_selector_json(&bad_op)
                .unwrap_err()
                .to_string(),
            "\"Gt\" is not a valid label selector operator"
        );
        let no_values = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert!(LabelSelector::from_label_selector_json(&no_values).is_err());
        let extra =
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]});
        assert!(LabelSelector::from_label_selector_json(&extra).is_err());
        assert!(LabelSelector::from_label_selector_json(&json!("app=web")).is_err());
    }

    #[test]
    fn matches_object_reads_metadata_labels() {
        let s = sel("app=web");
        assert!(s.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
        assert!(!s.matches_object(&json!({"metadata": {}})));
        assert!(!s.matches_object(&json!(null)));
        assert!(sel("!app").matches_object(&json!({})));
    }
}
