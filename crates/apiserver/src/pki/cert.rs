//! Reading back the parts of a certificate that decide whether it is kept and whom it names.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use rcgen::SanType;
use x509_parser::asn1_rs::{BmpString, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::AttributeTypeAndValue;

use super::{ClientIdentity, RENEW_BEFORE_DAYS, parse_certs};

/// The parts of a certificate the PKI checks; names and key as their DER encodings, so that
/// comparing two of them compares the exact bytes a verifier compares.
pub(super) struct CertInfo {
    pub(super) issuer: Vec<u8>,
    pub(super) subject: Vec<u8>,
    pub(super) spki: Vec<u8>,
    not_after: DateTime<Utc>,
    sans: Vec<SanType>,
}

impl CertInfo {
    /// The first certificate of a PEM text; `None` when there is none or it does not parse.
    pub(super) fn from_pem(pem: &str) -> Option<Self> {
        let der = parse_certs(pem, "certificate").ok()?.into_iter().next()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        Some(Self {
            issuer: cert.issuer().as_raw().to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            spki: cert.public_key().raw.to_vec(),
            not_after: DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)?,
            sans: subject_alt_names(&cert),
        })
    }

    pub(super) fn ends_soon(&self, now: DateTime<Utc>) -> bool {
        self.not_after - now < TimeDelta::days(RENEW_BEFORE_DAYS)
    }

    pub(super) fn has_san(&self, san: &SanType) -> bool {
        self.sans.contains(san)
    }
}

/// Reads the user (last CN, as Go's x509 package keeps it) and groups (every O, in order)
/// from a DER certificate; `None` if it does not parse, has no CN, or holds a CN or O value
/// that is not text.
pub fn identity_from_cert(der: &[u8]) -> Option<ClientIdentity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let mut names = subject
        .iter_common_name()
        .map(attribute_text)
        .collect::<Option<Vec<_>>>()?;
    let user = names.pop().filter(|u| !u.is_empty())?;
    let groups = subject
        .iter_organization()
        .map(attribute_text)
        .collect::<Option<Vec<_>>>()?;
    Some(ClientIdentity { user, groups })
}

/// The text of a name attribute, for the same string types Go's x509 package reads.
fn attribute_text(attribute: &AttributeTypeAndValue<'_>) -> Option<String> {
    let value = attribute.attr_value();
    match value.tag() {
        Tag::BmpString => BmpString::try_from(value).ok().map(|s| s.string()),
        // Go reads T.61 as Latin-1, whose code points are the byte values themselves.
        Tag::T61String => Some(value.data.iter().copied().map(char::from).collect()),
        _ => attribute.as_str().ok().map(str::to_string),
    }
}

/// The DNS and IP names of a certificate; a malformed or repeated extension counts as no
/// names, which gets the certificate issued again.
fn subject_alt_names(cert: &X509Certificate<'_>) -> Vec<SanType> {
    let Ok(Some(extension)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    extension
        .value
        .general_names
        .iter()
        .filter_map(general_name)
        .collect()
}

fn general_name(name: &GeneralName<'_>) -> Option<SanType> {
    match name {
        // Requested names are lower-cased before issuing, so stored ones compare that way.
        GeneralName::DNSName(dns) => dns
            .to_ascii_lowercase()
            .try_into()
            .ok()
            .map(SanType::DnsName),
        GeneralName::IPAddress(bytes) => ip_address(bytes).map(SanType::IpAddress),
        _ => None,
    }
}

fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};

    use super::*;

    fn self_signed_der(name: DistinguishedName) -> Vec<u8> {
        let key = KeyPair::generate().expect("key generates");
        let mut params = CertificateParams::default();
        params.distinguished_name = name;
        let cert = params.self_signed(&key).expect("certificate signs");
        cert.der().to_vec()
    }

    #[test]
    fn identity_reads_bmp_and_teletex_names_as_text() {
        let mut name = DistinguishedName::new();
        let user = "zoë".try_into().expect("bmp string");
        name.push(DnType::CommonName, DnValue::BmpString(user));
        let group = "dev-team".try_into().expect("teletex string");
        name.push(DnType::OrganizationName, DnValue::TeletexString(group));

        let identity = identity_from_cert(&self_signed_der(name)).expect("identity");
        assert_eq!(identity.user, "zoë");
        assert_eq!(identity.groups, vec!["dev-team".to_string()]);
    }

    #[test]
    fn identity_without_a_common_name_is_none() {
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "system:masters");

        assert_eq!(identity_from_cert(&self_signed_der(name)), None);
    }
}
