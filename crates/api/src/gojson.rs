//! Renders values the way upstream's Go code prints them, since field paths, fieldsV1 keys,
//! conflict and validation messages and printed columns embed those renderings byte for
//! byte.

use std::fmt::Write;

use serde_json::{Number, Value};

/// Appends `value` as Go's JSON encoders write it: object keys sorted, `<`, `>` and `&`
/// escaped, numbers in Go's float notation.
pub fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_json_number(out, n),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// `value` as Go's JSON encoders write it.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

/// Appends a JSON string literal with Go's escaping (HTML-safe, U+2028/U+2029 escaped).
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json_number(out: &mut String, n: &Number) {
    if n.is_i64() || n.is_u64() {
        let _ = write!(out, "{n}");
    } else {
        out.push_str(&go_float(n.as_f64().unwrap_or_default(), FloatStyle::Json));
    }
}

/// A number as Go's `%v` prints it (`80`, `1.5`, `1e+06`).
pub fn go_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    go_print_float(n.as_f64().unwrap_or_default())
}

/// A float64 as Go's `%v` prints it (`0.5`, `1e+06`, `1.5e-05`, `+Inf`).
pub fn go_print_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    go_float(f, FloatStyle::Print)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FloatStyle {
    /// fmt's `%v`: exponent form from an exponent of 6 or below -4 (`1e+06`).
    Print,
    /// encoding/json: exponent form from 1e21 or below 1e-6 (`1e+21`, `1e-7`).
    Json,
}

/// The shortest decimal form of a float that reads back to it, written as Go writes it.
fn go_float(f: f64, style: FloatStyle) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits: `1.25e-7`.
    let scientific = format!("{:e}", f.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    let digits = mantissa.replace('.', "");
    let sign = if f < 0.0 { "-" } else { "" };
    let exponential = match style {
        FloatStyle::Print => !(-4..6).contains(&exponent),
        FloatStyle::Json => !(-6..21).contains(&exponent),
    };
    if !exponential {
        return format!("{sign}{}", fixed(&digits, exponent));
    }
    let (first, rest) = digits.split_at(1);
    let fraction = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exp_sign = if exponent < 0 { '-' } else { '+' };
    // encoding/json trims a negative exponent's leading zero (`1e-7`); `%v` keeps two
    // digits (`1e-05`).
    let width = if style == FloatStyle::Json && exponent < 0 {
        1
    } else {
        2
    };
    format!(
        "{sign}{first}{fraction}e{exp_sign}{:0width$}",
        exponent.abs()
    )
}

/// Digits `d1d2d3...` with the first digit at 10^exponent, without an exponent.
fn fixed(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("0.{zeros}{digits}");
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        return format!("{digits}{}", "0".repeat(int_len - digits.len()));
    }
    format!("{}.{}", &digits[..int_len], &digits[int_len..])
}

/// A string as Go's `%q` quotes it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, without the tables for unassigned code points: letters, marks,
/// numbers, punctuation, symbols and the ASCII space are printable; controls, other
/// spaces, format characters and private-use characters are not.
pub fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let code = c as u32;
    let format_or_private = matches!(
        code,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xE000..=0xF8FF
            | 0xF0000..=0xFFFFD
            | 0x100000..=0x10FFFD
    );
    !format_or_private
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_sorts_keys_and_escapes_html_like_go() {
        let value = json!({"b": "<a&b>", "a": [1, 2.5, true, null]});
        assert_eq!(
            to_json(&value),
            r#"{"a":[1,2.5,true,null],"b":"\u003ca\u0026b\u003e"}"#
        );
    }

    #[test]
    fn json_floats_use_go_exponent_notation() {
        assert_eq!(to_json(&json!(1e21)), "1e+21");
        assert_eq!(to_json(&json!(1.5e-7)), "1.5e-7");
        assert_eq!(to_json(&json!(80.0)), "80");
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("nginx"), "\"nginx\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{0}\u{200b}é"), "\"\\x00\\u200bé\"");
    }

    #[test]
    fn floats_print_like_percent_v() {
        assert_eq!(go_print_float(0.5), "0.5");
        assert_eq!(go_print_float(10.0), "10");
        assert_eq!(go_print_float(0.0001), "0.0001");
        assert_eq!(go_print_float(1.5e-5), "1.5e-05");
        assert_eq!(go_print_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn go_numbers_print_like_percent_v() {
        assert_eq!(go_number(&Number::from(80)), "80");
        assert_eq!(go_number(&Number::from_f64(1.5).unwrap()), "1.5");
        assert_eq!(go_number(&Number::from_f64(1e6).unwrap()), "1e+06");
        assert_eq!(go_number(&Number::from_f64(123456.0).unwrap()), "123456");
        assert_eq!(go_number(&Number::from_f64(1e-5).unwrap()), "1e-05");
    }
}
