//! Pulling images from a real local registry (Debian's docker-registry on 127.0.0.1).

mod support;

use std::fs;

use serde_json::json;
use skiff_runtime::image::{
    ImageError, ImageReference, ImageService, PullPolicy, RegistryCredentials, RegistryOptions,
};
use support::registry::{Flavor, Registry};
use support::{DOCKER_MANIFEST_LIST, TestImage, busybox_image, prerequisites, whiteout_image};

const TOOLS: &[&str] = &["docker-registry", "busybox"];

struct Fixture {
    dir: tempfile::TempDir,
    registry: Registry,
    image: TestImage,
    service: ImageService,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(&dir.path().join("registry"));
    let image = busybox_image(&dir.path().join("layout"));
    let service =
        ImageService::open(dir.path().join("images"), RegistryOptions::default()).unwrap();
    Fixture {
        dir,
        registry,
        image,
        service,
    }
}

fn reference(text: &str) -> ImageReference {
    ImageReference::parse(text).unwrap()
}

#[tokio::test]
async fn pulling_an_oci_image_stores_verifies_and_unpacks_it() {
    if !prerequisites("pulling_an_oci_image", TOOLS) {
        return;
    }
    let f = fixture();
    let pushed = f
        .registry
        .push_image(&f.image, "busybox", "1.35", Flavor::Oci)
        .await;
    let name = reference(&f.registry.reference("busybox:1.35"));

    let record = f.service.pull(&name, None).await.unwrap();

    assert_eq!(record.manifest_digest, pushed);
    assert_eq!(record.config_digest, f.image.config_digest);
    assert_eq!(record.layers[0].digest, f.image.layers[0].digest);
    assert_eq!(record.layers[0].diff_id, f.image.layers[0].diff_id);
    assert!(record.names.contains(&name.to_string()));
    assert!(
        record
            .names
            .contains(&name.with_digest(&pushed).to_string())
    );
    for blob in record.blobs() {
        assert!(f.service.store().contains(blob), "{blob} not stored");
    }

    let layers = f.service.rootfs_layers(&record).await.unwrap();
    assert_eq!(layers.len(), 1);
    let root = &layers[0];
    assert!(root.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(root.join("bin/sh")).unwrap().to_str(),
        Some("busybox")
    );
    assert!(root.join("etc/passwd").is_file());

    let config = f.service.image_config(&record).unwrap();
    assert_eq!(config.cmd, vec!["sh"]);
    assert_eq!(config.env, vec!["PATH=/bin"]);
    assert_eq!(config.exposed_ports, vec!["8080/tcp"]);
    assert_eq!(f.service.get(&name.with_digest(&pushed)), Some(record));
}

#[tokio::test]
async fn pulling_a_docker_schema2_image_works() {
    if !prerequisites("pulling_a_docker_schema2_image", TOOLS) {
        return;
    }
    let f = fixture();
    let pushed = f
        .registry
        .push_image(&f.image, "team/busybox", "v2", Flavor::Docker)
        .await;

    let name = reference(&f.registry.reference("team/busybox:v2"));
    let record = f.service.pull(&name, None).await.unwrap();

    assert_eq!(record.manifest_digest, pushed);
    assert_ne!(
        pushed, f.image.manifest_digest,
        "the docker manifest is a different document"
    );
    assert!(record.layers[0].media_type.contains("docker"));
    let layers = f.service.rootfs_layers(&record).await.unwrap();
    assert!(layers[0].join("bin/busybox").is_file());
}

#[tokio::test]
async fn pulling_a_manifest_list_selects_the_linux_amd64_image() {
    if !prerequisites("pulling_a_manifest_list", TOOLS) {
        return;
    }
    let f = fixture();
    let amd64 = f
        .registry
        .push_image(&f.image, "multi", "amd64", Flavor::Docker)
        .await;
    let other = whiteout_image(&f.dir.path().join("other"), &f.image);
    let arm64 = f
        .registry
        .push_image(&other, "multi", "arm64", Flavor::Docker)
        .await;
    let entry = |digest: &str, size: usize, arch: &str| {
        json!({
            "mediaType": support::DOCKER_MANIFEST,
            "digest": digest,
            "size": size,
            "platform": { "architecture": arch, "os": "linux" },
        })
    };
    let list = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_LIST,
        "manifests": [
            entry(&arm64, other.docker_manifest().len(), "arm64"),
            entry(&amd64, f.image.docker_manifest().len(), "amd64"),
        ],
    })
    .to_string();
    let list_digest = f
        .registry
        .push_manifest("multi", "latest", DOCKER_MANIFEST_LIST, list.as_bytes())
        .await;

    let name = reference(&f.registry.reference("multi"));
    let record = f.service.pull(&name, None).await.unwrap();

    assert_eq!(record.manifest_digest, amd64);
    assert_eq!(record.index_digest.as_deref(), Some(list_digest.as_str()));
    assert_eq!(record.layers.len(), 1);
    assert!(f.service.get(&name.with_digest(&list_digest)).is_some());
}

#[tokio::test]
async fn a_corrupt_blob_is_a_digest_mismatch_and_nothing_is_stored_or_unpacked() {
    if !prerequisites("a_corrupt_blob", TOOLS) {
        return;
    }
    let f = fixture();
    f.registry
        .push_image(&f.image, "busybox", "latest", Flavor::Oci)
        .await;
    let layer = f.image.layers[0].digest.clone();
    f.registry.corrupt_blob(&layer);

    let name = reference(&f.registry.reference("busybox"));
    let err = f.service.pull(&name, None).await.unwrap_err();

    match &err {
        ImageError::DigestMismatch { expected, actual } => {
            assert_eq!(*expected, layer);
            assert_ne!(*actual, layer);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(!f.service.store().contains(&layer));
    let images = f.dir.path().join("images");
    assert_eq!(fs::read_dir(images.join("layers")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(images.join("tmp")).unwrap().count(), 0);
    assert!(f.service.list().is_empty());
    assert!(f.service.get(&name).is_none());
}

#[tokio::test]
async fn pull_policies_decide_when_the_registry_is_asked() {
    if !prerequisites("pull_policies", TOOLS) {
        return;
    }
    let f = fixture();
    f.registry
        .push_image(&f.image, "busybox", "1.35", Flavor::Oci)
        .await;
    let name = reference(&f.registry.reference("busybox:1.35"));

    let err = f
        .service
        .ensure_image(&name, PullPolicy::Never, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NeverPull { .. }));
    assert!(err.to_string().contains(&name.to_string()), "{err}");

    let pulled = f
        .service
        .ensure_image(&name, PullPolicy::IfNotPresent, None)
        .await
        .unwrap();

    // With the registry gone, only the policies that do not pull still succeed.
    let Fixture {
        registry, service, ..
    } = f;
    drop(registry);
    for policy in [PullPolicy::IfNotPresent, PullPolicy::Never] {
        let present = service.ensure_image(&name, policy, None).await.unwrap();
        assert_eq!(present, pulled);
    }
    let err = service
        .ensure_image(&name, PullPolicy::Always, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    assert_eq!(
        PullPolicy::default_for(&reference("busybox")),
        PullPolicy::Always
    );
    assert_eq!(PullPolicy::default_for(&name), PullPolicy::IfNotPresent);
}

#[tokio::test]
async fn pulling_an_unknown_tag_is_a_registry_error_naming_the_image() {
    if !prerequisites("pulling_an_unknown_tag", TOOLS) {
        return;
    }
    let f = fixture();
    let name = reference(&f.registry.reference("nothing:here"));
    let err = f.service.pull(&name, None).await.unwrap_err();
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing:here"), "{err}");
}

#[tokio::test]
async fn pulling_from_a_registry_with_basic_auth_needs_the_credentials() {
    if !prerequisites(
        "pulling_with_basic_auth",
        &["docker-registry", "busybox", "python3"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry =
        Registry::start_with_basic_auth(&dir.path().join("registry"), "puller", "s3cret");
    let image = busybox_image(&dir.path().join("layout"));
    registry
        .push_image(&image, "private/busybox", "1", Flavor::Oci)
        .await;
    let service =
        ImageService::open(dir.path().join("images"), RegistryOptions::default()).unwrap();
    let name = reference(&registry.reference("private/busybox:1"));

    let err = service.pull(&name, None).await.unwrap_err();
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    let wrong = RegistryCredentials {
        username: "puller".into(),
        password: "wrong".into(),
    };
    assert!(service.pull(&name, Some(&wrong)).await.is_err());

    let credentials = RegistryCredentials {
        username: "puller".into(),
        password: "s3cret".into(),
    };
    let record = service.pull(&name, Some(&credentials)).await.unwrap();
    assert_eq!(record.manifest_digest, image.manifest_digest);
    assert!(!format!("{credentials:?}").contains("s3cret"));
}
