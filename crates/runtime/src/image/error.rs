//! The one error type of the image module.

use std::path::PathBuf;

/// Everything that can go wrong while pulling, importing, storing or unpacking images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The text is not a valid image reference.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The text as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The digest is malformed or uses an algorithm other than sha256.
    #[error("invalid or unsupported digest {digest:?}")]
    InvalidDigest {
        /// The digest as given.
        digest: String,
    },

    /// Content did not hash to the digest that names it; nothing was stored.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the content was announced with.
        expected: String,
        /// The digest of the content actually received.
        actual: String,
    },

    /// An uncompressed layer did not hash to the diff ID the image config lists for it.
    #[error("layer {layer} does not match its diff id: expected {expected}, got {actual}")]
    DiffIdMismatch {
        /// The layer blob's digest.
        layer: String,
        /// The diff ID from the image config.
        expected: String,
        /// The digest of the uncompressed tar.
        actual: String,
    },

    /// The image is not in the local store.
    #[error("image {reference} is not present")]
    NotFound {
        /// The reference looked up.
        reference: String,
    },

    /// The pull policy is Never and the image is not in the local store.
    #[error("image {reference} is not present and the pull policy is Never")]
    NeverPull {
        /// The reference asked for.
        reference: String,
    },

    /// The registry refused or failed the request.
    #[error("failed to pull image {reference}")]
    Registry {
        /// The reference being pulled.
        reference: String,
        /// What the registry client reported.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },

    /// A blob download broke off.
    #[error("failed to download blob {digest} of image {reference}")]
    Download {
        /// The image being pulled.
        reference: String,
        /// The blob being downloaded.
        digest: String,
        /// What the transfer reported.
        #[source]
        source: std::io::Error,
    },

    /// A manifest list or image index holds no entry for the wanted platform.
    #[error("image {reference} has no manifest for platform {platform}")]
    NoMatchingPlatform {
        /// The reference being pulled or imported.
        reference: String,
        /// The platform wanted, as os/architecture.
        platform: String,
    },

    /// A manifest, config or layer has a media type this runtime cannot handle.
    #[error("unsupported media type {media_type:?} in image {reference}")]
    UnsupportedMediaType {
        /// The image being handled.
        reference: String,
        /// The media type found.
        media_type: String,
    },

    /// A JSON document (manifest, index, config, local index) failed to parse.
    #[error("invalid {what}")]
    Json {
        /// Which document, naming its digest or path.
        what: String,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },

    /// An image's documents contradict each other or miss required parts.
    #[error("invalid image {reference}: {reason}")]
    InvalidImage {
        /// The image (reference or manifest digest).
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An archive does not hold an image in a known layout.
    #[error("invalid image archive {path}: {reason}")]
    InvalidArchive {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A layer entry would land outside the layer directory or through a symlink.
    #[error("unsafe path {entry:?} in layer {layer}: {reason}")]
    UnsafeLayerPath {
        /// The layer blob's digest.
        layer: String,
        /// The entry's path inside the tar.
        entry: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A filesystem operation failed.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done (lower-case verb phrase).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A blocking task (unpacking, importing) panicked or was cancelled.
    #[error("background image task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl ImageError {
    /// Wraps an I/O error with the action and path it concerns.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io {
            action,
            path,
            source,
        }
    }
}
