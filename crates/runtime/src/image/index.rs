//! The local image index: which names point at which manifest, its config and its layers.
//! Persisted as `<root>/images.json`, replaced atomically on every change.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ImageError;
use super::reference::ImageReference;
use super::store::unique_name;

/// One image in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Normalised references naming this image: tags (`docker.io/library/busybox:latest`) and
    /// repository digests (`registry/app@sha256:...`). Empty for an untagged image.
    pub names: Vec<String>,
    /// Digest of the image manifest (single platform).
    pub manifest_digest: String,
    /// Digest of the manifest list or index the manifest was selected from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// Digest of the image config; also the image ID.
    pub config_digest: String,
    /// Layers, bottom-most first.
    pub layers: Vec<LayerRecord>,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Digest of the (possibly compressed) blob.
    pub digest: String,
    /// Digest of the uncompressed tar, from the image config.
    pub diff_id: String,
    /// Media type of the blob.
    pub media_type: String,
    /// Size of the blob in bytes.
    pub size: u64,
}

impl ImageRecord {
    /// Whether `reference` names this image: by tag, or by the digest of its manifest or of
    /// the index it came from.
    pub fn matches(&self, reference: &ImageReference) -> bool {
        if let Some(digest) = reference.digest() {
            return self.manifest_digest == digest || self.index_digest.as_deref() == Some(digest);
        }
        let wanted = reference.to_string();
        self.names.contains(&wanted)
    }

    /// Every blob this image needs: manifest, config and layers.
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        [self.manifest_digest.as_str(), self.config_digest.as_str()]
            .into_iter()
            .chain(self.layers.iter().map(|l| l.digest.as_str()))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    images: Vec<ImageRecord>,
}

/// The in-memory index and the file it is persisted to.
#[derive(Debug)]
pub(crate) struct ImageIndex {
    path: PathBuf,
    images: Vec<ImageRecord>,
}

impl ImageIndex {
    /// Loads `<root>/images.json`, or starts empty when it does not exist.
    pub(crate) fn load(root: &Path) -> Result<Self, ImageError> {
        let path = root.join("images.json");
        let images = match fs::read(&path) {
            Ok(bytes) => {
                let file: IndexFile =
                    serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
                        what: format!("image index {}", path.display()),
                        source,
                    })?;
                file.images
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ImageError::io("read", &path)(e)),
        };
        Ok(ImageIndex { path, images })
    }

    pub(crate) fn images(&self) -> &[ImageRecord] {
        &self.images
    }

    pub(crate) fn lookup(&self, reference: &ImageReference) -> Option<&ImageRecord> {
        self.images.iter().find(|image| image.matches(reference))
    }

    /// Adds an image (or merges it with the record of the same manifest) under `names`,
    /// taking those names away from any other image, and persists the index.
    pub(crate) fn insert(
        &mut self,
        mut record: ImageRecord,
        names: &[String],
    ) -> Result<ImageRecord, ImageError> {
        for image in &mut self.images {
            image.names.retain(|name| !names.contains(name));
        }
        if let Some(existing) = self
            .images
            .iter()
            .position(|image| image.manifest_digest == record.manifest_digest)
        {
            let old = self.images.remove(existing);
            record.names = old.names;
            record.index_digest = record.index_digest.or(old.index_digest);
        }
        for name in names {
            if !record.names.contains(name) {
                record.names.push(name.clone());
            }
        }
        record.names.sort();
        self.images.push(record.clone());
        self.save()?;
        Ok(record)
    }

    /// Removes the image `reference` names: a tag removes just that name (and the image once
    /// it has none left), a digest removes the image. Returns whether anything changed.
    pub(crate) fn remove(&mut self, reference: &ImageReference) -> Result<bool, ImageError> {
        let before = (self.images.len(), self.names_count());
        if reference.digest().is_some() {
            self.images.retain(|image| !image.matches(reference));
        } else {
            let name = reference.to_string();
            for image in &mut self.images {
                if image.names.contains(&name) {
                    image.names.retain(|n| *n != name);
                    // Repository digests alone do not keep an image once its last tag is gone.
                    if image.names.iter().all(|n| n.contains('@')) {
                        image.names.clear();
                    }
                }
            }
            self.images.retain(|image| !image.names.is_empty());
        }
        let changed = before != (self.images.len(), self.names_count());
        if changed {
            self.save()?;
        }
        Ok(changed)
    }

    /// Keeps only the images some reference in `keep` names; returns how many were dropped.
    pub(crate) fn retain(&mut self, keep: &[ImageReference]) -> Result<usize, ImageError> {
        let before = self.images.len();
        self.images
            .retain(|image| keep.iter().any(|reference| image.matches(reference)));
        let dropped = before - self.images.len();
        if dropped > 0 {
            self.save()?;
        }
        Ok(dropped)
    }

    /// Blob digests any image still needs.
    pub(crate) fn referenced_blobs(&self) -> BTreeSet<String> {
        self.images
            .iter()
            .flat_map(|image| image.blobs().map(str::to_owned))
            .collect()
    }

    /// Diff IDs of layers any image still needs.
    pub(crate) fn referenced_diff_ids(&self) -> BTreeSet<String> {
        self.images
            .iter()
            .flat_map(|image| image.layers.iter().map(|l| l.diff_id.clone()))
            .collect()
    }

    fn names_count(&self) -> usize {
        self.images.iter().map(|image| image.names.len()).sum()
    }

    /// Writes a temporary file beside the index, syncs it and renames it over the old one.
    fn save(&self) -> Result<(), ImageError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(unique_name("images.json"));
        let file = IndexFile {
            images: self.images.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| ImageError::Json {
            what: format!("image index {}", self.path.display()),
            source,
        })?;

        let written =
            File::create(&tmp).and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(ImageError::io("write", &tmp)(e));
        }
        fs::rename(&tmp, &self.path).map_err(ImageError::io("replace", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(manifest: &str) -> ImageRecord {
        ImageRecord {
            names: Vec::new(),
            manifest_digest: manifest.to_owned(),
            index_digest: None,
            config_digest: format!("{manifest}-config"),
            layers: Vec::new(),
        }
    }

    fn name(text: &str) -> ImageReference {
        ImageReference::parse(text).unwrap()
    }

    #[test]
    fn a_tag_moves_to_the_newer_image_and_the_older_one_stays_untagged() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = ImageIndex::load(dir.path()).unwrap();
        let latest = name("busybox").to_string();
        index
            .insert(record("old"), std::slice::from_ref(&latest))
            .unwrap();
        index
            .insert(record("new"), std::slice::from_ref(&latest))
            .unwrap();

        let reloaded = ImageIndex::load(dir.path()).unwrap();
        assert_eq!(
            reloaded.lookup(&name("busybox")).unwrap().manifest_digest,
            "new"
        );
        let old = reloaded
            .images()
            .iter()
            .find(|i| i.manifest_digest == "old")
            .unwrap();
        assert!(old.names.is_empty());
    }

    #[test]
    fn removing_the_last_tag_removes_the_image_even_with_repository_digests() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = ImageIndex::load(dir.path()).unwrap();
        let names = ["a.io/app:1".to_owned(), "a.io/app@sha256:00".to_owned()];
        index.insert(record("m"), &names).unwrap();
        assert!(index.remove(&name("a.io/app:1")).unwrap());
        assert!(index.images().is_empty());
    }
}
