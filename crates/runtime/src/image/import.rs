//! Importing images from archives, for hosts without a registry: an OCI image layout tarball
//! (`oci-layout`, `index.json`, `blobs/`) or a `docker save` tarball (`manifest.json` plus
//! layer tars). Either may be gzip-compressed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use tracing::debug;

use super::ImageError;
use super::reference::ImageReference;
use super::spec::{
    self, CONTAINERD_NAME_ANNOTATION, DOCKER_CONFIG, DOCKER_LAYER_TAR, DOCKER_MANIFEST, Descriptor,
    Index, Manifest, ManifestKind, Platform, REF_NAME_ANNOTATION,
};
use super::store::{BlobStore, parse_digest, sha256_digest};

const MAX_METADATA_SIZE: u64 = 16 << 20;
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// An image found in an archive, its blobs already in the store.
#[derive(Debug)]
pub(crate) struct ArchivedImage {
    pub(crate) manifest: Manifest,
    pub(crate) manifest_digest: String,
    pub(crate) names: Vec<String>,
}

/// Stores every blob of the archive at `path` and returns the images it holds.
pub(crate) fn import_archive(
    store: &BlobStore,
    path: &Path,
    platform: &Platform,
) -> Result<Vec<ArchivedImage>, ImageError> {
    let metadata = read_metadata(path)?;
    if let Some(index) = metadata.get("index.json") {
        import_oci_layout(store, path, index, platform)
    } else if let Some(manifest) = metadata.get("manifest.json") {
        import_docker_save(store, path, manifest)
    } else {
        Err(invalid(
            path,
            "neither index.json nor manifest.json at the top",
        ))
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidArchive {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Opens the archive, decompressing it if it is gzip.
fn open(path: &Path) -> Result<tar::Archive<Box<dyn Read>>, ImageError> {
    let file = File::open(path).map_err(ImageError::io("open archive", path))?;
    let mut reader = BufReader::new(file);
    let head = reader
        .fill_buf()
        .map_err(ImageError::io("read archive", path))?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    Ok(tar::Archive::new(reader))
}

/// An archive member's path without `./`, or None if it tries to climb out.
fn member_path(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut parts = Vec::new();
    for component in Path::new(text.as_ref()).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// First pass: the small top-level JSON documents that say what the archive holds.
fn read_metadata(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, ImageError> {
    let mut archive = open(path)?;
    let mut found = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(ImageError::io("read archive", path))?;
    for entry in entries {
        let entry = entry.map_err(ImageError::io("read archive", path))?;
        let Some(name) = member_path(&entry.path_bytes()) else {
            continue;
        };
        if matches!(name.as_str(), "index.json" | "manifest.json" | "oci-layout") {
            if entry.size() > MAX_METADATA_SIZE {
                return Err(invalid(path, format!("{name} is too large")));
            }
            let mut bytes = Vec::new();
            entry
                .take(MAX_METADATA_SIZE)
                .read_to_end(&mut bytes)
                .map_err(ImageError::io("read archive", path))?;
            found.insert(name, bytes);
        }
    }
    Ok(found)
}

fn import_oci_layout(
    store: &BlobStore,
    path: &Path,
    index_bytes: &[u8],
    platform: &Platform,
) -> Result<Vec<ArchivedImage>, ImageError> {
    let mut archive = open(path)?;
    let entries = archive
        .entries()
        .map_err(ImageError::io("read archive", path))?;
    for entry in entries {
        let entry = entry.map_err(ImageError::io("read archive", path))?;
        let Some(name) = member_path(&entry.path_bytes()) else {
            continue;
        };
        let Some(hex) = name.strip_prefix("blobs/sha256/") else {
            continue;
        };
        let digest = format!("sha256:{hex}");
        if parse_digest(&digest).is_err() || !entry.header().entry_type().is_file() {
            continue;
        }
        if !store.contains(&digest) {
            store.put_reader(Some(&digest), entry)?;
        }
    }

    let index: Index = serde_json::from_slice(index_bytes).map_err(|source| ImageError::Json {
        what: format!("index.json of {}", path.display()),
        source,
    })?;
    let mut images = Vec::new();
    for descriptor in &index.manifests {
        let (manifest, manifest_digest) = resolve_manifest(store, path, descriptor, platform)?;
        images.push(ArchivedImage {
            manifest,
            manifest_digest,
            names: layout_names(descriptor),
        });
    }
    Ok(images)
}

/// Follows an index.json entry to a single-platform manifest.
fn resolve_manifest(
    store: &BlobStore,
    path: &Path,
    descriptor: &Descriptor,
    platform: &Platform,
) -> Result<(Manifest, String), ImageError> {
    let mut digest = descriptor.digest.clone();
    // An index may nest once (an image index inside index.json); deeper is refused.
    for _ in 0..2 {
        if !store.contains(&digest) {
            return Err(invalid(path, format!("blob {digest} is missing")));
        }
        let bytes = store.read(&digest)?;
        match spec::parse_manifest(&bytes, &format!("manifest {digest}"))? {
            ManifestKind::Image(manifest) => return Ok((manifest, digest)),
            ManifestKind::Index(index) => {
                let entry =
                    index
                        .select(platform)
                        .ok_or_else(|| ImageError::NoMatchingPlatform {
                            reference: digest.clone(),
                            platform: platform.to_string(),
                        })?;
                digest = entry.digest.clone();
            }
        }
    }
    Err(invalid(path, "image indexes nested too deeply"))
}

/// The names an OCI layout gives an entry: containerd's full name, else the ref.name
/// annotation when it is a full reference (a bare tag names no repository).
fn layout_names(descriptor: &Descriptor) -> Vec<String> {
    let annotations = &descriptor.annotations;
    let candidate = annotations.get(CONTAINERD_NAME_ANNOTATION).or_else(|| {
        annotations
            .get(REF_NAME_ANNOTATION)
            .filter(|name| name.contains([':', '/', '@']))
    });
    candidate
        .and_then(|name| ImageReference::parse(name).ok())
        .map(|reference| vec![reference.to_string()])
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn import_docker_save(
    store: &BlobStore,
    path: &Path,
    manifest_bytes: &[u8],
) -> Result<Vec<ArchivedImage>, ImageError> {
    let entries: Vec<DockerSaveEntry> =
        serde_json::from_slice(manifest_bytes).map_err(|source| ImageError::Json {
            what: format!("manifest.json of {}", path.display()),
            source,
        })?;
    let wanted: Vec<&str> = entries
        .iter()
        .flat_map(|e| std::iter::once(e.config.as_str()).chain(e.layers.iter().map(|l| l.as_str())))
        .collect();
    let stored = store_members(store, path, &wanted)?;

    let mut images = Vec::new();
    for entry in &entries {
        let member = |name: &str| {
            stored
                .get(name)
                .cloned()
                .ok_or_else(|| invalid(path, format!("{name} is missing")))
        };
        let (config_digest, config_size) = member(&entry.config)?;
        let mut layers = Vec::new();
        for layer in &entry.layers {
            let (digest, size) = member(layer)?;
            layers.push(Descriptor {
                media_type: layer_media_type(store, &digest)?.to_owned(),
                digest,
                size,
                platform: None,
                annotations: BTreeMap::new(),
            });
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(DOCKER_MANIFEST.to_owned()),
            config: Descriptor {
                media_type: DOCKER_CONFIG.to_owned(),
                digest: config_digest,
                size: config_size,
                platform: None,
                annotations: BTreeMap::new(),
            },
            layers,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|source| ImageError::Json {
            what: format!("manifest built for {}", path.display()),
            source,
        })?;
        let manifest_digest = sha256_digest(&bytes);
        store.put_bytes(&manifest_digest, &bytes)?;

        let names = entry
            .repo_tags
            .iter()
            .flatten()
            .filter_map(|tag| ImageReference::parse(tag).ok())
            .map(|reference| reference.to_string())
            .collect();
        images.push(ArchivedImage {
            manifest,
            manifest_digest,
            names,
        });
    }
    Ok(images)
}

/// Second pass over a docker-save archive: stores the wanted members (following symlinks
/// between them, as older Docker writes for shared layers) and returns digest and size of each.
fn store_members(
    store: &BlobStore,
    path: &Path,
    wanted: &[&str],
) -> Result<BTreeMap<String, (String, u64)>, ImageError> {
    let mut stored = BTreeMap::new();
    let mut links = BTreeMap::new();
    let mut archive = open(path)?;
    let entries = archive
        .entries()
        .map_err(ImageError::io("read archive", path))?;
    for entry in entries {
        let entry = entry.map_err(ImageError::io("read archive", path))?;
        let Some(name) = member_path(&entry.path_bytes()) else {
            continue;
        };
        if !wanted.contains(&name.as_str()) {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if let Some(target) = entry.link_name().ok().flatten() {
                let base = Path::new(&name).parent().unwrap_or(Path::new(""));
                let joined = base.join(target);
                if let Some(target) = member_path(joined.as_os_str().as_encoded_bytes()) {
                    links.insert(name, target);
                }
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        // Members named by digest are verified; others are stored under what they hash to.
        let expected = name
            .strip_prefix("blobs/sha256/")
            .map(|hex| format!("sha256:{hex}"))
            .filter(|d| parse_digest(d).is_ok());
        let stored_blob = store.put_reader(expected.as_deref(), entry)?;
        debug!(member = %name, digest = %stored_blob.0, "stored archive member");
        stored.insert(name, stored_blob);
    }
    for (name, target) in links {
        if let Some(blob) = stored.get(&target).cloned() {
            stored.insert(name, blob);
        }
    }
    Ok(stored)
}

/// Docker archives do not say whether a layer is compressed: look.
fn layer_media_type(store: &BlobStore, digest: &str) -> Result<&'static str, ImageError> {
    let path: PathBuf = store.path(digest)?;
    let mut head = [0u8; 2];
    let mut file = File::open(&path).map_err(ImageError::io("open", &path))?;
    let n = file
        .read(&mut head)
        .map_err(ImageError::io("read", &path))?;
    Ok(if n == 2 && head == [0x1f, 0x8b] {
        DOCKER_LAYER_GZIP
    } else {
        DOCKER_LAYER_TAR
    })
}
