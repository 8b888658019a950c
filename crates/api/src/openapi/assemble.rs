//! Assembles the swagger 2.0 document from members serialized ahead of time, so that
//! the built-in paths and definitions are serialized once per process and only the custom
//! resources' members are serialized when the set of custom resources changes.

use std::collections::HashSet;
use std::ops::Range;

use serde_json::{Map, Value};

use super::render;

/// Members of a JSON object (`"name":value`), serialized and joined by commas, with the
/// span of each member.
#[derive(Default)]
pub(super) struct Members {
    text: String,
    spans: Vec<(String, Range<usize>)>,
}

impl Members {
    /// Serializes `members` in the order given.
    pub fn new(members: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut out = Members::default();
        for (name, value) in members {
            if !out.text.is_empty() {
                out.text.push(',');
            }
            let start = out.text.len();
            out.text.push_str(&Value::String(name.clone()).to_string());
            out.text.push(':');
            out.text.push_str(&value.to_string());
            out.spans.push((name, start..out.text.len()));
        }
        out
    }

    fn member(&self, index: usize) -> &str {
        &self.text[self.spans[index].1.clone()]
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|(name, _)| name.as_str())
    }

    /// Bytes held by the serialized members and their index.
    #[cfg(test)]
    pub fn heap_size(&self) -> usize {
        self.text.capacity()
            + self
                .spans
                .iter()
                .map(|(name, _)| name.capacity() + std::mem::size_of::<(String, Range<usize>)>())
                .sum::<usize>()
    }
}

/// The paths (in order) and definitions (sorted by name) of a swagger 2.0 document.
#[derive(Default)]
pub(super) struct V2Parts {
    pub paths: Members,
    pub definitions: Members,
}

impl V2Parts {
    #[cfg(test)]
    pub fn heap_size(&self) -> usize {
        self.paths.heap_size() + self.definitions.heap_size()
    }
}

/// The swagger 2.0 document of the built-in part plus the custom part. The built-in part
/// wins on a clash: custom paths and definitions of the same name are left out, as
/// upstream keeps its static document's entries when it merges custom resources in.
pub(super) fn v2_document(builtin: &V2Parts, custom: &V2Parts) -> String {
    let capacity = builtin.paths.text.len()
        + builtin.definitions.text.len()
        + custom.paths.text.len()
        + custom.definitions.text.len()
        + 1024;
    let mut out = String::with_capacity(capacity);
    out.push_str(&open_object(render::v2_head()));
    out.push_str("\"paths\":{");
    let mut writer = MemberWriter::new(&mut out);
    writer.push(&builtin.paths.text);
    let builtin_paths: HashSet<&str> = builtin.paths.names().collect();
    for (index, name) in custom.paths.names().enumerate() {
        if !builtin_paths.contains(name) {
            writer.push(custom.paths.member(index));
        }
    }
    out.push_str("},\"definitions\":{");
    merge_sorted(&builtin.definitions, &custom.definitions, &mut out);
    out.push_str("},");
    out.push_str(&close_object(render::v2_tail()));
    out
}

/// Writes the members of both sorted lists in name order; `custom` members whose name is
/// taken by `builtin` are left out.
fn merge_sorted(builtin: &Members, custom: &Members, out: &mut String) {
    let mut writer = MemberWriter::new(out);
    let mut next_builtin = 0;
    for (index, (name, _)) in custom.spans.iter().enumerate() {
        let position = builtin.spans[next_builtin..]
            .partition_point(|(builtin_name, _)| builtin_name.as_str() < name.as_str())
            + next_builtin;
        if position > next_builtin {
            let start = builtin.spans[next_builtin].1.start;
            let end = builtin.spans[position - 1].1.end;
            writer.push(&builtin.text[start..end]);
        }
        next_builtin = position;
        let clash = builtin
            .spans
            .get(position)
            .is_some_and(|(builtin_name, _)| builtin_name == name);
        if !clash {
            writer.push(custom.member(index));
        }
    }
    if let Some(first) = builtin.spans.get(next_builtin) {
        writer.push(&builtin.text[first.1.start..]);
    }
}

/// Appends comma-separated runs of members.
struct MemberWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> MemberWriter<'a> {
    fn new(out: &'a mut String) -> Self {
        MemberWriter { out, empty: true }
    }

    fn push(&mut self, members: &str) {
        if members.is_empty() {
            return;
        }
        if !self.empty {
            self.out.push(',');
        }
        self.out.push_str(members);
        self.empty = false;
    }
}

/// `{"a":1,"b":2,` for the members a and b: an object left open for more members.
fn open_object(members: Map<String, Value>) -> String {
    let mut text = Value::Object(members).to_string();
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    text
}

/// `"a":1,"b":2}`: the remaining members of an object and its end.
fn close_object(members: Map<String, Value>) -> String {
    let text = Value::Object(members).to_string();
    text[1..].to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn members(names: &[&str]) -> Members {
        Members::new(names.iter().map(|n| (n.to_string(), json!({"n": n}))))
    }

    fn assembled(builtin: &[&str], custom: &[&str]) -> Value {
        let builtin = V2Parts {
            paths: members(&["/a"]),
            definitions: members(builtin),
        };
        let custom = V2Parts {
            paths: members(&["/b", "/a"]),
            definitions: members(custom),
        };
        serde_json::from_str(&v2_document(&builtin, &custom)).unwrap()
    }

    fn definition_names(doc: &Value) -> Vec<String> {
        doc["definitions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn custom_definitions_are_merged_in_name_order() {
        let doc = assembled(&["b", "d", "f"], &["a", "c", "e", "g"]);
        assert_eq!(definition_names(&doc), ["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(doc["definitions"]["c"], json!({"n": "c"}));
        assert_eq!(doc["swagger"], "2.0");
        assert!(doc["securityDefinitions"].is_object());
    }

    #[test]
    fn builtin_entries_win_over_custom_entries_of_the_same_name() {
        let doc = assembled(&["a", "b"], &["b"]);
        assert_eq!(definition_names(&doc), ["a", "b"]);
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["/a", "/b"]);
    }

    #[test]
    fn either_side_may_be_empty() {
        assert_eq!(definition_names(&assembled(&[], &["x"])), ["x"]);
        assert_eq!(definition_names(&assembled(&["x"], &[])), ["x"]);
        assert!(definition_names(&assembled(&[], &[])).is_empty());
    }
}
