//! A real registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on a
//! free loopback port, storing under the test's directory, no auth. Dropping it kills exactly
//! the child it started.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;

use super::image::{DOCKER_MANIFEST, OCI_MANIFEST, TestImage, digest};

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Which manifest flavour to push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OCI image manifest.
    Oci,
    /// Docker schema 2 manifest.
    Docker,
}

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
    log: PathBuf,
    auth: RegistryAuth,
}

impl Registry {
    /// Starts a registry storing under `dir`, without auth, and waits until `/v2/` answers.
    pub fn start(dir: &Path) -> Registry {
        Self::start_with(dir, None)
    }

    /// Starts a registry that wants HTTP basic auth (htpasswd) for `user` and `password`.
    /// Needs `python3` (its `crypt` module makes the bcrypt hash, at the lowest cost: the
    /// registry checks it on every request).
    pub fn start_with_basic_auth(dir: &Path, user: &str, password: &str) -> Registry {
        fs::create_dir_all(dir).unwrap();
        let hash = Command::new("python3")
            .args(["-W", "ignore", "-c"])
            .arg("import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))")
            .arg(password)
            .output()
            .expect("run python3 to hash the password");
        assert!(hash.status.success(), "python3 crypt failed");
        // Go's bcrypt reads the Apache spelling; the algorithm is the same.
        let hash = String::from_utf8(hash.stdout)
            .unwrap()
            .trim()
            .replacen("$2b$", "$2y$", 1);
        let htpasswd = dir.join("htpasswd");
        fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
            htpasswd.display()
        );
        let mut registry = Self::start_with(dir, Some(auth));
        registry.auth = RegistryAuth::Basic(user.to_owned(), password.to_owned());
        registry
    }

    fn start_with(dir: &Path, auth: Option<String>) -> Registry {
        let port = free_port();
        let storage = dir.join("storage");
        fs::create_dir_all(&storage).unwrap();
        let config = dir.join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: warn\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n{}",
                storage.display(),
                auth.unwrap_or_default()
            ),
        )
        .unwrap();
        let log = dir.join("registry.log");
        let log_file = fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry {
            child,
            port,
            storage,
            log,
            auth: RegistryAuth::Anonymous,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "docker-registry exited with {status}: {}",
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if self.v2_answers() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer /v2/ in time: {}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn v2_answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port);
        let mut response = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut response).is_ok()
            && response.starts_with("HTTP/1.")
            // 401: up, and wanting credentials.
            && (response[9..].starts_with("200") || response[9..].starts_with("401"))
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>/<name>`, e.g. for `name` = `busybox:latest`.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// A client for pushing, logged in when the registry wants auth.
    async fn client(&self) -> oci_client::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = oci_client::Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..ClientConfig::default()
        });
        client.store_auth_if_needed(&self.host(), &self.auth).await;
        client
    }

    fn oci_ref(&self, repo: &str, tag: &str) -> oci_client::Reference {
        oci_client::Reference::with_tag(self.host(), repo.to_owned(), tag.to_owned())
    }

    /// Uploads one blob into `repo`.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) {
        self.client()
            .await
            .push_blob(
                &self.oci_ref(repo, "latest"),
                bytes.to_vec(),
                &digest(bytes),
            )
            .await
            .expect("push blob");
    }

    /// Uploads a manifest (or index) under `repo:tag`; returns its digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let content_type = http::HeaderValue::from_str(media_type).unwrap();
        self.client()
            .await
            .push_manifest_raw(&self.oci_ref(repo, tag), body.to_vec(), content_type)
            .await
            .expect("push manifest");
        digest(body)
    }

    /// Pushes an image's blobs and its manifest in the given flavour; returns the manifest
    /// digest.
    pub async fn push_image(
        &self,
        image: &TestImage,
        repo: &str,
        tag: &str,
        flavor: Flavor,
    ) -> String {
        for layer in &image.layers {
            self.push_blob(repo, &layer.blob).await;
        }
        self.push_blob(repo, &image.config).await;
        let (media_type, manifest) = match flavor {
            Flavor::Oci => (OCI_MANIFEST, image.manifest.clone()),
            Flavor::Docker => (DOCKER_MANIFEST, image.docker_manifest()),
        };
        self.push_manifest(repo, tag, media_type, &manifest).await
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = &digest["sha256:".len()..];
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Flips bytes in the middle of a stored blob, keeping its size: the registry checks
    /// digests on upload, not on download, so this is how a corrupt blob gets served.
    pub fn corrupt_blob(&self, digest: &str) {
        let path = self.blob_data_path(digest);
        let mut bytes = fs::read(&path).expect("read blob in registry storage");
        let middle = bytes.len() / 2;
        let end = (middle + 16).min(bytes.len());
        for byte in &mut bytes[middle..end] {
            *byte = !*byte;
        }
        fs::write(&path, bytes).unwrap();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
