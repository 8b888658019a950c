//! Issuing the cluster CA and the leaf certificates it signs.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};

use super::{
    ADMIN_GROUP, ADMIN_USER, CA_VALIDITY_DAYS, CertAndKey, DEFAULT_SANS, LEAF_VALIDITY_DAYS,
    PkiError, SERVING_COMMON_NAME,
};

pub(super) fn serving_sans(extra: &[String]) -> Result<Vec<SanType>, PkiError> {
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

pub(super) fn new_ca(now: DateTime<Utc>) -> Result<CertAndKey, PkiError> {
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

pub(super) fn issue_serving(
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

pub(super) fn issue_admin(
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
