//! The JSONPath dialect of printer columns: client-go's (`{.spec.replicas}`, `['key']`,
//! `[0]`, `[-1]`, `[*]`, `[1:3]`, unions, filters such as `[?(@.type=="Ready")]`), with
//! missing keys allowed. Recursive descent (`..`), `range`/`end` and text outside the path
//! are rejected when parsed. Map wildcards (`.*`) visit keys in sorted order where
//! upstream's order is unspecified.

use serde_json::Value;

/// Why a JSONPath cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathError {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("unterminated array")]
    UnterminatedArray,
    #[error("unterminated filter")]
    UnterminatedFilter,
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("invalid escape in quoted string {0}")]
    InvalidEscape(String),
    #[error("invalid array index {0}")]
    InvalidArrayIndex(String),
    #[error("cannot parse number {0}")]
    InvalidNumber(String),
    #[error("unrecognized character in action: {0:?}")]
    UnrecognizedCharacter(char),
    #[error("unsupported filter operator {0}")]
    UnsupportedOperator(String),
    #[error("unsupported identifier {0}")]
    UnsupportedIdentifier(String),
    #[error("{0} is not supported in a column path")]
    Unsupported(&'static str),
}

/// Why a parsed JSONPath selects nothing from one object; the cell is then empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathEvalError {
    #[error("value is not an array")]
    NotAnArray,
    #[error("array index out of bounds: index {index}, length {length}")]
    OutOfBounds { index: i64, length: i64 },
    #[error("starting index {start} is greater than ending index {end}")]
    StartAfterEnd { start: i64, end: i64 },
    #[error("step must be > 0")]
    BadStep,
    #[error("incompatible types for comparison")]
    NotComparable,
    #[error("can only compare one element at a time")]
    MultipleValues,
}

/// A parsed column JSONPath.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Slice(Slice),
    Union(Vec<JsonPath>),
    Filter(Box<Filter>),
}

/// `[start:end:step]`; an end derived from a lone index (`[i]` is `[i:i+1]`) counts from
/// the array's end when it is 0, so that `[-1]` selects the last element.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Slice {
    start: Option<i64>,
    end: Option<i64>,
    end_derived: bool,
    step: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    left: Operand,
    /// `None` tests that `left` selects something.
    test: Option<(Op, Operand)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Path(JsonPath),
    Literal(Literal),
}

#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Gt,
    Eq,
    Ne,
    Le,
    Ge,
}

/// Parses a column path such as `.status.conditions[?(@.type=="Ready")].status`, as
/// upstream parses `{<path>}`.
pub fn parse_json_path(s: &str) -> Result<JsonPath, JsonPathError> {
    path_of(parse_nodes(s)?)
}

/// What the parser reads: path steps and, inside filters, literals.
enum Node {
    Step(Step),
    Literal(Literal),
}

fn path_of(nodes: Vec<Node>) -> Result<JsonPath, JsonPathError> {
    let steps = nodes
        .into_iter()
        .map(|node| match node {
            Node::Step(step) => Ok(step),
            Node::Literal(_) => Err(JsonPathError::Unsupported("a literal in a path")),
        })
        .collect::<Result<_, _>>()?;
    Ok(JsonPath { steps })
}

fn parse_nodes(input: &str) -> Result<Vec<Node>, JsonPathError> {
    let mut parser = Parser { input, pos: 0 };
    let mut nodes = Vec::new();
    while let Some(c) = parser.peek() {
        let rest = parser.rest();
        if rest.starts_with("[?(") {
            nodes.push(Node::Step(parser.filter()?));
            continue;
        }
        if rest.starts_with("..") {
            return Err(JsonPathError::Unsupported("recursive descent (..)"));
        }
        match c {
            '\r' | '\n' => return Err(JsonPathError::UnclosedAction),
            ' ' | '@' | '$' => parser.pos += 1,
            '}' => return Err(JsonPathError::Unsupported("text after the path")),
            '[' => nodes.extend(parser.array()?),
            '"' | '\'' => nodes.push(Node::Literal(Literal::Text(parser.quoted(c)?))),
            '.' => nodes.push(Node::Step(parser.field())),
            '+' | '-' | '0'..='9' => nodes.push(Node::Literal(parser.number()?)),
            c if c == '_' || c.is_alphanumeric() => nodes.push(parser.identifier()?),
            c => return Err(JsonPathError::UnrecognizedCharacter(c)),
        }
    }
    Ok(nodes)
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

/// Characters that end a field name or identifier.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
    )
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Reads while `keep` holds and returns what was read.
    fn take_while(&mut self, mut keep: impl FnMut(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            self.pos += c.len_utf8();
        }
        &self.input[start..self.pos]
    }

    /// `.name`, with `\` escaping the next character; `.*` is the wildcard.
    fn field(&mut self) -> Step {
        self.pos += 1;
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.pos += 1;
                self.next();
            } else if is_terminator(c) {
                break;
            } else {
                self.pos += c.len_utf8();
            }
        }
        let name = self.input[start..self.pos].replace('\\', "");
        match name.as_str() {
            "*" => Step::Wildcard,
            _ => Step::Field(name),
        }
    }

    fn identifier(&mut self) -> Result<Node, JsonPathError> {
        let word = self.take_while(|c| !is_terminator(c));
        match word {
            "true" => Ok(Node::Literal(Literal::Bool(true))),
            "false" => Ok(Node::Literal(Literal::Bool(false))),
            _ => Err(JsonPathError::UnsupportedIdentifier(word.to_string())),
        }
    }

    fn number(&mut self) -> Result<Literal, JsonPathError> {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.pos += 1;
        }
        self.take_while(|c| c == '.' || c.is_ascii_digit());
        let text = &self.input[start..self.pos];
        if let Ok(int) = text.parse::<i64>() {
            return Ok(Literal::Int(int));
        }
        text.parse::<f64>()
            .map(Literal::Float)
            .map_err(|_| JsonPathError::InvalidNumber(text.to_string()))
    }

    /// A quoted string; the closing quote is the first one not preceded by `\`.
    fn quoted(&mut self, quote: char) -> Result<String, JsonPathError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.next() {
                None | Some('\n') => return Err(JsonPathError::UnterminatedQuote),
                Some(c) if c == quote && self.input.as_bytes()[self.pos - 2] != b'\\' => break,
                Some(_) => {}
            }
        }
        unquote(&self.input[start..self.pos], quote)
    }

    /// `[...]`: a union, a quoted key (parsed as `.key`, so dots separate fields as
    /// upstream does) or an index or slice.
    fn array(&mut self) -> Result<Vec<Node>, JsonPathError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.next() {
                None | Some('\n') => return Err(JsonPathError::UnterminatedArray),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let text = match &self.input[start..self.pos - 1] {
            "*" => ":",
            text => text,
        };
        if text.contains(',') {
            let union = text
                .split(',')
                .map(|part| path_of(parse_nodes(&format!("[{}]", part.trim_matches(' ')))?))
                .collect::<Result<_, _>>()?;
            return Ok(vec![Node::Step(Step::Union(union))]);
        }
        let key = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .filter(|key| !key.contains('\''));
        match key {
            Some(key) => parse_nodes(&format!(".{key}")),
            None => Ok(vec![Node::Step(Step::Slice(slice(text)?))]),
        }
    }

    /// `[?(<left><op><right>)]` or `[?(<path>)]`. The filter ends at the first `)`
    /// outside a quoted string.
    fn filter(&mut self) -> Result<Step, JsonPathError> {
        self.pos += 3;
        let start = self.pos;
        let (mut open, mut closed, mut pair) = (false, false, '"');
        loop {
            let Some(c) = self.next().filter(|&c| c != '\n') else {
                return Err(JsonPathError::UnterminatedFilter);
            };
            match c {
                '"' | '\'' if !open => (open, pair) = (true, c),
                '"' | '\'' if c == pair && self.input.as_bytes()[self.pos - 2] != b'\\' => {
                    closed = true;
                }
                ')' if open == closed => break,
                _ => {}
            }
        }
        if self.next() != Some(']') {
            return Err(JsonPathError::UnterminatedFilter);
        }
        let text = &self.input[start..self.pos - 2];
        let filter = match split_comparison(text) {
            None => Filter {
                left: operand(text)?,
                test: None,
            },
            Some((left, op, right)) => Filter {
                left: operand(left)?,
                test: Some((op?, operand(right)?)),
            },
        };
        Ok(Step::Filter(Box::new(filter)))
    }
}

/// Splits `left op right` where the operator is the first run of `!<>=` after a
/// non-empty left side and is followed by a non-empty right side.
fn split_comparison(text: &str) -> Option<(&str, Result<Op, JsonPathError>, &str)> {
    let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
    let op_start = text.find(is_op).filter(|&i| i > 0)?;
    let op_len = text[op_start..].find(|c| !is_op(c))?;
    let (op, right) = text[op_start..].split_at(op_len);
    let parsed = match op {
        "<" => Ok(Op::Lt),
        ">" => Ok(Op::Gt),
        "==" => Ok(Op::Eq),
        "!=" => Ok(Op::Ne),
        "<=" => Ok(Op::Le),
        ">=" => Ok(Op::Ge),
        other => Err(JsonPathError::UnsupportedOperator(other.to_string())),
    };
    Some((&text[..op_start], parsed, right))
}

fn operand(text: &str) -> Result<Operand, JsonPathError> {
    let mut nodes = parse_nodes(text)?;
    if nodes.len() == 1
        && matches!(nodes[0], Node::Literal(_))
        && let Some(Node::Literal(literal)) = nodes.pop()
    {
        return Ok(Operand::Literal(literal));
    }
    path_of(nodes).map(Operand::Path)
}

/// An index (`[2]`, `[-1]`) or slice (`[1:3]`, `[::2]`, `[:]`).
fn slice(text: &str) -> Result<Slice, JsonPathError> {
    let invalid = || JsonPathError::InvalidArrayIndex(text.to_string());
    let parts: Vec<&str> = text.split(':').collect();
    let well_formed = |p: &&str| {
        let digits: &str = p.strip_prefix('-').unwrap_or(p);
        digits.chars().all(|c| c.is_ascii_digit())
    };
    if parts.len() > 3 || !parts.iter().all(well_formed) {
        return Err(invalid());
    }
    let number = |p: &str| match p {
        "" => Ok(None),
        p => p.parse::<i64>().map(Some).map_err(|_| invalid()),
    };
    let start = number(parts[0])?;
    let (end, end_derived) = match parts.get(1) {
        Some(p) => (number(p)?, false),
        None => (Some(start.unwrap_or(0) + 1), true),
    };
    let step = parts.get(2).map(|p| number(p)).transpose()?.flatten();
    Ok(Slice {
        start,
        end,
        end_derived,
        step,
    })
}

/// Unquotes a string in single or double quotes with Go's escapes.
fn unquote(quoted: &str, quote: char) -> Result<String, JsonPathError> {
    let invalid = || JsonPathError::InvalidEscape(quoted.to_string());
    let inner = &quoted[1..quoted.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = match chars.next().ok_or_else(invalid)? {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' => '\\',
            c if c == quote => c,
            c @ ('x' | 'u' | 'U') => {
                let digits = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(digits).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == digits)
                    .and_then(char::from_u32)
                    .ok_or_else(invalid)?
            }
            _ => return Err(invalid()),
        };
        out.push(escaped);
    }
    Ok(out)
}

impl JsonPath {
    /// The values the path selects in `value`, in order. Missing keys select nothing;
    /// indexing a non-array, an index out of bounds or an incomparable filter is an error.
    pub fn find<'a>(&self, value: &'a Value) -> Result<Vec<&'a Value>, JsonPathEvalError> {
        let mut current = vec![value];
        for step in &self.steps {
            current = step.eval(current)?;
        }
        Ok(current)
    }
}

impl Step {
    fn eval<'a>(&self, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, JsonPathEvalError> {
        match self {
            Step::Field(name) => Ok(input
                .into_iter()
                .filter_map(|v| v.as_object()?.get(name))
                .collect()),
            Step::Wildcard => Ok(input.into_iter().flat_map(children).collect()),
            Step::Slice(slice) => slice.eval(input),
            Step::Union(paths) => {
                let mut out = Vec::new();
                for path in paths {
                    for value in &input {
                        out.extend(path.find(value)?);
                    }
                }
                Ok(out)
            }
            Step::Filter(filter) => filter.eval(input),
        }
    }
}

/// The members of an object (sorted by key) or the elements of an array. Strings yield
/// nothing, where upstream would yield their bytes as numbers.
fn children(value: &Value) -> Vec<&Value> {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            members.into_iter().map(|(_, v)| v).collect()
        }
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    }
}

impl Slice {
    fn eval<'a>(&self, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, JsonPathEvalError> {
        let mut out = Vec::new();
        for value in input.into_iter().filter(|v| !v.is_null()) {
            let items = value.as_array().ok_or(JsonPathEvalError::NotAnArray)?;
            let length = items.len() as i64;
            let mut start = self.start.unwrap_or(0);
            if start < 0 {
                start += length;
            }
            let mut end = self.end.unwrap_or(length);
            if end < 0 || (end == 0 && self.end_derived) {
                end += length;
            }
            // Upstream stops at the first empty selection, dropping any later input.
            if start == end {
                return Ok(out);
            }
            if start >= length || start < 0 {
                return Err(JsonPathEvalError::OutOfBounds {
                    index: start,
                    length,
                });
            }
            if end > length || end < 0 {
                let index = end - 1;
                return Err(JsonPathEvalError::OutOfBounds { index, length });
            }
            if start > end {
                return Err(JsonPathEvalError::StartAfterEnd { start, end });
            }
            let step = match self.step {
                Some(step) if step <= 0 => return Err(JsonPathEvalError::BadStep),
                Some(step) => step as usize,
                None => 1,
            };
            out.extend(items[start as usize..end as usize].iter().step_by(step));
        }
        Ok(out)
    }
}

impl Filter {
    fn eval<'a>(&self, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, JsonPathEvalError> {
        let mut out = Vec::new();
        for value in input {
            let items = value.as_array().ok_or(JsonPathEvalError::NotAnArray)?;
            for item in items {
                if self.keeps(item)? {
                    out.push(item);
                }
            }
        }
        Ok(out)
    }

    fn keeps(&self, item: &Value) -> Result<bool, JsonPathEvalError> {
        let Some((op, right)) = &self.test else {
            // Upstream's failed evaluations yield their input, which counts as found.
            return Ok(!self.left.values(item).is_ok_and(|v| v.is_empty()));
        };
        let Some(left) = single(self.left.values(item)?)? else {
            return Ok(false);
        };
        let Some(right) = single(right.values(item)?)? else {
            return Ok(false);
        };
        compare(*op, &left, &right)
    }
}

fn single(values: Vec<Scalar>) -> Result<Option<Scalar>, JsonPathEvalError> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.into_iter().next()),
        _ => Err(JsonPathEvalError::MultipleValues),
    }
}

/// A value in a filter comparison; `Other` (null, objects, arrays) compares with nothing.
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Other,
}

impl Scalar {
    fn of(value: &Value) -> Scalar {
        match value {
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Scalar::Int(i),
                None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Scalar::Text(s.clone()),
            _ => Scalar::Other,
        }
    }
}

impl Operand {
    fn values(&self, item: &Value) -> Result<Vec<Scalar>, JsonPathEvalError> {
        match self {
            Operand::Path(path) => Ok(path.find(item)?.into_iter().map(Scalar::of).collect()),
            Operand::Literal(literal) => Ok(vec![match literal {
                Literal::Text(s) => Scalar::Text(s.clone()),
                Literal::Int(i) => Scalar::Int(*i),
                Literal::Float(f) => Scalar::Float(*f),
                Literal::Bool(b) => Scalar::Bool(*b),
            }]),
        }
    }
}

/// Go template comparison: both sides of one basic kind (no integer-float mixing);
/// booleans only compare for equality.
fn compare(op: Op, left: &Scalar, right: &Scalar) -> Result<bool, JsonPathEvalError> {
    let equal = || match (left, right) {
        (Scalar::Bool(a), Scalar::Bool(b)) => Ok(a == b),
        (Scalar::Int(a), Scalar::Int(b)) => Ok(a == b),
        (Scalar::Float(a), Scalar::Float(b)) => Ok(a == b),
        (Scalar::Text(a), Scalar::Text(b)) => Ok(a == b),
        _ => Err(JsonPathEvalError::NotComparable),
    };
    let less = || match (left, right) {
        (Scalar::Int(a), Scalar::Int(b)) => Ok(a < b),
        (Scalar::Float(a), Scalar::Float(b)) => Ok(a < b),
        (Scalar::Text(a), Scalar::Text(b)) => Ok(a < b),
        _ => Err(JsonPathEvalError::NotComparable),
    };
    match op {
        Op::Eq => equal(),
        Op::Ne => equal().map(|e| !e),
        Op::Lt => less(),
        Op::Ge => less().map(|l| !l),
        Op::Le => Ok(less()? || equal()?),
        Op::Gt => Ok(!(less()? || equal()?)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find(path: &str, obj: &Value) -> Result<Vec<Value>, JsonPathEvalError> {
        let parsed = parse_json_path(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        parsed.find(obj).map(|v| v.into_iter().cloned().collect())
    }

    fn pod_like() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "a": {"b": "nested"}}},
            "spec": {"replicas": 3, "ratio": 0.5, "hosts": ["a", "b", "c", "d"], "paused": false,
                "servers": [{"hosts": ["foo"]}, {"hosts": ["bar", "baz"]}]},
            "status": {"conditions": [
                {"type": "Available", "status": "False", "count": 1},
                {"type": "Ready", "status": "True", "count": 2},
            ]},
        })
    }

    #[test]
    fn dotted_fields_and_bracket_keys_select_members() {
        let obj = pod_like();
        assert_eq!(find(".spec.replicas", &obj), Ok(vec![json!(3)]));
        assert_eq!(find("$.spec['replicas']", &obj), Ok(vec![json!(3)]));
        assert_eq!(
            find(".metadata.labels.app\\.kubernetes\\.io/name", &obj),
            Ok(vec![json!("web")])
        );
        // Inside brackets dots still separate fields, as client-go parses `['a.b']`.
        assert_eq!(
            find(".metadata.labels['a.b']", &obj),
            Ok(vec![json!("nested")])
        );
        assert_eq!(find(".spec.missing.deeper", &obj), Ok(vec![]));
        assert_eq!(find(".spec.replicas.deeper", &obj), Ok(vec![]));
    }

    #[test]
    fn indexes_and_slices_count_from_either_end() {
        let obj = pod_like();
        assert_eq!(find(".spec.hosts[0]", &obj), Ok(vec![json!("a")]));
        assert_eq!(find(".spec.hosts[-1]", &obj), Ok(vec![json!("d")]));
        assert_eq!(
            find(".spec.hosts[1:3]", &obj),
            Ok(vec![json!("b"), json!("c")])
        );
        assert_eq!(
            find(".spec.hosts[::2]", &obj),
            Ok(vec![json!("a"), json!("c")])
        );
        assert_eq!(find(".spec.hosts[*]", &obj).unwrap().len(), 4);
        assert_eq!(
            find(".spec.hosts[0,2]", &obj),
            Ok(vec![json!("a"), json!("c")])
        );
        assert_eq!(
            find(".spec.hosts[9]", &obj),
            Err(JsonPathEvalError::OutOfBounds {
                index: 9,
                length: 4
            })
        );
        assert_eq!(find(".spec[0]", &obj), Err(JsonPathEvalError::NotAnArray));
        assert_eq!(
            find(".spec.servers[*].hosts[0]", &obj),
            Ok(vec![json!("foo"), json!("bar")])
        );
    }

    #[test]
    fn filters_compare_one_value_of_each_element() {
        let obj = pod_like();
        let ready = r#".status.conditions[?(@.type=="Ready")].status"#;
        assert_eq!(find(ready, &obj), Ok(vec![json!("True")]));
        let spaced = r#".status.conditions[?(@.type == 'Ready')].status"#;
        assert_eq!(find(spaced, &obj), Ok(vec![json!("True")]));
        assert_eq!(
            find(".status.conditions[?(@.count>1)].type", &obj),
            Ok(vec![json!("Ready")])
        );
        assert_eq!(
            find(".status.conditions[?(@.count)].type", &obj)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(find(".status.conditions[?(@.nope)].type", &obj), Ok(vec![]));
        // An integer field never compares with a float or a string.
        assert_eq!(
            find(".status.conditions[?(@.count==1.0)]", &obj),
            Err(JsonPathEvalError::NotComparable)
        );
    }

    #[test]
    fn unsupported_syntax_is_rejected_when_parsed() {
        let err = |p: &str| parse_json_path(p).unwrap_err();
        assert_eq!(
            err("..name"),
            JsonPathError::Unsupported("recursive descent (..)")
        );
        assert_eq!(
            err(".a}{.b"),
            JsonPathError::Unsupported("text after the path")
        );
        assert_eq!(
            err("range .items"),
            JsonPathError::UnsupportedIdentifier("range".into())
        );
        assert_eq!(err(".a[1"), JsonPathError::UnterminatedArray);
        assert_eq!(err(".a[x]"), JsonPathError::InvalidArrayIndex("x".into()));
        assert_eq!(
            err(".a[?(@.b=1)]"),
            JsonPathError::UnsupportedOperator("=".into())
        );
        assert_eq!(err(".a[?(@.b"), JsonPathError::UnterminatedFilter);
        assert_eq!(err("*"), JsonPathError::UnrecognizedCharacter('*'));
        assert_eq!(
            err("'x'"),
            JsonPathError::Unsupported("a literal in a path")
        );
        assert!(parse_json_path(".a.*").is_ok());
    }
}
