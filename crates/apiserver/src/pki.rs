//! The cluster's certificate authority, the certificates it issues and the TLS setup built on them.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

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

/// Reads the user (last CN, as Go's x509 package keeps it) and groups (every O, in order)
/// from a DER certificate; `None` if it does not parse or has no CN.
pub fn identity_from_cert(der: &[u8]) -> Option<ClientIdentity> {
    let info = der::parse_certificate(der)?;
    let mut user = None;
    let mut groups = Vec::new();
    for (oid, value) in der::name_attributes(&info.subject)? {
        match oid.as_slice() {
            der::OID_COMMON_NAME => user = Some(value),
            der::OID_ORGANIZATION => groups.push(value),
            _ => {}
        }
    }
    let user = user.filter(|u| !u.is_empty())?;
    Some(ClientIdentity { user, groups })
}

fn serving_sans(extra: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut sans: Vec<SanType> = Vec::new();
    let names = DEFAULT_SANS
        .iter()
        .copied()
        .chain(extra.iter().map(|s| s.trim()));
    for name in names.filter(|n| !n.is_empty()) {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.to_ascii_lowercase().try_into().map_err(|source| {
                PkiError::InvalidSan {
                    name: name.to_string(),
                    source,
                }
            })?),
        };
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    Ok(sans)
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
    cert_pem_info(&pair.cert_pem).is_some_and(|info| {
        info.subject == info.issuer && !info.ends_soon(now) && key_matches(pair, &info)
    })
}

fn leaf_is_current(pair: &CertAndKey, needs: &LeafRequirements<'_>) -> bool {
    let Some(info) = cert_pem_info(&pair.cert_pem) else {
        return false;
    };
    info.issuer == needs.ca_subject
        && !info.ends_soon(needs.now)
        && key_matches(pair, &info)
        && needs.sans.iter().all(|san| info.has_san(san))
}

fn key_matches(pair: &CertAndKey, info: &der::CertInfo) -> bool {
    KeyPair::from_pem(&pair.key_pem).is_ok_and(|key| key.subject_public_key_info() == info.spki)
}

fn cert_pem_info(pem: &str) -> Option<der::CertInfo> {
    let der = parse_certs(pem, "certificate").ok()?.into_iter().next()?;
    der::parse_certificate(der.as_ref())
}

fn ca_subject(ca: &CertAndKey) -> Result<Vec<u8>, PkiError> {
    let info = cert_pem_info(&ca.cert_pem).ok_or(PkiError::Pem {
        what: "CA certificate",
    })?;
    Ok(info.subject)
}

fn ca_issuer(ca: &CertAndKey) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let issue_error = |source| PkiError::Issue { what: "CA", source };
    let key = KeyPair::from_pem(&ca.key_pem).map_err(issue_error)?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(issue_error)
}

fn new_ca(now: DateTime<Utc>) -> Result<CertAndKey, PkiError> {
    let issue_error = |source| PkiError::Issue { what: "CA", source };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(issue_error)?;
    let mut params = CertificateParams::default();
    // A per-CA name keeps certificates of an earlier CA from looking as if this one issued them.
    params.distinguished_name = distinguished_name(&format!("skiff-ca@{}", now.timestamp()), &[]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now, CA_VALIDITY_DAYS);
    let cert = params.self_signed(&key).map_err(issue_error)?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn issue_serving(
    issuer: &Issuer<'static, KeyPair>,
    sans: &[SanType],
    now: DateTime<Utc>,
) -> Result<CertAndKey, PkiError> {
    let mut params = leaf_params(SERVING_COMMON_NAME, &[], now);
    params.subject_alt_names = sans.to_vec();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let pair = issue_leaf(issuer, &params, "serving")?;
    tracing::info!(sans = sans.len(), "issued API server serving certificate");
    Ok(pair)
}

fn issue_admin(
    issuer: &Issuer<'static, KeyPair>,
    now: DateTime<Utc>,
) -> Result<CertAndKey, PkiError> {
    let mut params = leaf_params(ADMIN_USER, &[ADMIN_GROUP], now);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let pair = issue_leaf(issuer, &params, "admin client")?;
    tracing::info!(user = ADMIN_USER, "issued admin client certificate");
    Ok(pair)
}

fn leaf_params(common_name: &str, organizations: &[&str], now: DateTime<Utc>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name, organizations);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, LEAF_VALIDITY_DAYS);
    params
}

fn issue_leaf(
    issuer: &Issuer<'static, KeyPair>,
    params: &CertificateParams,
    what: &'static str,
) -> Result<CertAndKey, PkiError> {
    let issue_error = |source| PkiError::Issue { what, source };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(issue_error)?;
    let cert = params.signed_by(&key, issuer).map_err(issue_error)?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn distinguished_name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    // rcgen keeps one value per attribute type, so only the first organization fits.
    if let Some(org) = organizations.first() {
        name.push(DnType::OrganizationName, *org);
    }
    name.push(DnType::CommonName, common_name);
    name
}

/// Starts validity at the previous midnight (UTC) so that a client whose clock runs a
/// little behind still accepts a certificate issued a moment ago.
fn set_validity(params: &mut CertificateParams, now: DateTime<Utc>, days: i64) {
    // Calendar fields from chrono are always in range, so the narrowing casts are exact.
    let midnight = |t: DateTime<Utc>| {
        let d = t.date_naive();
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = midnight(now - TimeDelta::days(1));
    params.not_after = midnight(now + TimeDelta::days(days));
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

fn pem_paths(pki_dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        pki_dir.join(format!("{stem}.pem")),
        pki_dir.join(format!("{stem}-key.pem")),
    )
}

/// Reads a certificate and its key; `None` when either file is absent, which is what a
/// first start (or a crash between the two writes) leaves behind.
fn load_pair(pki_dir: &Path, stem: &str) -> Result<Option<CertAndKey>, PkiError> {
    let (cert_path, key_path) = pem_paths(pki_dir, stem);
    let Some(cert_pem) = read_optional(&cert_path)? else {
        return Ok(None);
    };
    let Some(key_pem) = read_optional(&key_path)? else {
        return Ok(None);
    };
    Ok(Some(CertAndKey { cert_pem, key_pem }))
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn store_pair(pki_dir: &Path, stem: &str, pair: CertAndKey) -> Result<CertAndKey, PkiError> {
    let (cert_path, key_path) = pem_paths(pki_dir, stem);
    write_atomic(&key_path, pair.key_pem.as_bytes(), 0o600)?;
    write_atomic(&cert_path, pair.cert_pem.as_bytes(), 0o644)?;
    Ok(pair)
}

fn create_private_dir(path: &Path) -> Result<(), PkiError> {
    match DirBuilder::new().recursive(true).mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(source) => Err(PkiError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `contents` to a temporary file beside `path` and renames it into place, so a
/// reader (or a restart after a crash) sees either the old file or the whole new one.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let write_error = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));

    let result = write_then_rename(&tmp, path, contents, mode);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

fn write_then_rename(tmp: &Path, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(tmp)?;
    // The mode given to open applies only to a file it creates, not to a stale leftover.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(tmp, path)
}

/// Just enough DER to read X.509 names, validity, key and subject alternative names.
mod der {
    use std::net::IpAddr;

    use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
    use rcgen::SanType;

    use super::RENEW_BEFORE_DAYS;

    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const OID: u8 = 0x06;
    const UTF8_STRING: u8 = 0x0c;
    const PRINTABLE_STRING: u8 = 0x13;
    const TELETEX_STRING: u8 = 0x14;
    const IA5_STRING: u8 = 0x16;
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    const BMP_STRING: u8 = 0x1e;
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const VERSION: u8 = 0xa0;
    const EXTENSIONS: u8 = 0xa3;
    const SAN_DNS_NAME: u8 = 0x82;
    const SAN_IP_ADDRESS: u8 = 0x87;

    pub(super) const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    pub(super) const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
    const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

    /// One tag-length-value element: `value` is its content, `raw` the whole encoding.
    #[derive(Clone, Copy)]
    struct Tlv<'a> {
        tag: u8,
        value: &'a [u8],
        raw: &'a [u8],
    }

    struct Reader<'a> {
        rest: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn new(input: &'a [u8]) -> Self {
            Self { rest: input }
        }

        fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
            self.next().filter(|tlv| tlv.tag == tag)
        }
    }

    impl<'a> Iterator for Reader<'a> {
        type Item = Tlv<'a>;

        fn next(&mut self) -> Option<Tlv<'a>> {
            let (&tag, after_tag) = self.rest.split_first()?;
            // Multi-byte tags never occur in the certificate fields read here.
            if tag & 0x1f == 0x1f {
                return None;
            }
            let (len, after_len) = read_length(after_tag)?;
            let (value, rest) = after_len.split_at_checked(len)?;
            let raw = self.rest.get(..self.rest.len() - rest.len())?;
            self.rest = rest;
            Some(Tlv { tag, value, raw })
        }
    }

    fn read_length(input: &[u8]) -> Option<(usize, &[u8])> {
        let (&first, rest) = input.split_first()?;
        if first < 0x80 {
            return Some((usize::from(first), rest));
        }
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        Some((len, rest))
    }

    /// The parts of a certificate the PKI checks; names and key as their DER encodings.
    pub(super) struct CertInfo {
        pub(super) issuer: Vec<u8>,
        pub(super) subject: Vec<u8>,
        pub(super) spki: Vec<u8>,
        not_after: DateTime<Utc>,
        sans: Vec<SanType>,
    }

    impl CertInfo {
        pub(super) fn ends_soon(&self, now: DateTime<Utc>) -> bool {
            self.not_after - now < TimeDelta::days(RENEW_BEFORE_DAYS)
        }

        pub(super) fn has_san(&self, san: &SanType) -> bool {
            self.sans.contains(san)
        }
    }

    pub(super) fn parse_certificate(der: &[u8]) -> Option<CertInfo> {
        let cert = Reader::new(der).expect(SEQUENCE)?;
        let tbs = Reader::new(cert.value).expect(SEQUENCE)?;
        let mut fields = Reader::new(tbs.value);

        let mut serial = fields.next()?;
        if serial.tag == VERSION {
            serial = fields.next()?;
        }
        if serial.tag != INTEGER {
            return None;
        }
        fields.expect(SEQUENCE)?;
        let issuer = fields.expect(SEQUENCE)?;
        let validity = fields.expect(SEQUENCE)?;
        let subject = fields.expect(SEQUENCE)?;
        let spki = fields.expect(SEQUENCE)?;
        let extensions = fields.find(|f| f.tag == EXTENSIONS);

        Some(CertInfo {
            issuer: issuer.raw.to_vec(),
            subject: subject.raw.to_vec(),
            spki: spki.raw.to_vec(),
            not_after: not_after(validity.value)?,
            sans: extensions
                .map(|e| subject_alt_names(e.value))
                .unwrap_or_default(),
        })
    }

    fn not_after(validity: &[u8]) -> Option<DateTime<Utc>> {
        let mut times = Reader::new(validity);
        times.next()?;
        let end = times.next()?;
        let text = std::str::from_utf8(end.value).ok()?;
        let full = match end.tag {
            // RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
            UTC_TIME => {
                let century = if text.get(..2)? >= "50" { "19" } else { "20" };
                format!("{century}{text}")
            }
            GENERALIZED_TIME => text.to_string(),
            _ => return None,
        };
        let naive = NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%SZ").ok()?;
        Some(naive.and_utc())
    }

    fn subject_alt_names(extensions: &[u8]) -> Vec<SanType> {
        let Some(list) = Reader::new(extensions).expect(SEQUENCE) else {
            return Vec::new();
        };
        let san_value = Reader::new(list.value).find_map(|ext| {
            let mut parts = Reader::new(ext.value);
            if parts.expect(OID)?.value != OID_SUBJECT_ALT_NAME {
                return None;
            }
            parts.find(|p| p.tag == OCTET_STRING).map(|p| p.value)
        });
        let Some(names) = san_value.and_then(|v| Reader::new(v).expect(SEQUENCE)) else {
            return Vec::new();
        };
        Reader::new(names.value).filter_map(general_name).collect()
    }

    fn general_name(name: Tlv<'_>) -> Option<SanType> {
        match name.tag {
            SAN_DNS_NAME => {
                let text = std::str::from_utf8(name.value).ok()?;
                text.to_ascii_lowercase()
                    .try_into()
                    .ok()
                    .map(SanType::DnsName)
            }
            SAN_IP_ADDRESS => {
                let ip = match name.value.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(name.value).ok()?),
                    16 => IpAddr::from(<[u8; 16]>::try_from(name.value).ok()?),
                    _ => return None,
                };
                Some(SanType::IpAddress(ip))
            }
            _ => None,
        }
    }

    /// The (attribute OID, text value) pairs of an X.509 Name, in order.
    pub(super) fn name_attributes(name: &[u8]) -> Option<Vec<(Vec<u8>, String)>> {
        let sequence = Reader::new(name).expect(SEQUENCE)?;
        let mut attributes = Vec::new();
        for rdn in Reader::new(sequence.value) {
            if rdn.tag != SET {
                return None;
            }
            for attribute in Reader::new(rdn.value) {
                let mut parts = Reader::new(attribute.value);
                let oid = parts.expect(OID)?;
                attributes.push((oid.value.to_vec(), decode_string(parts.next()?)?));
            }
        }
        Some(attributes)
    }

    fn decode_string(value: Tlv<'_>) -> Option<String> {
        match value.tag {
            UTF8_STRING | PRINTABLE_STRING | IA5_STRING | TELETEX_STRING => {
                String::from_utf8(value.value.to_vec()).ok()
            }
            BMP_STRING => {
                let units = value
                    .value
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]));
                char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .ok()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};

    use super::*;

    fn create(dir: &Path) -> Pki {
        Pki::load_or_create(dir, &[]).expect("pki is created")
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(PKI_DIR).join(file)).expect("pki file is readable")
    }

    fn info(pem: &str) -> der::CertInfo {
        cert_pem_info(pem).expect("certificate parses")
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
