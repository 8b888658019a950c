//! The parts of the OCI image spec (and Docker's schema 2, its twin) this runtime reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImageError;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker uncompressed layer.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Every manifest media type a pull accepts; the OCI ones must be listed or some registries
/// answer 404 for OCI manifests.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// The annotation naming an image in an OCI layout's index.json.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation with the full image name.
pub const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform (only in indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The platform an index entry is for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    /// CPU architecture, GOARCH spelling (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system, GOOS spelling (`linux`).
    pub os: String,
    /// CPU variant (`v8`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// linux/amd64.
    pub fn linux_amd64() -> Self {
        Platform {
            architecture: "amd64".to_owned(),
            os: "linux".to_owned(),
            variant: None,
        }
    }

    /// Whether an index entry's platform satisfies this one (a missing variant matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// Layers, bottom-most first.
    pub layers: Vec<Descriptor>,
}

/// An image index or Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes) it lists.
    pub manifests: Vec<Descriptor>,
}

impl Index {
    /// The first image manifest for `platform`; entries without a platform count as matching
    /// only when they are the sole entry (as in a single-image OCI layout).
    pub fn select(&self, platform: &Platform) -> Option<&Descriptor> {
        let by_platform = self
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)));
        by_platform.or_else(|| match self.manifests.as_slice() {
            [only] if only.platform.is_none() => Some(only),
            _ => None,
        })
    }
}

/// What a manifest-shaped document turned out to be.
#[derive(Debug, Clone)]
pub enum ManifestKind {
    /// A single-platform image manifest.
    Image(Manifest),
    /// An index of manifests.
    Index(Index),
}

/// Parses a manifest or index, telling them apart by media type or shape.
pub fn parse_manifest(bytes: &[u8], what: &str) -> Result<ManifestKind, ImageError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let json = |source| ImageError::Json {
        what: what.to_owned(),
        source,
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(json)?;
    let is_index = match probe.media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(_) => false,
        None => probe.manifests.is_some(),
    };
    if is_index {
        Ok(ManifestKind::Index(
            serde_json::from_slice(bytes).map_err(json)?,
        ))
    } else {
        Ok(ManifestKind::Image(
            serde_json::from_slice(bytes).map_err(json)?,
        ))
    }
}

/// The image config document (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// How to run the image.
    #[serde(default)]
    pub config: Option<RunConfig>,
    /// The layers' diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The sha256 of each uncompressed layer tar, bottom-most first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// `config` of an image config: how the image wants to be run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// User (name, uid, uid:gid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `80/tcp` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `KEY=value` pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Signal that stops the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// What the agent needs from an image config to build a container's process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// Entrypoint (empty if none).
    pub entrypoint: Vec<String>,
    /// Default arguments (empty if none).
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Working directory, if set.
    pub working_dir: Option<String>,
    /// User, if set.
    pub user: Option<String>,
    /// Exposed ports as `80/tcp`, sorted.
    pub exposed_ports: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Stop signal, if set.
    pub stop_signal: Option<String>,
}

impl From<&ConfigFile> for ImageConfig {
    fn from(file: &ConfigFile) -> Self {
        let run = file.config.clone().unwrap_or_default();
        ImageConfig {
            entrypoint: run.entrypoint.unwrap_or_default(),
            cmd: run.cmd.unwrap_or_default(),
            env: run.env.unwrap_or_default(),
            working_dir: run.working_dir.filter(|w| !w.is_empty()),
            user: run.user.filter(|u| !u.is_empty()),
            exposed_ports: run
                .exposed_ports
                .map(|ports| ports.into_keys().collect())
                .unwrap_or_default(),
            labels: run.labels.unwrap_or_default(),
            stop_signal: run.stop_signal,
        }
    }
}

/// Parses an image config.
pub fn parse_config(bytes: &[u8], digest: &str) -> Result<ConfigFile, ImageError> {
    serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
        what: format!("image config {digest}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_told_from_a_manifest_by_media_type_or_shape() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest(index, "t").unwrap(),
            ManifestKind::Index(_)
        ));
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:00","size":1},"layers":[]}"#;
        assert!(matches!(
            parse_manifest(manifest, "t").unwrap(),
            ManifestKind::Image(_)
        ));
    }

    #[test]
    fn platform_selection_skips_other_architectures() {
        let entry = |arch: &str, digest: &str| Descriptor {
            media_type: OCI_MANIFEST.to_owned(),
            digest: digest.to_owned(),
            size: 1,
            platform: Some(Platform {
                architecture: arch.to_owned(),
                os: "linux".to_owned(),
                variant: None,
            }),
            annotations: BTreeMap::new(),
        };
        let index = Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![entry("arm64", "a"), entry("amd64", "b")],
        };
        assert_eq!(index.select(&Platform::linux_amd64()).unwrap().digest, "b");
        let only_arm = Index {
            manifests: vec![entry("arm64", "a")],
            ..index
        };
        assert!(only_arm.select(&Platform::linux_amd64()).is_none());
    }

    #[test]
    fn the_agent_view_of_a_config_fills_defaults() {
        let file: ConfigFile = serde_json::from_slice(
            br#"{"config":{"Entrypoint":["/init"],"User":"","ExposedPorts":{"80/tcp":{}}}}"#,
        )
        .unwrap();
        let config = ImageConfig::from(&file);
        assert_eq!(config.entrypoint, vec!["/init"]);
        assert!(config.cmd.is_empty());
        assert_eq!(config.user, None);
        assert_eq!(config.exposed_ports, vec!["80/tcp"]);
    }
}
