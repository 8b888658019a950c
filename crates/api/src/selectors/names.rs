//! Validation of label keys (qualified names) and label values.

use super::SelectorError;

const NAME_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

const NAME_CHARS: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";

/// Checks a label key: an optional DNS subdomain prefix and `/`, then a name of at
/// most 63 characters.
pub(super) fn validate_label_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |reason: String| SelectorError::InvalidLabelKey {
        key: key.to_string(),
        reason,
    };
    let (prefix, name) = match key.split_once('/') {
        None => (None, key),
        Some((_, name)) if name.contains('/') => {
            return Err(invalid(
                "must be a name with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
                    .to_string(),
            ));
        }
        Some((prefix, name)) => (Some(prefix), name),
    };
    if let Some(prefix) = prefix {
        check_prefix(prefix).map_err(|r| invalid(format!("prefix part {r}")))?;
    }
    check_name(name).map_err(|r| invalid(format!("name part {r}")))
}

/// Checks a label value: empty, or a name of at most 63 characters.
pub(super) fn validate_label_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(value).map_err(|reason| SelectorError::InvalidLabelValue {
        value: value.to_string(),
        reason: reason.to_string(),
    })
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.len() > NAME_MAX {
        return Err("must be no more than 63 characters");
    }
    let inner_ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !inner_ok || !starts_and_ends_alphanumeric(name) {
        return Err(NAME_CHARS);
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.is_empty() {
        return Err("must not be empty");
    }
    if prefix.len() > SUBDOMAIN_MAX {
        return Err("must be no more than 253 characters");
    }
    if !prefix.split('.').all(is_dns_label) {
        return Err(
            "must be a lowercase RFC 1123 subdomain: lowercase alphanumeric \
             characters, '-' or '.', starting and ending with an alphanumeric character",
        );
    }
    Ok(())
}

fn is_dns_label(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && starts_and_ends_alphanumeric(part)
}

fn starts_and_ends_alphanumeric(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(a), Some(z)) => a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_with_and_without_prefix_are_valid() {
        for key in [
            "app",
            "App_1.x",
            "example.com/name",
            "a.b-c/x",
            "kubernetes.io/role",
        ] {
            assert_eq!(validate_label_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn label_keys_with_bad_parts_are_rejected_with_the_part_named() {
        let cases = [
            ("", "name part must not be empty"),
            ("-app", "name part must consist"),
            ("/app", "prefix part must not be empty"),
            ("Example.com/app", "prefix part must be a lowercase"),
            ("a/b/c", "optional DNS subdomain prefix"),
            ("example.com/", "name part must not be empty"),
        ];
        for (key, reason) in cases {
            let err = validate_label_key(key).unwrap_err().to_string();
            assert!(err.contains(reason), "{key}: {err}");
        }
    }

    #[test]
    fn label_key_name_part_over_63_characters_is_rejected() {
        let key = "a".repeat(64);
        assert!(validate_label_key(&key).is_err());
        assert!(validate_label_key(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("v1.2_3-x").is_ok());
        assert!(validate_label_value("has space").is_err());
        assert!(validate_label_value("trailing-").is_err());
        assert!(validate_label_value(&"v".repeat(64)).is_err());
    }
}
