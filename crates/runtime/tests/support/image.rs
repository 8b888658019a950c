//! Reproducible test images: layers built as tars in memory (sorted, mtime 0, uid/gid 0 unless
//! asked otherwise, gzip without name or time), written out as an OCI image layout, an OCI
//! archive or a `docker save` archive.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// OCI manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One entry of a test layer.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory with a mode.
    Dir(String, u32),
    /// A regular file: path, contents, mode.
    File(String, Vec<u8>, u32),
    /// A regular file with owner: path, contents, mode, uid, gid.
    OwnedFile(String, Vec<u8>, u32, u64, u64),
    /// A symlink: path, target.
    Symlink(String, String),
    /// A hard link: path, target path in the layer.
    HardLink(String, String),
    /// A regular file whose path is written as is, unchecked (for hostile layers).
    RawPath(String, Vec<u8>),
}

/// A layer blob (gzip) with its digests.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The compressed blob.
    pub blob: Vec<u8>,
    /// Digest of the blob.
    pub digest: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
}

impl Layer {
    /// Builds a gzip layer from entries, in the order given.
    pub fn from_entries(entries: &[Entry]) -> Layer {
        let tar = tar_bytes(entries);
        let blob = gzip(&tar);
        Layer {
            digest: digest(&blob),
            diff_id: digest(&tar),
            blob,
        }
    }
}

/// An uncompressed tar of the entries, headers made reproducible.
pub fn tar_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        match entry {
            Entry::Dir(path, mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                builder.append_data(&mut header, path, &[][..]).unwrap();
            }
            Entry::File(path, data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, &data[..]).unwrap();
            }
            Entry::OwnedFile(path, data, mode, uid, gid) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_uid(*uid);
                header.set_gid(*gid);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, &data[..]).unwrap();
            }
            Entry::Symlink(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::HardLink(path, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::RawPath(path, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                let name = &mut header.as_old_mut().name;
                name[..path.len()].copy_from_slice(path.as_bytes());
                header.set_cksum();
                builder.append(&header, &data[..]).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

/// gzip without file name or time, so equal input gives equal output.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The busybox rootfs: `/bin/busybox` from busybox-static, a symlink per applet in /bin,
/// /etc/passwd, /etc/group and /tmp, sorted by path.
pub fn busybox_entries() -> Vec<Entry> {
    let binary = fs::read("/bin/busybox").expect("read /bin/busybox (package busybox-static)");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("run busybox --list");
    let mut applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox")
        .map(str::to_owned)
        .collect();
    applets.sort();
    applets.dedup();

    let mut entries = vec![
        Entry::Dir("bin".into(), 0o755),
        Entry::File("bin/busybox".into(), binary, 0o755),
    ];
    for applet in applets {
        entries.push(Entry::Symlink(format!("bin/{applet}"), "busybox".into()));
    }
    entries.extend([
        Entry::Dir("etc".into(), 0o755),
        Entry::File(
            "etc/group".into(),
            b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
            0o644,
        ),
        Entry::File(
            "etc/passwd".into(),
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n".to_vec(),
            0o644,
        ),
        Entry::Dir("tmp".into(), 0o1777),
    ]);
    sort_entries(&mut entries);
    entries
}

fn entry_path(entry: &Entry) -> &str {
    match entry {
        Entry::Dir(p, _)
        | Entry::File(p, _, _)
        | Entry::OwnedFile(p, _, _, _, _)
        | Entry::Symlink(p, _)
        | Entry::HardLink(p, _)
        | Entry::RawPath(p, _) => p,
    }
}

/// Sorts entries by path (as `tar --sort=name` does).
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| entry_path(a).cmp(entry_path(b)));
}

/// An image: layers, config and manifest, written as an OCI image layout.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// The OCI image layout directory.
    pub layout: PathBuf,
    /// Layers, bottom-most first.
    pub layers: Vec<Layer>,
    /// Config JSON.
    pub config: Vec<u8>,
    /// Digest of the config.
    pub config_digest: String,
    /// OCI manifest JSON.
    pub manifest: Vec<u8>,
    /// Digest of the OCI manifest.
    pub manifest_digest: String,
    /// The name in index.json's ref.name annotation.
    pub name: String,
}

impl TestImage {
    /// Builds an image from layers (config Cmd ["sh"]) and writes its layout into `dir`.
    pub fn build(dir: &Path, name: &str, layers: Vec<Layer>) -> TestImage {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let config = config_json(&diff_ids);
        Self::build_with_config(dir, name, layers, config)
    }

    /// Like `build`, with the config JSON given.
    pub fn build_with_config(
        dir: &Path,
        name: &str,
        layers: Vec<Layer>,
        config: Vec<u8>,
    ) -> TestImage {
        let config_digest = digest(&config);
        let manifest = manifest_json(OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, &config, &layers);
        let image = TestImage {
            layout: dir.to_owned(),
            manifest_digest: digest(&manifest),
            layers,
            config,
            config_digest,
            manifest,
            name: name.to_owned(),
        };
        image.write_layout();
        image
    }

    /// The same image with one more layer on top, in a new layout under `dir`.
    pub fn with_layer(&self, dir: &Path, name: &str, layer: Layer) -> TestImage {
        let mut layers = self.layers.clone();
        layers.push(layer);
        TestImage::build(dir, name, layers)
    }

    /// The Docker schema 2 twin of the manifest (same config and layer blobs).
    pub fn docker_manifest(&self) -> Vec<u8> {
        manifest_json(
            DOCKER_MANIFEST,
            DOCKER_CONFIG,
            DOCKER_LAYER_GZIP,
            &self.config,
            &self.layers,
        )
    }

    fn write_layout(&self) {
        let blobs = self.layout.join("blobs/sha256");
        fs::create_dir_all(&blobs).unwrap();
        let write_blob = |bytes: &[u8]| {
            let hex = digest(bytes)["sha256:".len()..].to_owned();
            fs::write(blobs.join(hex), bytes).unwrap();
        };
        for layer in &self.layers {
            write_blob(&layer.blob);
        }
        write_blob(&self.config);
        write_blob(&self.manifest);
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": self.manifest_digest,
                "size": self.manifest.len(),
                "annotations": { "org.opencontainers.image.ref.name": self.name },
            }],
        });
        fs::write(self.layout.join("index.json"), index.to_string()).unwrap();
        fs::write(
            self.layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
    }
}

/// An image config with Cmd ["sh"], an Env, a WorkingDir and an exposed port.
pub fn config_json(diff_ids: &[String]) -> Vec<u8> {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": ["sh"],
            "WorkingDir": "/",
            "ExposedPorts": { "8080/tcp": {} },
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    })
    .to_string()
    .into_bytes()
}

fn manifest_json(
    media_type: &str,
    config_type: &str,
    layer_type: &str,
    config: &[u8],
    layers: &[Layer],
) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|l| json!({ "mediaType": layer_type, "digest": l.digest, "size": l.blob.len() }))
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": { "mediaType": config_type, "digest": digest(config), "size": config.len() },
        "layers": layers,
    })
    .to_string()
    .into_bytes()
}

/// The busybox image (one layer) as an OCI layout in `dir`, named `busybox:latest`.
pub fn busybox_image(dir: &Path) -> TestImage {
    TestImage::build(
        dir,
        "busybox:latest",
        vec![Layer::from_entries(&busybox_entries())],
    )
}

/// A layer that deletes `etc/group` (whiteout), makes `opt` opaque and adds `etc/hello` and
/// `opt/new`.
pub fn whiteout_layer() -> Layer {
    Layer::from_entries(&[
        Entry::Dir("etc".into(), 0o755),
        Entry::File("etc/.wh.group".into(), Vec::new(), 0o644),
        Entry::File("etc/hello".into(), b"hello\n".to_vec(), 0o644),
        Entry::Dir("opt".into(), 0o755),
        Entry::File("opt/.wh..wh..opq".into(), Vec::new(), 0o644),
        Entry::File("opt/new".into(), b"new\n".to_vec(), 0o644),
    ])
}

/// busybox plus a layer with `opt/old`, plus the whiteout layer: three layers, in `dir`,
/// named `busybox-whiteout:latest`.
pub fn whiteout_image(dir: &Path, base: &TestImage) -> TestImage {
    let old = Layer::from_entries(&[
        Entry::Dir("opt".into(), 0o755),
        Entry::File("opt/old".into(), b"old\n".to_vec(), 0o644),
    ]);
    let mut layers = base.layers.clone();
    layers.push(old);
    layers.push(whiteout_layer());
    TestImage::build(dir, "busybox-whiteout:latest", layers)
}

/// Tars an OCI layout directory into `out` (an "OCI archive").
pub fn oci_archive(image: &TestImage, out: &Path) {
    let mut builder = tar::Builder::new(fs::File::create(out).unwrap());
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(".", &image.layout).unwrap();
    builder.into_inner().unwrap().sync_all().unwrap();
}

/// Writes a `docker save` style archive of the image: manifest.json, `<hex>.json` config,
/// `<layer>/layer.tar` (uncompressed, as Docker writes them) and `repositories`.
pub fn docker_save_archive(image: &TestImage, repo_tag: &str, out: &Path) {
    let mut builder = tar::Builder::new(fs::File::create(out).unwrap());
    let config_name = format!("{}.json", &image.config_digest["sha256:".len()..]);
    let mut layer_names = Vec::new();
    let append = |builder: &mut tar::Builder<fs::File>, path: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data).unwrap();
    };
    for layer in &image.layers {
        let tar = flate2::read::GzDecoder::new(&layer.blob[..]);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut { tar }, &mut bytes).unwrap();
        let name = format!("{}/layer.tar", &layer.diff_id["sha256:".len()..]);
        append(&mut builder, &name, &bytes);
        layer_names.push(name);
    }
    append(&mut builder, &config_name, &image.config);
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [repo_tag],
        "Layers": layer_names,
    }]);
    append(
        &mut builder,
        "manifest.json",
        manifest.to_string().as_bytes(),
    );
    builder.into_inner().unwrap().sync_all().unwrap();
}
