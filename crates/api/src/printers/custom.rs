//! Table columns of custom resources, from a CRD version's `additionalPrinterColumns`,
//! as apiextensions-apiserver's table convertor builds them: a Name column, then the
//! declared columns (or Age when none are declared), each cell read with a JSONPath.
//! The paths are parsed by [`parse_json_path`], which CRD validation can use as well.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::duration::human_duration;
use super::{NAME, cells};
use go_text::go_text;

mod go_text;
mod jsonpath;

pub use jsonpath::{JsonPath, JsonPathError, JsonPathEvalError, parse_json_path};

/// One declared column with its parsed path.
#[derive(Clone, Debug)]
struct Column {
    definition: Value,
    kind: String,
    path: JsonPath,
}

/// A printer column whose path cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("printer column {name} has an unusable jsonPath {json_path}: {error}")]
pub struct ColumnError {
    pub name: String,
    pub json_path: String,
    pub error: JsonPathError,
}

/// The Table columns of one version of a custom resource, parsed once.
#[derive(Clone, Debug)]
pub struct CustomColumns {
    columns: Vec<Column>,
    error: Option<ColumnError>,
}

impl CustomColumns {
    /// Parses a version's `additionalPrinterColumns`; with none declared the columns are
    /// Name and Age. A column whose path cannot be parsed is left out with the columns
    /// after it, as upstream then serves the columns built so far; see [`Self::error`].
    pub fn new(additional_printer_columns: &[Value]) -> Self {
        let default = [json!({
            "name": "Age",
            "type": "date",
            "description": "Time since the object was created.",
            "jsonPath": ".metadata.creationTimestamp",
        })];
        let declared = match additional_printer_columns {
            [] => &default[..],
            declared => declared,
        };
        let mut out = CustomColumns {
            columns: Vec::new(),
            error: None,
        };
        for column in declared {
            match Column::parse(column) {
                Ok(column) => out.columns.push(column),
                Err(error) => {
                    out.error = Some(error);
                    break;
                }
            }
        }
        out
    }

    /// The first column that could not be parsed, if any.
    pub fn error(&self) -> Option<&ColumnError> {
        self.error.as_ref()
    }

    /// Column definitions (metav1.TableColumnDefinition JSON objects).
    pub fn definitions(&self) -> Vec<Value> {
        let declared = self.columns.iter().map(|c| c.definition.clone());
        std::iter::once(NAME.to_json()).chain(declared).collect()
    }

    /// The cells of one object's row, in column order; a cell the path selects nothing
    /// for is null.
    pub fn row(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let declared = self.columns.iter().map(|c| c.cell(obj, now));
        std::iter::once(cells::name(obj)).chain(declared).collect()
    }
}

impl Column {
    fn parse(column: &Value) -> Result<Column, ColumnError> {
        let text = |key: &str| column[key].as_str().unwrap_or_default().to_string();
        let (name, kind, json_path) = (text("name"), text("type"), text("jsonPath"));
        let path = parse_json_path(&json_path).map_err(|error| ColumnError {
            name: name.clone(),
            json_path: json_path.clone(),
            error,
        })?;
        let description = match text("description") {
            d if d.is_empty() => format!("The value at {json_path} (a JSONPath) of the object."),
            d => d,
        };
        let definition = json!({
            "name": name,
            "type": kind,
            "format": text("format"),
            "description": description,
            "priority": column["priority"].as_i64().unwrap_or(0),
        });
        Ok(Column {
            definition,
            kind,
            path,
        })
    }

    /// Only the first value the path selects is shown, as upstream does.
    fn cell(&self, obj: &Value, now: DateTime<Utc>) -> Value {
        let Some(value) = self.path.find(obj).ok().and_then(|v| v.first().copied()) else {
            return Value::Null;
        };
        match (self.kind.as_str(), value) {
            ("string", value) => Value::String(go_text(value)),
            ("integer", Value::Number(n)) => json!(n.as_i64().unwrap_or_else(|| {
                // Go truncates a float to an integer, saturating here.
                n.as_f64().unwrap_or_default() as i64
            })),
            ("number", Value::Number(n)) => json!(n.as_f64()),
            ("boolean", Value::Bool(b)) => json!(b),
            ("date", Value::String(s)) => Value::String(date_cell(s, now)),
            _ => Value::Null,
        }
    }
}

/// Column definitions of a CRD version's `additionalPrinterColumns`, Name first.
pub fn column_definitions(columns: &[Value]) -> Vec<Value> {
    CustomColumns::new(columns).definitions()
}

/// The cells of one object's row for a CRD version's `additionalPrinterColumns`.
pub fn row_cells(columns: &[Value], obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    CustomColumns::new(columns).row(obj, now)
}

/// The age of an RFC 3339 timestamp; empty, `null` and Go's zero time are unknown.
fn date_cell(text: &str, now: DateTime<Utc>) -> String {
    if text.is_empty() || text == "null" {
        return "<unknown>".to_string();
    }
    let Ok(time) = DateTime::parse_from_rfc3339(text) else {
        return "<invalid>".to_string();
    };
    let time = time.with_timezone(&Utc);
    if time == DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or_default() {
        return "<unknown>".to_string();
    }
    human_duration(now - time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap()
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

    fn columns() -> Vec<Value> {
        vec![
            json!({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}),
            json!({"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1}),
            json!({"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"}),
            json!({"name": "Ready", "type": "string", "description": "readiness",
                "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}),
            json!({"name": "Hosts", "type": "string", "jsonPath": ".spec.servers[*].hosts"}),
            json!({"name": "Created", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
        ]
    }

    #[test]
    fn definitions_start_with_name_then_the_declared_columns() {
        let definitions = column_definitions(&columns());
        assert_eq!(definitions[0], NAME.to_json());
        assert_eq!(
            definitions[2],
            json!({"name": "Ratio", "type": "number", "format": "", "priority": 1,
                "description": "The value at .spec.ratio (a JSONPath) of the object."})
        );
        assert_eq!(definitions[4]["description"], "readiness");
        assert_eq!(definitions.len(), 7);
    }

    #[test]
    fn cells_follow_the_column_type_and_show_the_first_value() {
        let mut obj = pod_like();
        obj["metadata"]["creationTimestamp"] = json!("2025-06-01T11:58:30Z");
        assert_eq!(
            row_cells(&columns(), &obj, now()),
            [
                json!("web"),
                json!(3),
                json!(0.5),
                json!(false),
                json!("True"),
                json!("[\"foo\"]"),
                json!("90s")
            ]
        );
    }

    #[test]
    fn missing_and_mistyped_values_are_null_cells() {
        let obj = json!({"metadata": {"name": "x"}, "spec": {"replicas": "three", "ratio": null}});
        let cells = row_cells(&columns(), &obj, now());
        assert_eq!(cells[1], Value::Null);
        assert_eq!(cells[2], Value::Null);
        assert_eq!(cells[4], Value::Null);
        assert_eq!(cells[6], Value::Null);
        let ratio_as_text = [json!({"name": "R", "type": "string", "jsonPath": ".spec.ratio"})];
        assert_eq!(row_cells(&ratio_as_text, &obj, now())[1], "<no value>");
    }

    #[test]
    fn without_declared_columns_the_table_shows_name_and_age() {
        let names: Vec<Value> = column_definitions(&[])
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, ["Name", "Age"]);
        let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2025-05-30T12:00:00Z"}});
        assert_eq!(row_cells(&[], &obj, now()), ["w", "2d"]);
    }

    #[test]
    fn dates_that_are_empty_malformed_or_in_the_future_are_marked() {
        assert_eq!(date_cell("", now()), "<unknown>");
        assert_eq!(date_cell("0001-01-01T00:00:00Z", now()), "<unknown>");
        assert_eq!(date_cell("yesterday", now()), "<invalid>");
        assert_eq!(date_cell("2025-06-01T12:30:00Z", now()), "<invalid>");
        assert_eq!(date_cell("2025-05-31T23:30:00Z", now()), "12h");
    }

    #[test]
    fn integer_columns_truncate_floats() {
        let column = [json!({"name": "N", "type": "integer", "jsonPath": ".n"})];
        let obj = json!({"metadata": {"name": "x"}, "n": 2.75});
        assert_eq!(row_cells(&column, &obj, now())[1], 2);
    }

    #[test]
    fn a_column_that_cannot_be_parsed_drops_it_and_the_columns_after_it() {
        let mut declared = columns();
        declared.insert(
            1,
            json!({"name": "Bad", "type": "string", "jsonPath": "..x"}),
        );
        let parsed = CustomColumns::new(&declared);
        assert_eq!(parsed.definitions().len(), 2);
        assert_eq!(parsed.error().map(|e| e.name.as_str()), Some("Bad"));
    }
}
