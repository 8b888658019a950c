//! Pulling images from registries with `oci-client`: manifest (choosing a platform from a
//! list), config and layers, each verified against its digest while it is stored.

use std::fmt;
use std::net::IpAddr;

use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use tracing::debug;

use super::ImageError;
use super::index::{ImageRecord, LayerRecord};
use super::reference::ImageReference;
use super::spec::{
    self, DOCKER_CONFIG, Descriptor, MANIFEST_MEDIA_TYPES, Manifest, ManifestKind, OCI_CONFIG,
    Platform,
};
use super::store::BlobStore;

/// Username and password for a registry, as an imagePullSecret provides them.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How registries are reached.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Registries (`host` or `host:port`) spoken to over plain HTTP. Loopback registries
    /// (127.0.0.0/8, ::1, `localhost`) always are, as with Docker.
    pub insecure_registries: Vec<String>,
    /// The platform picked from manifest lists.
    pub platform: Platform,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: Vec::new(),
            platform: Platform::linux_amd64(),
        }
    }
}

impl RegistryOptions {
    /// Whether this registry is reached over plain HTTP.
    pub fn is_insecure(&self, reference: &ImageReference) -> bool {
        let host = reference.registry_host();
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        loopback
            || self
                .insecure_registries
                .iter()
                .any(|r| r == reference.registry() || r == host)
    }
}

/// Downloads `reference` into `store` and describes it (without names).
pub(crate) async fn pull(
    store: &BlobStore,
    options: &RegistryOptions,
    reference: &ImageReference,
    credentials: Option<&RegistryCredentials>,
) -> Result<ImageRecord, ImageError> {
    let remote = Remote::new(options, reference, credentials);

    let (mut bytes, mut manifest_digest) = remote.manifest(&remote.oci_ref).await?;
    let mut index_digest = None;
    let manifest = match spec::parse_manifest(&bytes, &format!("manifest of {reference}"))? {
        ManifestKind::Image(manifest) => manifest,
        ManifestKind::Index(index) => {
            let entry =
                index
                    .select(&options.platform)
                    .ok_or_else(|| ImageError::NoMatchingPlatform {
                        reference: reference.to_string(),
                        platform: options.platform.to_string(),
                    })?;
            debug!(image = %reference, manifest = %entry.digest, "selected platform manifest");
            index_digest = Some(manifest_digest);
            let pinned = remote.oci_ref.clone_with_digest(entry.digest.clone());
            (bytes, manifest_digest) = remote.manifest(&pinned).await?;
            match spec::parse_manifest(&bytes, &format!("manifest {}", entry.digest))? {
                ManifestKind::Image(manifest) => manifest,
                ManifestKind::Index(_) => {
                    return Err(ImageError::InvalidImage {
                        reference: reference.to_string(),
                        reason: "an index entry points at another index".to_owned(),
                    });
                }
            }
        }
    };
    store.put_bytes(&manifest_digest, &bytes)?;

    let record = describe(
        store,
        &reference.to_string(),
        &manifest,
        &manifest_digest,
        |d| remote.fetch_blob(store, d),
    )
    .await?;
    Ok(ImageRecord {
        index_digest,
        ..record
    })
}

/// Fetches (when missing) the config and layers a manifest lists and builds its record;
/// `reference` only names the image in errors.
pub(crate) async fn describe<'a, F, Fut>(
    store: &BlobStore,
    reference: &str,
    manifest: &'a Manifest,
    manifest_digest: &str,
    fetch: F,
) -> Result<ImageRecord, ImageError>
where
    F: Fn(&'a Descriptor) -> Fut,
    Fut: Future<Output = Result<(), ImageError>>,
{
    let config_type = manifest.config.media_type.as_str();
    if config_type != OCI_CONFIG && config_type != DOCKER_CONFIG {
        return Err(ImageError::UnsupportedMediaType {
            reference: reference.to_string(),
            media_type: config_type.to_owned(),
        });
    }
    if !store.contains(&manifest.config.digest) {
        fetch(&manifest.config).await?;
    }
    let config = spec::parse_config(
        &store.read(&manifest.config.digest)?,
        &manifest.config.digest,
    )?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::InvalidImage {
            reference: reference.to_string(),
            reason: format!(
                "{} layers but {} diff ids in the config",
                manifest.layers.len(),
                diff_ids.len()
            ),
        });
    }

    let mut layers = Vec::with_capacity(manifest.layers.len());
    for (layer, diff_id) in manifest.layers.iter().zip(diff_ids) {
        if !is_layer_media_type(&layer.media_type) {
            return Err(ImageError::UnsupportedMediaType {
                reference: reference.to_string(),
                media_type: layer.media_type.clone(),
            });
        }
        if !store.contains(&layer.digest) {
            fetch(layer).await?;
        }
        layers.push(LayerRecord {
            digest: layer.digest.clone(),
            diff_id: diff_id.clone(),
            media_type: layer.media_type.clone(),
            size: layer.size,
        });
    }
    Ok(ImageRecord {
        names: Vec::new(),
        manifest_digest: manifest_digest.to_owned(),
        index_digest: None,
        config_digest: manifest.config.digest.clone(),
        layers,
    })
}

/// Tar layers, compressed or not, OCI or Docker spelling (foreign layers included).
fn is_layer_media_type(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

/// One registry conversation: client, auth and the reference it serves.
struct Remote {
    client: oci_client::Client,
    auth: RegistryAuth,
    oci_ref: oci_client::Reference,
    name: String,
}

impl Remote {
    fn new(
        options: &RegistryOptions,
        reference: &ImageReference,
        credentials: Option<&RegistryCredentials>,
    ) -> Self {
        // reqwest is built without a bundled crypto provider; ring is the workspace's. An
        // error only means a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let protocol = if options.is_insecure(reference) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let auth = match credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Remote {
            client: oci_client::Client::new(config),
            auth,
            oci_ref: reference.to_oci(),
            name: reference.to_string(),
        }
    }

    async fn manifest(
        &self,
        oci_ref: &oci_client::Reference,
    ) -> Result<(Vec<u8>, String), ImageError> {
        self.client
            .pull_manifest_raw(oci_ref, &self.auth, &MANIFEST_MEDIA_TYPES)
            .await
            .map(|(bytes, digest)| (bytes.to_vec(), digest))
            .map_err(|source| ImageError::Registry {
                reference: self.name.clone(),
                source,
            })
    }

    /// Streams a blob into the store, hashing as it goes.
    async fn fetch_blob(&self, store: &BlobStore, blob: &Descriptor) -> Result<(), ImageError> {
        debug!(image = %self.name, blob = %blob.digest, size = blob.size, "downloading blob");
        let mut stream = self
            .client
            .pull_blob_stream(&self.oci_ref, blob.digest.as_str())
            .await
            .map_err(|source| ImageError::Registry {
                reference: self.name.clone(),
                source,
            })?;
        let mut writer = store.writer(Some(&blob.digest))?;
        while let Some(chunk) = stream.next().await {
            match chunk {
                // Chunks are small and go to the page cache: writing them inline is cheaper
                // than a hop to the blocking pool each.
                Ok(chunk) => writer.write(&chunk)?,
                Err(source) => {
                    // oci-client ends a stream whose hash is wrong with an error; report it in
                    // our own terms when the bytes we kept prove it.
                    let actual = writer.current_digest();
                    if writer.size() == blob.size && actual != blob.digest {
                        return Err(ImageError::DigestMismatch {
                            expected: blob.digest.clone(),
                            actual,
                        });
                    }
                    return Err(ImageError::Download {
                        reference: self.name.clone(),
                        digest: blob.digest.clone(),
                        source,
                    });
                }
            }
            if writer.size() > blob.size {
                return Err(ImageError::InvalidImage {
                    reference: self.name.clone(),
                    reason: format!("blob {} is larger than its descriptor says", blob.digest),
                });
            }
        }
        writer.commit().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(options: &RegistryOptions, reference: &str) -> bool {
        options.is_insecure(&ImageReference::parse(reference).unwrap())
    }

    #[test]
    fn loopback_registries_are_plain_http_and_others_https_unless_listed() {
        let options = RegistryOptions {
            insecure_registries: vec!["registry.lan:5000".into(), "mirror.lan".into()],
            ..RegistryOptions::default()
        };
        assert!(insecure(&options, "127.0.0.1:5000/app"));
        assert!(insecure(&options, "127.1.2.3:80/app"));
        assert!(insecure(&options, "localhost:5000/app"));
        assert!(insecure(&options, "[::1]:5000/app"));
        assert!(insecure(&options, "registry.lan:5000/app"));
        assert!(insecure(&options, "mirror.lan:443/app"));
        assert!(!insecure(&options, "registry.lan:5001/app"));
        assert!(!insecure(&options, "busybox"));
        assert!(!insecure(&options, "quay.io/app"));
    }
}
