//! Image references (`busybox`, `registry:5000/team/app:1.2`, `app@sha256:...`), normalised
//! the way Docker does.

use std::fmt;
use std::str::FromStr;

use super::ImageError;
use super::store::parse_digest;

/// The registry that names without a domain live on.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

const MAX_TAG_LEN: usize = 128;
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference.
///
/// Parsing fills in Docker's defaults: the `docker.io` registry, the `library/` namespace for
/// its one-component names and the `latest` tag when no digest is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageReference {
    /// Parses a reference as Docker does.
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let invalid = |reason| ImageError::InvalidReference {
            reference: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("empty reference"));
        }

        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                parse_digest(digest).map_err(|_| invalid("digest is not sha256:<64 hex>"))?;
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };

        // A colon after the last slash starts the tag; one before it belongs to a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(invalid)?;
        }

        let (registry, repository) = split_registry(name);
        validate_repository(&repository).map_err(invalid)?;
        if registry.is_empty() {
            return Err(invalid("empty registry"));
        }

        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_owned()),
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (None, Some(_)) => None,
        };
        Ok(ImageReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The same repository, pinned to a digest (the tag is dropped).
    pub fn with_digest(&self, digest: &str) -> Self {
        ImageReference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.to_owned()),
        }
    }

    /// The registry host (and port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference has one (always, unless it was given by digest only).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`, the name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The registry's host without a port.
    pub fn registry_host(&self) -> &str {
        host_of(&self.registry)
    }

    /// The reference as the registry client wants it.
    pub(crate) fn to_oci(&self) -> oci_client::Reference {
        match (&self.tag, &self.digest) {
            (_, Some(digest)) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
            (tag, None) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_owned()),
            ),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageReference {
    type Err = ImageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ImageReference::parse(text)
    }
}

/// Returns the host part of `host[:port]` (brackets kept for IPv6 literals).
pub(crate) fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.split_once(']').map_or(registry, |(h, _)| &h[1..]);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// The first component is a registry when it looks like a host: it has a dot or a port, or it
/// is `localhost`. Anything else is a Docker Hub namespace.
fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.starts_with('[') =>
        {
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    };
    let registry = if registry == "index.docker.io" {
        DEFAULT_REGISTRY
    } else {
        registry
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    (registry.to_owned(), repository)
}

fn validate_tag(tag: &str) -> Result<(), &'static str> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || tag.len() > MAX_TAG_LEN {
        return Err("tag must start with a letter, digit or _ and be at most 128 long");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err("tag may only hold letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

fn validate_repository(repository: &str) -> Result<(), &'static str> {
    if repository.is_empty() || repository.len() > MAX_NAME_LEN {
        return Err("repository name is empty or too long");
    }
    for component in repository.split('/') {
        let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let starts_and_ends_alnum = component.chars().next().is_some_and(alnum)
            && component.chars().last().is_some_and(alnum);
        let allowed = component
            .chars()
            .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'));
        if !starts_and_ends_alnum || !allowed {
            return Err("repository components must be lower-case letters, digits and separators");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parsed(text: &str) -> String {
        ImageReference::parse(text).unwrap().to_string()
    }

    #[test]
    fn a_bare_name_gets_docker_hub_library_and_latest() {
        assert_eq!(parsed("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(parsed("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(parsed("team/app"), "docker.io/team/app:latest");
        assert_eq!(
            parsed("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn a_first_component_with_dot_port_or_localhost_is_a_registry() {
        assert_eq!(parsed("quay.io/a/b:v1"), "quay.io/a/b:v1");
        assert_eq!(parsed("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(parsed("localhost/app:1"), "localhost/app:1");
        let r = ImageReference::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.registry_host(), "127.0.0.1");
    }

    #[test]
    fn a_digest_reference_has_no_default_tag() {
        let r = ImageReference::parse(&format!("busybox@{DIGEST}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(DIGEST));
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{DIGEST}"));
        let both = ImageReference::parse(&format!("busybox:1@{DIGEST}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "busybox@sha256:xyz",
            "a//b",
            "busybox@md5:00",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
