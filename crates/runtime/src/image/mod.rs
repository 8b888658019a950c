//! Images: pulled from registries or imported from archives, stored by digest, unpacked once.
//!
//! Everything lives under one root directory:
//!
//! ```text
//! <root>/blobs/sha256/<hex>    manifests, configs and layer blobs, verified by digest
//! <root>/layers/<diff id hex>/ each layer unpacked once, an overlayfs lower directory
//! <root>/images.json           the local index: names -> manifest, config, layers
//! <root>/tmp/                  work in progress, renamed into place when complete
//! ```
//!
//! [`ImageService`] is the facade the agent uses.

mod error;
mod import;
mod index;
mod pull;
mod reference;
mod spec;
mod store;
mod unpack;

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::RwLock;
use tracing::{debug, instrument};

pub use error::ImageError;
pub use index::{ImageRecord, LayerRecord};
pub use pull::{RegistryCredentials, RegistryOptions};
pub use reference::{DEFAULT_REGISTRY, DEFAULT_TAG, ImageReference};
pub use spec::{ImageConfig, Platform};
pub use store::{BlobStore, BlobWriter, parse_digest, sha256_digest};

use index::ImageIndex;

/// When to pull an image, as a container's `imagePullPolicy` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time (cheap when nothing changed: only the manifest is fetched).
    Always,
    /// Pull only when the image is not in the local store.
    IfNotPresent,
    /// Never pull; an absent image is an error.
    Never,
}

impl PullPolicy {
    /// Kubernetes' default: `Always` for a `latest` tag (or none), else `IfNotPresent`.
    pub fn default_for(reference: &ImageReference) -> Self {
        if reference.digest().is_none() && reference.tag() == Some(DEFAULT_TAG) {
            PullPolicy::Always
        } else {
            PullPolicy::IfNotPresent
        }
    }
}

impl FromStr for PullPolicy {
    type Err = String;

    /// Parses the Kubernetes spelling (`Always`, `IfNotPresent`, `Never`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "Always" => Ok(PullPolicy::Always),
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Never" => Ok(PullPolicy::Never),
            other => Err(format!("unknown image pull policy {other:?}")),
        }
    }
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Images dropped from the index.
    pub images_removed: usize,
    /// Blobs deleted.
    pub blobs_removed: usize,
    /// Unpacked layer directories deleted.
    pub layers_removed: usize,
}

/// The local image store: pull, import, look up, unpack, remove and collect garbage.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct ImageService {
    root: PathBuf,
    store: BlobStore,
    layers: PathBuf,
    tmp: PathBuf,
    index: Mutex<ImageIndex>,
    options: RegistryOptions,
    /// Pulls and imports hold it shared, garbage collection exclusively: blobs a pull has
    /// stored but not yet indexed must not look unreferenced.
    gc_lock: RwLock<()>,
}

impl ImageService {
    /// Opens (creating if needed) the image store under `root` and clears work a crash left.
    /// One service per root: a second one would clear the first one's work in progress.
    pub fn open(root: impl Into<PathBuf>, options: RegistryOptions) -> Result<Self, ImageError> {
        let root = root.into();
        let store = BlobStore::open(&root)?;
        store.clear_tmp()?;
        let layers = root.join("layers");
        fs::create_dir_all(&layers).map_err(ImageError::io("create", &layers))?;
        let index = ImageIndex::load(&root)?;
        Ok(ImageService {
            tmp: root.join("tmp"),
            root,
            store,
            layers,
            index: Mutex::new(index),
            options,
            gc_lock: RwLock::new(()),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    /// Pulls `reference` (optionally with registry credentials), unpacks its layers and
    /// records it under that name.
    #[instrument(level = "debug", skip(self, credentials), fields(image = %reference))]
    pub async fn pull(
        &self,
        reference: &ImageReference,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<ImageRecord, ImageError> {
        let _guard = self.gc_lock.read().await;
        let record = pull::pull(&self.store, &self.options, reference, credentials).await?;
        self.unpack_all(&record).await?;

        let mut names = vec![reference.to_string()];
        if reference.digest().is_none() {
            names.push(reference.with_digest(&record.manifest_digest).to_string());
        }
        let record = self.lock_index().insert(record, &names)?;
        debug!(manifest = %record.manifest_digest, layers = record.layers.len(), "pulled image");
        Ok(record)
    }

    /// Returns the image, pulling it first if `policy` says so.
    pub async fn ensure_image(
        &self,
        reference: &ImageReference,
        policy: PullPolicy,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<ImageRecord, ImageError> {
        let present = self.get(reference);
        match (policy, present) {
            (PullPolicy::Always, _) | (PullPolicy::IfNotPresent, None) => {
                self.pull(reference, credentials).await
            }
            (_, Some(image)) => Ok(image),
            (PullPolicy::Never, None) => Err(ImageError::NeverPull {
                reference: reference.to_string(),
            }),
        }
    }

    /// Imports every image of an OCI layout or `docker save` tarball (plain or gzip), unpacks
    /// their layers and records them under the names the archive gives.
    #[instrument(level = "debug", skip(self), fields(archive = %path.display()))]
    pub async fn import(&self, path: &Path) -> Result<Vec<ImageRecord>, ImageError> {
        let _guard = self.gc_lock.read().await;
        let store = self.store.clone();
        let platform = self.options.platform.clone();
        let archive = path.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            import::import_archive(&store, &archive, &platform)
        })
        .await
        .map_err(ImageError::Task)??;

        let mut records = Vec::with_capacity(found.len());
        for image in found {
            let label = image
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| image.manifest_digest.clone());
            let missing = |blob: &spec::Descriptor| {
                let error = ImageError::InvalidArchive {
                    path: path.to_owned(),
                    reason: format!("blob {} is missing", blob.digest),
                };
                std::future::ready(Err(error))
            };
            let record = pull::describe(
                &self.store,
                &label,
                &image.manifest,
                &image.manifest_digest,
                missing,
            )
            .await?;
            self.unpack_all(&record).await?;
            records.push(self.lock_index().insert(record, &image.names)?);
        }
        Ok(records)
    }

    /// The image `reference` names, if present.
    pub fn get(&self, reference: &ImageReference) -> Option<ImageRecord> {
        self.lock_index().lookup(reference).cloned()
    }

    /// Every image in the store.
    pub fn list(&self) -> Vec<ImageRecord> {
        self.lock_index().images().to_vec()
    }

    /// Removes a name (by tag) or an image (by digest); its blobs go at the next garbage
    /// collection. Returns whether anything was removed.
    pub fn remove(&self, reference: &ImageReference) -> Result<bool, ImageError> {
        self.lock_index().remove(reference)
    }

    /// Drops every image no reference in `keep` names, then deletes the blobs and unpacked
    /// layers no remaining image needs. The caller must keep the images of running
    /// containers: their layers are overlayfs lower directories.
    pub async fn gc(&self, keep: &[ImageReference]) -> Result<GcReport, ImageError> {
        let _guard = self.gc_lock.write().await;
        let images_removed = self.lock_index().retain(keep)?;
        let mut report = self.collect_unreferenced().await?;
        report.images_removed = images_removed;
        Ok(report)
    }

    /// Deletes blobs and unpacked layers no image in the index needs, keeping every image.
    pub async fn collect_garbage(&self) -> Result<GcReport, ImageError> {
        let _guard = self.gc_lock.write().await;
        self.collect_unreferenced().await
    }

    /// The image's unpacked layers in overlayfs `lowerdir` order, top-most first, unpacking
    /// any that are missing.
    pub async fn rootfs_layers(&self, image: &ImageRecord) -> Result<Vec<PathBuf>, ImageError> {
        let _guard = self.gc_lock.read().await;
        let mut dirs = self.unpack_all(image).await?;
        dirs.reverse();
        Ok(dirs)
    }

    /// The parts of the image config the agent needs to build the container's process.
    pub fn image_config(&self, image: &ImageRecord) -> Result<ImageConfig, ImageError> {
        let bytes = self.store.read(&image.config_digest)?;
        let config = spec::parse_config(&bytes, &image.config_digest)?;
        Ok(ImageConfig::from(&config))
    }

    /// Unpacks each layer not unpacked yet; returns the directories bottom-most first.
    async fn unpack_all(&self, image: &ImageRecord) -> Result<Vec<PathBuf>, ImageError> {
        let mut dirs = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            let dir = unpack::layer_dir(&self.layers, layer)?;
            if !dir.is_dir() {
                let blob = self.store.path(&layer.digest)?;
                let (layer, layers, tmp) = (layer.clone(), self.layers.clone(), self.tmp.clone());
                tokio::task::spawn_blocking(move || {
                    unpack::unpack_layer(&blob, &layer, &layers, &tmp)
                })
                .await
                .map_err(ImageError::Task)??;
            }
            dirs.push(dir);
        }
        Ok(dirs)
    }

    async fn collect_unreferenced(&self) -> Result<GcReport, ImageError> {
        let (blobs, diff_ids) = {
            let index = self.lock_index();
            (index.referenced_blobs(), index.referenced_diff_ids())
        };
        let store = self.store.clone();
        let layers = self.layers.clone();
        tokio::task::spawn_blocking(move || {
            let mut report = GcReport::default();
            for digest in store.digests()? {
                if !blobs.contains(&digest) {
                    store.remove(&digest)?;
                    report.blobs_removed += 1;
                }
            }
            let wanted: Vec<PathBuf> = diff_ids
                .iter()
                .filter_map(|d| parse_digest(d).ok().map(|hex| layers.join(hex)))
                .collect();
            let entries = fs::read_dir(&layers).map_err(ImageError::io("list", &layers))?;
            for entry in entries {
                let path = entry.map_err(ImageError::io("list", &layers))?.path();
                if !wanted.contains(&path) {
                    fs::remove_dir_all(&path).map_err(ImageError::io("remove layer", &path))?;
                    report.layers_removed += 1;
                }
            }
            store.clear_tmp()?;
            debug!(
                blobs = report.blobs_removed,
                layers = report.layers_removed,
                "collected garbage"
            );
            Ok(report)
        })
        .await
        .map_err(ImageError::Task)?
    }

    fn lock_index(&self) -> MutexGuard<'_, ImageIndex> {
        // A panic while holding the lock leaves the in-memory index as it was before the
        // failed change at worst: the file is replaced atomically.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
