//! The cluster's certificate authority, the certificates it issues and the TLS setup built on them.

mod cert;
mod files;
mod issue;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{fs, io};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rcgen::{Issuer, KeyPair, PublicKeyData, SanType};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

pub use cert::identity_from_cert;

use cert::CertInfo;
use files::{create_private_dir, load_pair, store_pair, write_atomic};
use issue::{issue_admin, issue_serving, new_ca, serving_sans};

const PKI_DIR: &str = "pki";
const CA_FILE: &str = "ca";
const SERVING_FILE: &str = "apiserver";
const ADMIN_FILE: &str = "admin";

const CA_VALIDITY_DAYS: i64 = 3650;
const LEAF_VALIDITY_DAYS: i64 = 365;
/// A certificate this close to its end is replaced at startup rather than left to expire
/// while the server runs.
const RENEW_BEFORE_DAYS: i64 = 30;

const SERVING_COMMON_NAME: &str = "skiff-apiserver";
const ADMIN_USER: &str = "skiff-admin";
const ADMIN_GROUP: &str = "system:masters";
const KUBECONFIG_NAME: &str = "skiff";

/// The names every serving certificate carries: loopback plus the in-cluster names of the
/// `kubernetes` Service in the `default` namespace.
const DEFAULT_SANS: [&str; 7] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// Why the cluster's certificates could not be loaded, issued or used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("failed to read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid subject alternative name {name:?}")]
    InvalidSan {
        name: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("failed to issue the {what} certificate")]
    Issue {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("the {what} holds no usable PEM block")]
    Pem { what: &'static str },
    #[error("failed to build the client certificate verifier")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    #[error("failed to build the TLS server configuration")]
    Tls(#[source] rustls::Error),
    #[error("failed to encode the kubeconfig")]
    Kubeconfig(#[source] serde_yaml_ng::Error),
}

/// A certificate and its private key, both PEM-encoded.
#[derive(Clone, PartialEq, Eq)]
struct CertAndKey {
    cert_pem: String,
    key_pem: String,
}

/// The cluster CA with the API server's serving certificate and the admin's client
/// certificate, all kept as PEM files under `<data dir>/pki`.
#[derive(Clone)]
pub struct Pki {
    ca: CertAndKey,
    serving: CertAndKey,
    admin: CertAndKey,
}

/// The identity a verified client certificate carries: user = CN, groups = O values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub user: String,
    pub groups: Vec<String>,
}

/// What a leaf certificate must satisfy to be kept rather than issued again.
struct LeafRequirements<'a> {
    ca_subject: &'a [u8],
    sans: &'a [SanType],
    now: DateTime<Utc>,
}

impl std::fmt::Debug for Pki {
    // Keys stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads `<dir>/pki/*.pem` or, on first start, generates: a cluster CA (ECDSA P-256,
    /// 10 years), a serving certificate signed by it (SANs: localhost, 127.0.0.1, ::1,
    /// `kubernetes`, `kubernetes.default`, `kubernetes.default.svc`,
    /// `kubernetes.default.svc.cluster.local`, plus `extra_sans`, 1 year), and an admin
    /// client certificate (CN "skiff-admin", O "system:masters", client auth).
    ///
    /// A stored certificate that is unreadable, does not match its key, was not issued by
    /// the current CA, lacks a requested SAN or ends within 30 days is issued again.
    /// Files are written atomically, keys with mode 0600.
    pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> Result<Self, PkiError> {
        Self::load_or_create_at(dir, extra_sans, Utc::now())
    }

    fn load_or_create_at(
        dir: &Path,
        extra_sans: &[String],
        now: DateTime<Utc>,
    ) -> Result<Self, PkiError> {
        let pki_dir = dir.join(PKI_DIR);
        create_private_dir(&pki_dir)?;
        let sans = serving_sans(extra_sans)?;

        let ca = load_or_create_ca(&pki_dir, now)?;
        let ca_subject = ca_subject(&ca)?;
        let issuer = ca_issuer(&ca)?;

        let needs = LeafRequirements {
            ca_subject: &ca_subject,
            sans: &sans,
            now,
        };
        let serving = match load_pair(&pki_dir, SERVING_FILE)? {
            Some(pair) if leaf_is_current(&pair, &needs) => pair,
            _ => store_pair(&pki_dir, SERVING_FILE, issue_serving(&issuer, &sans, now)?)?,
        };
        let needs = LeafRequirements { sans: &[], ..needs };
        let admin = match load_pair(&pki_dir, ADMIN_FILE)? {
            Some(pair) if leaf_is_current(&pair, &needs) => pair,
            _ => store_pair(&pki_dir, ADMIN_FILE, issue_admin(&issuer, now)?)?,
        };
        Ok(Self { ca, serving, admin })
    }

    /// The cluster CA certificate, which clients trust to verify the server.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// The API server's serving certificate.
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving.cert_pem
    }

    /// The admin client certificate (user skiff-admin, group system:masters).
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin.cert_pem
    }

    /// The admin client certificate's private key.
    pub fn admin_key_pem(&self) -> &str {
        &self.admin.key_pem
    }

    /// A rustls ServerConfig with the serving cert that requests (but does not require)
    /// client certificates verified against the CA, so unauthenticated clients still reach
    /// /healthz and friends; ALPN offers h2 and http/1.1.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in parse_certs(&self.ca.cert_pem, "CA certificate")? {
            roots.add(cert).map_err(PkiError::Tls)?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(PkiError::ClientVerifier)?;

        let chain = parse_certs(&self.serving.cert_pem, "serving certificate")?;
        let key = parse_key(&self.serving.key_pem, "serving key")?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(PkiError::Tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(PkiError::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Writes a kubeconfig (cluster "skiff" with the CA and `server_url`, user
    /// "skiff-admin" with the admin certificate and key, context "skiff", current-context
    /// skiff) to `path` atomically, mode 0600.
    pub fn write_admin_kubeconfig(&self, path: &Path, server_url: &str) -> Result<(), PkiError> {
        let yaml = self.admin_kubeconfig(server_url)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| PkiError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_atomic(path, yaml.as_bytes(), 0o600)
    }

    fn admin_kubeconfig(&self, server_url: &str) -> Result<String, PkiError> {
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": KUBECONFIG_NAME,
                "cluster": {
                    "certificate-authority-data": BASE64.encode(&self.ca.cert_pem),
                    "server": server_url,
                },
            }],
            "users": [{
                "name": ADMIN_USER,
                "user": {
                    "client-certificate-data": BASE64.encode(&self.admin.cert_pem),
                    "client-key-data": BASE64.encode(&self.admin.key_pem),
                },
            }],
            "contexts": [{
                "name": KUBECONFIG_NAME,
                "context": { "cluster": KUBECONFIG_NAME, "user": ADMIN_USER },
            }],
            "current-context": KUBECONFIG_NAME,
            "preferences": {},
        });
        serde_yaml_ng::to_string(&config).map_err(PkiError::Kubeconfig)
    }
}

fn load_or_create_ca(pki_dir: &Path, now: DateTime<Utc>) -> Result<CertAndKey, PkiError> {
    if let Some(pair) = load_pair(pki_dir, CA_FILE)? {
        if ca_is_current(&pair, now) {
            return Ok(pair);
        }
        tracing::warn!(dir = %pki_dir.display(), "cluster CA unusable or expiring, replacing it");
    }
    let pair = store_pair(pki_dir, CA_FILE, new_ca(now)?)?;
    tracing::info!(dir = %pki_dir.display(), "generated cluster CA");
    Ok(pair)
}

fn ca_is_current(pair: &CertAndKey, now: DateTime<Utc>) -> bool {
    CertInfo::from_pem(&pair.cert_pem).is_some_and(|info| {
        info.subject == info.issuer && !info.ends_soon(now) && key_matches(pair, &info)
    })
}

fn leaf_is_current(pair: &CertAndKey, needs: &LeafRequirements<'_>) -> bool {
    let Some(info) = CertInfo::from_pem(&pair.cert_pem) else {
        return false;
    };
    info.issuer == needs.ca_subject
        && !info.ends_soon(needs.now)
        && key_matches(pair, &info)
        && needs.sans.iter().all(|san| info.has_san(san))
}

fn key_matches(pair: &CertAndKey, info: &CertInfo) -> bool {
    KeyPair::from_pem(&pair.key_pem).is_ok_and(|key| key.subject_public_key_info() == info.spki)
}

fn ca_subject(ca: &CertAndKey) -> Result<Vec<u8>, PkiError> {
    let info = CertInfo::from_pem(&ca.cert_pem).ok_or(PkiError::Pem {
        what: "CA certificate",
    })?;
    Ok(info.subject)
}

fn ca_issuer(ca: &CertAndKey) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let issue_error = |source| PkiError::Issue { what: "CA", source };
    let key = KeyPair::from_pem(&ca.key_pem).map_err(issue_error)?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(issue_error)
}

fn parse_certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PkiError::Pem { what })?;
    if certs.is_empty() {
        return Err(PkiError::Pem { what });
    }
    Ok(certs)
}

fn parse_key(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>, PkiError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .ok()
        .flatten()
        .ok_or(PkiError::Pem { what })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use chrono::TimeDelta;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};

    use super::files::pem_paths;
    use super::*;

    fn create(dir: &Path) -> Pki {
        Pki::load_or_create(dir, &[]).expect("pki is created")
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(PKI_DIR).join(file)).expect("pki file is readable")
    }

    fn info(pem: &str) -> CertInfo {
        CertInfo::from_pem(pem).expect("certificate parses")
    }

    fn first_der(pem: &str) -> CertificateDer<'static> {
        parse_certs(pem, "test certificate")
            .expect("pem parses")
            .remove(0)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .expect("file exists")
            .permissions()
            .mode()
            & 0o777
    }

    fn client_config(ca: &Pki, identity: Option<&Pki>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(first_der(ca.ca_cert_pem()))
            .expect("CA is a valid root");
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("default versions")
                .with_root_certificates(roots);
        let config = match identity {
            Some(pki) => builder
                .with_client_auth_cert(
                    vec![first_der(pki.admin_cert_pem())],
                    parse_key(pki.admin_key_pem(), "admin key").expect("key parses"),
                )
                .expect("client certificate accepted"),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }

    fn send(from: &mut dyn FnMut(&mut Vec<u8>) -> bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        while from(&mut bytes) {}
        bytes
    }

    /// Runs a TLS handshake in memory; the error is the server's when it refuses the client.
    fn handshake(
        server: &Pki,
        client: Arc<ClientConfig>,
        server_name: &'static str,
    ) -> Result<ServerConnection, rustls::Error> {
        let config = server.server_config().expect("server config builds");
        let mut server = ServerConnection::new(config)?;
        let name = ServerName::try_from(server_name).expect("valid server name");
        let mut client = ClientConnection::new(client, name)?;
        for _ in 0..8 {
            let to_server = send(&mut |buf| {
                client.wants_write() && client.write_tls(buf).expect("client writes") > 0
            });
            let mut reader = to_server.as_slice();
            while !reader.is_empty() {
                server.read_tls(&mut reader).expect("server reads");
                server.process_new_packets()?;
            }
            let to_client = send(&mut |buf| {
                server.wants_write() && server.write_tls(buf).expect("server writes") > 0
            });
            let mut reader = to_client.as_slice();
            while !reader.is_empty() {
                client.read_tls(&mut reader).expect("client reads");
                client.process_new_packets()?;
            }
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(server);
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn reloading_keeps_the_ca_and_certificates_created_on_first_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = create(dir.path());
        let second = create(dir.path());

        assert!(first.ca == second.ca);
        assert!(first.serving == second.serving);
        assert!(first.admin == second.admin);
        assert_eq!(read(dir.path(), "ca.pem"), first.ca_cert_pem());
    }

    #[test]
    fn key_files_and_the_pki_directory_are_private_to_the_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        create(dir.path());

        let pki_dir = dir.path().join(PKI_DIR);
        assert_eq!(mode(&pki_dir), 0o700);
        for stem in [CA_FILE, SERVING_FILE, ADMIN_FILE] {
            let (cert, key) = pem_paths(&pki_dir, stem);
            assert_eq!(mode(&key), 0o600, "{}", key.display());
            assert_eq!(mode(&cert), 0o644, "{}", cert.display());
        }
        let leftovers = fs::read_dir(&pki_dir)
            .expect("dir lists")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn serving_certificate_carries_default_and_extra_sans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra = vec!["skiff.example".to_string(), "10.0.0.7".to_string()];
        let pki = Pki::load_or_create(dir.path(), &extra).expect("pki is created");

        let serving = info(pki.serving_cert_pem());
        for name in DEFAULT_SANS
            .iter()
            .copied()
            .chain(["skiff.example", "10.0.0.7"])
        {
            let san = serving_sans(&[name.to_string()]).expect("valid san").pop();
            assert!(serving.has_san(&san.expect("one san")), "missing {name}");
        }
        assert_eq!(serving.issuer, info(pki.ca_cert_pem()).subject);
    }

    #[test]
    fn a_new_extra_san_reissues_only_the_serving_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = create(dir.path());
        let after = Pki::load_or_create(dir.path(), &["api.skiff.example".to_string()])
            .expect("pki reloads");

        assert!(before.ca == after.ca);
        assert!(before.admin == after.admin);
        assert!(before.serving != after.serving);
        assert_eq!(read(dir.path(), "apiserver.pem"), after.serving_cert_pem());
    }

    #[test]
    fn leaf_certificates_close_to_expiry_are_renewed_under_the_same_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = Utc::now();
        let before = Pki::load_or_create_at(dir.path(), &[], now).expect("pki is created");
        let later = now + TimeDelta::days(LEAF_VALIDITY_DAYS - 10);
        let after = Pki::load_or_create_at(dir.path(), &[], later).expect("pki reloads");

        assert!(before.ca == after.ca);
        assert!(before.serving != after.serving);
        assert!(before.admin != after.admin);
        assert!(!info(after.serving_cert_pem()).ends_soon(later));
    }

    #[test]
    fn a_replaced_ca_reissues_every_leaf_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = create(dir.path());
        fs::remove_file(dir.path().join(PKI_DIR).join("ca-key.pem")).expect("key removed");
        let after = create(dir.path());

        assert!(before.ca != after.ca);
        let ca_subject = info(after.ca_cert_pem()).subject;
        assert_eq!(info(after.serving_cert_pem()).issuer, ca_subject);
        assert_eq!(info(after.admin_cert_pem()).issuer, ca_subject);
    }

    #[test]
    fn a_corrupt_certificate_or_mismatched_key_is_reissued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = create(dir.path());
        let pki_dir = dir.path().join(PKI_DIR);
        fs::write(pki_dir.join("apiserver.pem"), "not a certificate").expect("write");
        fs::write(pki_dir.join("admin-key.pem"), &before.serving.key_pem).expect("write");
        let after = create(dir.path());

        assert!(info(after.serving_cert_pem()).has_san(&SanType::IpAddress([127, 0, 0, 1].into())));
        assert!(before.admin.cert_pem != after.admin.cert_pem);
        after
            .server_config()
            .expect("reissued serving pair is consistent");
    }

    #[test]
    fn an_extra_san_that_is_not_ascii_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Pki::load_or_create(dir.path(), &["bücher.example".to_string()])
            .expect_err("non-ascii dns name");
        assert!(matches!(err, PkiError::InvalidSan { .. }), "{err}");
    }

    #[test]
    fn identity_from_admin_certificate_is_skiff_admin_in_system_masters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());

        let identity = identity_from_cert(&first_der(pki.admin_cert_pem())).expect("identity");
        assert_eq!(
            identity,
            ClientIdentity {
                user: "skiff-admin".into(),
                groups: vec!["system:masters".into()]
            }
        );
    }

    #[test]
    fn identity_from_truncated_or_garbage_der_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());
        let der = first_der(pki.admin_cert_pem());

        assert_eq!(identity_from_cert(b"garbage"), None);
        assert_eq!(identity_from_cert(&[]), None);
        for len in 0..der.len() {
            assert_eq!(
                identity_from_cert(&der[..len]),
                None,
                "prefix of {len} bytes"
            );
        }
    }

    #[test]
    fn server_config_offers_h2_then_http1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = create(dir.path())
            .server_config()
            .expect("server config builds");
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn admin_client_handshake_exposes_its_verified_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());

        let server = handshake(&pki, client_config(&pki, Some(&pki)), "127.0.0.1")
            .expect("handshake succeeds");
        let peer = server
            .peer_certificates()
            .expect("client presented a certificate");
        let identity = identity_from_cert(&peer[0]).expect("identity");
        assert_eq!(identity.user, ADMIN_USER);
    }

    #[test]
    fn anonymous_client_handshake_is_accepted_without_a_peer_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());

        let server = handshake(&pki, client_config(&pki, None), "kubernetes.default.svc")
            .expect("handshake succeeds");
        assert!(server.peer_certificates().is_none());
    }

    #[test]
    fn client_certificate_from_another_ca_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other_dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());
        let stranger = create(other_dir.path());

        let result = handshake(&pki, client_config(&pki, Some(&stranger)), "localhost");
        assert!(result.is_err());
    }

    #[test]
    fn admin_kubeconfig_names_cluster_user_and_context_skiff() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = create(dir.path());
        let path = dir.path().join("nested").join("admin.kubeconfig");
        pki.write_admin_kubeconfig(&path, "https://127.0.0.1:6443")
            .expect("kubeconfig written");

        assert_eq!(mode(&path), 0o600);
        let text = fs::read_to_string(&path).expect("kubeconfig readable");
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid yaml");
        let decode = |v: &serde_yaml_ng::Value| {
            String::from_utf8(BASE64.decode(v.as_str().expect("string")).expect("base64"))
                .expect("utf-8")
        };
        assert_eq!(doc["kind"].as_str(), Some("Config"));
        assert_eq!(doc["current-context"].as_str(), Some("skiff"));
        let cluster = &doc["clusters"][0];
        assert_eq!(cluster["name"].as_str(), Some("skiff"));
        assert_eq!(
            cluster["cluster"]["server"].as_str(),
            Some("https://127.0.0.1:6443")
        );
        assert_eq!(
            decode(&cluster["cluster"]["certificate-authority-data"]),
            pki.ca_cert_pem()
        );
        let user = &doc["users"][0];
        assert_eq!(user["name"].as_str(), Some("skiff-admin"));
        assert_eq!(
            decode(&user["user"]["client-certificate-data"]),
            pki.admin_cert_pem()
        );
        assert_eq!(
            decode(&user["user"]["client-key-data"]),
            pki.admin_key_pem()
        );
        let context = &doc["contexts"][0];
        assert_eq!(context["name"].as_str(), Some("skiff"));
        assert_eq!(context["context"]["cluster"].as_str(), Some("skiff"));
        assert_eq!(context["context"]["user"].as_str(), Some("skiff-admin"));
    }
}
