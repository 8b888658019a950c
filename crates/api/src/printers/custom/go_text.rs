//! Values as upstream's JSONPath printing writes them into string cells: Go's `%v` for
//! numbers and booleans and Go's encoding/json for objects and arrays.

use serde_json::Value;

/// A value as upstream's JSONPath printing writes it: strings as they are, numbers and
/// booleans as Go prints them, objects and arrays as Go's JSON, null as `<no value>`.
pub(super) fn go_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => crate::gojson::go_number(n),
        Value::Null => "<no value>".to_string(),
        _ => crate::gojson::to_json(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn string_cells_print_values_as_go_does() {
        assert_eq!(go_text(&json!(1000000.0)), "1e+06");
        assert_eq!(go_text(&json!(123456.5)), "123456.5");
        assert_eq!(go_text(&json!(0.00001)), "1e-05");
        assert_eq!(go_text(&json!(2.0)), "2");
        assert_eq!(go_text(&json!(-7)), "-7");
        assert_eq!(
            go_text(&json!({"b": 1.5e-7, "a": "<&>"})),
            r#"{"a":"\u003c\u0026\u003e","b":1.5e-7}"#
        );
        assert_eq!(
            go_text(&json!([1e21, 0.1, true, null])),
            "[1e+21,0.1,true,null]"
        );
    }
}
