//! Images without a registry: importing archives, unpacking layers (whiteouts, links,
//! ownership, hostile paths), the overlayfs view of the layers, the index and garbage
//! collection.

mod support;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};
use skiff_runtime::image::{ImageError, ImageReference, ImageService, RegistryOptions};
use support::{
    Entry, Layer, TestImage, busybox_entries, busybox_image, docker_save_archive, oci_archive,
    prerequisites, whiteout_image,
};

const TOOLS: &[&str] = &["busybox"];

fn reference(text: &str) -> ImageReference {
    ImageReference::parse(text).unwrap()
}

fn service(dir: &Path) -> ImageService {
    ImageService::open(dir.join("images"), RegistryOptions::default()).unwrap()
}

/// Writes an OCI archive of `image` and returns its path.
fn archive_of(dir: &Path, image: &TestImage) -> PathBuf {
    let path = dir.join(format!("{}.tar", image.manifest_digest.replace(':', "-")));
    oci_archive(image, &path);
    path
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[tokio::test]
async fn importing_an_oci_archive_records_its_name_and_unpacks_it() {
    if !prerequisites("importing_an_oci_archive", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = busybox_image(&dir.path().join("layout"));
    let service = service(dir.path());

    let records = service
        .import(&archive_of(dir.path(), &image))
        .await
        .unwrap();

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].names, vec!["docker.io/library/busybox:latest"]);
    assert_eq!(records[0].manifest_digest, image.manifest_digest);
    let found = service.get(&reference("busybox")).unwrap();
    assert_eq!(found, records[0]);
    let layers = service.rootfs_layers(&found).await.unwrap();
    assert!(layers[0].join("bin/busybox").is_file());
}

#[tokio::test]
async fn importing_a_docker_save_archive_records_its_repo_tags() {
    if !prerequisites("importing_a_docker_save_archive", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = busybox_image(&dir.path().join("layout"));
    let archive = dir.path().join("saved.tar");
    docker_save_archive(&image, "registry.local:5000/tools/busybox:1.35", &archive);
    let service = service(dir.path());

    let records = service.import(&archive).await.unwrap();

    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.names, vec!["registry.local:5000/tools/busybox:1.35"]);
    assert_eq!(record.config_digest, image.config_digest);
    // Docker archives hold uncompressed layers: the blob is the diff.
    assert_eq!(record.layers[0].digest, image.layers[0].diff_id);
    let layers = service.rootfs_layers(record).await.unwrap();
    assert_eq!(
        fs::read_link(layers[0].join("bin/ls")).unwrap().to_str(),
        Some("busybox")
    );
    assert_eq!(service.image_config(record).unwrap().cmd, vec!["sh"]);
}

/// Unmounts on drop, so a failing assertion does not leave the mount behind.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.0, UnmountFlags::DETACH) {
            eprintln!("failed to unmount {}: {e}", self.0.display());
        }
    }
}

#[tokio::test]
async fn overlayfs_over_the_layers_hides_whited_out_files_and_opaque_directories() {
    if !prerequisites("overlayfs_over_the_layers", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = busybox_image(&dir.path().join("base"));
    let image = whiteout_image(&dir.path().join("layout"), &base);
    let service = service(dir.path());
    let record = service
        .import(&archive_of(dir.path(), &image))
        .await
        .unwrap()
        .remove(0);

    let layers = service.rootfs_layers(&record).await.unwrap();
    assert_eq!(layers.len(), 3);
    let top = &layers[0];
    let whiteout = fs::symlink_metadata(top.join("etc/group")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    let opaque = rustix::fs::lgetxattr(top.join("opt"), "trusted.overlay.opaque", &mut [0u8; 4]);
    assert_eq!(opaque.unwrap(), 1);

    let target = dir.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    let lowerdir = layers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let options = CString::new(format!("lowerdir={lowerdir}")).unwrap();
    rustix::mount::mount(
        "overlay",
        &target,
        "overlay",
        MountFlags::RDONLY,
        Some(options.as_c_str()),
    )
    .expect("mount overlayfs");
    let mounted = Mounted(target.clone());

    assert!(target.join("etc/passwd").is_file(), "lower file visible");
    assert!(
        !target.join("etc/group").exists(),
        "whiteout hides the lower file"
    );
    assert_eq!(
        fs::read_to_string(target.join("etc/hello")).unwrap(),
        "hello\n"
    );
    assert!(target.join("opt/new").exists());
    assert!(
        !target.join("opt/old").exists(),
        "opaque directory hides lower content"
    );
    assert!(target.join("bin/sh").exists());
    drop(mounted);
    assert!(!target.join("etc").exists(), "unmounted");
}

#[tokio::test]
async fn unpacking_keeps_hard_links_symlinks_modes_and_owners() {
    if !prerequisites("unpacking_keeps_metadata", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::from_entries(&[
        Entry::Dir("app".into(), 0o750),
        Entry::OwnedFile(
            "app/tool".into(),
            b"#!/bin/sh\n".to_vec(),
            0o4755,
            1000,
            1001,
        ),
        Entry::HardLink("app/tool-link".into(), "app/tool".into()),
        Entry::Symlink("app/current".into(), "/app/tool".into()),
        Entry::File("app/data".into(), b"data".to_vec(), 0o600),
    ]);
    let image = TestImage::build(&dir.path().join("layout"), "meta:1", vec![layer]);
    let service = service(dir.path());
    let record = service
        .import(&archive_of(dir.path(), &image))
        .await
        .unwrap()
        .remove(0);
    let root = service.rootfs_layers(&record).await.unwrap().remove(0);

    let tool = fs::metadata(root.join("app/tool")).unwrap();
    assert_eq!((tool.uid(), tool.gid()), (1000, 1001));
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    let link = fs::metadata(root.join("app/tool-link")).unwrap();
    assert_eq!(link.ino(), tool.ino());
    assert_eq!(tool.nlink(), 2);
    assert_eq!(
        fs::read_link(root.join("app/current")).unwrap(),
        Path::new("/app/tool")
    );
    assert_eq!(
        fs::metadata(root.join("app")).unwrap().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        fs::metadata(root.join("app/data")).unwrap().mode() & 0o7777,
        0o600
    );
}

/// Imports an image made of one hostile layer and returns the error.
async fn import_hostile(dir: &Path, entries: &[Entry]) -> ImageError {
    let image = TestImage::build(
        &dir.join("layout"),
        "hostile:1",
        vec![Layer::from_entries(entries)],
    );
    let service = service(dir);
    let err = service.import(&archive_of(dir, &image)).await.unwrap_err();
    assert!(service.list().is_empty(), "a failed import records nothing");
    assert_eq!(
        count(&dir.join("images/layers")),
        0,
        "no layer counted as unpacked"
    );
    assert_eq!(
        count(&dir.join("images/tmp")),
        0,
        "no half layer left behind"
    );
    err
}

#[tokio::test]
async fn layer_entries_climbing_out_with_dot_dot_are_refused() {
    if !prerequisites("layer_entries_climbing_out", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = import_hostile(
        dir.path(),
        &[Entry::RawPath("../../../escaped".into(), b"x".to_vec())],
    )
    .await;
    assert!(matches!(err, ImageError::UnsafeLayerPath { .. }), "{err:?}");
    assert!(!dir.path().join("escaped").exists());
}

#[tokio::test]
async fn a_symlinked_directory_cannot_redirect_writes_outside_the_layer() {
    if !prerequisites("a_symlinked_directory", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let err = import_hostile(
        dir.path(),
        &[
            Entry::Symlink("evil".into(), outside.display().to_string()),
            Entry::File("evil/pwned".into(), b"x".to_vec(), 0o644),
        ],
    )
    .await;
    assert!(matches!(err, ImageError::UnsafeLayerPath { .. }), "{err:?}");
    assert_eq!(count(&outside), 0);

    let dir = tempfile::tempdir().unwrap();
    let err = import_hostile(
        dir.path(),
        &[
            Entry::Symlink("etc".into(), "/etc".into()),
            Entry::HardLink("shadow".into(), "etc/shadow".into()),
        ],
    )
    .await;
    assert!(matches!(err, ImageError::UnsafeLayerPath { .. }), "{err:?}");
}

#[tokio::test]
async fn a_layer_that_does_not_match_its_diff_id_is_not_unpacked() {
    if !prerequisites("a_layer_that_does_not_match", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::from_entries(&[Entry::File("a".into(), b"a".to_vec(), 0o644)]);
    let wrong = support::digest(b"something else");
    let config = support::config_json(std::slice::from_ref(&wrong));
    let image =
        TestImage::build_with_config(&dir.path().join("layout"), "liar:1", vec![layer], config);
    let service = service(dir.path());

    let err = service
        .import(&archive_of(dir.path(), &image))
        .await
        .unwrap_err();

    assert!(
        matches!(err, ImageError::DiffIdMismatch { ref expected, .. } if *expected == wrong),
        "{err:?}"
    );
    assert_eq!(count(&dir.path().join("images/layers")), 0);
    assert!(service.list().is_empty());
}

#[tokio::test]
async fn gc_removes_images_not_kept_and_only_their_own_blobs_and_layers() {
    if !prerequisites("gc_removes_images_not_kept", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = busybox_image(&dir.path().join("base"));
    let layered = whiteout_image(&dir.path().join("layered"), &base);
    let service = service(dir.path());
    service
        .import(&archive_of(dir.path(), &base))
        .await
        .unwrap();
    let top = service
        .import(&archive_of(dir.path(), &layered))
        .await
        .unwrap()
        .remove(0);
    let images = dir.path().join("images");
    assert_eq!(count(&images.join("layers")), 3);

    let report = service.gc(&[reference("busybox")]).await.unwrap();

    assert_eq!(report.images_removed, 1);
    assert_eq!(report.layers_removed, 2, "the shared base layer stays");
    assert_eq!(
        report.blobs_removed, 4,
        "two layers, config and manifest of the other image"
    );
    assert!(service.get(&reference("busybox-whiteout")).is_none());
    assert!(!service.store().contains(&top.manifest_digest));
    let kept = service.get(&reference("busybox")).unwrap();
    for blob in kept.blobs() {
        assert!(service.store().contains(blob));
    }
    assert_eq!(count(&images.join("layers")), 1);

    let report = service.gc(&[]).await.unwrap();
    assert_eq!(report.images_removed, 1);
    assert_eq!(count(&images.join("blobs/sha256")), 0);
    assert_eq!(count(&images.join("layers")), 0);
}

#[tokio::test]
async fn the_index_survives_reopening_and_removal_by_tag_leaves_blobs_for_gc() {
    if !prerequisites("the_index_survives_reopening", TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = busybox_image(&dir.path().join("layout"));
    let imported = {
        let service = service(dir.path());
        service
            .import(&archive_of(dir.path(), &image))
            .await
            .unwrap()
            .remove(0)
    };

    let service = service(dir.path());
    assert_eq!(
        service.get(&reference("busybox:latest")),
        Some(imported.clone())
    );
    assert_eq!(service.list(), vec![imported.clone()]);

    assert!(service.remove(&reference("busybox")).unwrap());
    assert!(!service.remove(&reference("busybox")).unwrap());
    assert!(service.list().is_empty());
    assert!(
        service.store().contains(&imported.config_digest),
        "blobs wait for gc"
    );
    let report = service.collect_garbage().await.unwrap();
    assert_eq!(report.blobs_removed, 3);
    assert_eq!(report.layers_removed, 1);
}

#[test]
fn the_busybox_layer_is_reproducible() {
    if !prerequisites("the_busybox_layer_is_reproducible", TOOLS) {
        return;
    }
    let entries = busybox_entries();
    assert_eq!(
        Layer::from_entries(&entries).digest,
        Layer::from_entries(&entries).digest
    );
}
