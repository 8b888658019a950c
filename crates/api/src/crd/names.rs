//! The name rules CRDs and custom resources need, shared with the built-in kinds'
//! validation.

pub(crate) use crate::validation::names::{
    dns1035_label, dns1123_label, dns1123_subdomain, mask_trailing_dash, path_segment_name,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1035_labels_must_start_with_a_letter() {
        assert!(dns1035_label("v1").is_empty());
        assert_eq!(dns1035_label("1v").len(), 1);
        assert!(dns1035_label("1v")[0].starts_with("a DNS-1035 label"));
    }

    #[test]
    fn subdomains_allow_dots_but_not_capitals() {
        assert!(dns1123_subdomain("foos.example.com").is_empty());
        assert_eq!(dns1123_subdomain("Foo.example.com").len(), 1);
    }

    #[test]
    fn path_segment_names_reject_slashes() {
        assert_eq!(path_segment_name("a/b"), vec!["may not contain '/'"]);
        assert_eq!(path_segment_name(".."), vec!["may not be '..'"]);
    }
}
