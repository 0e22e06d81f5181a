//! Client certificates (電子証明書): the bank's issuing CA and revocation lists, a
//! presented certificate judged against them at the service's clock, and what identifies
//! a certificate. The TLS layer only proves that the client holds the certificate's key
//! (see `tls`); everything else is judged here, so a refusal is an answer the caller can
//! audit and word like a wrong password, not a broken handshake.

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, OwnedCertRevocationList,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

/// id-kp-clientAuth (1.3.6.1.5.5.7.3.2), DER contents: a person's certificate must say it
/// is for client authentication, not merely not say otherwise.
const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// The bank's issuing CA(s) and their revocation lists.
#[derive(Debug)]
pub struct ClientPki {
    anchors: Vec<TrustAnchor<'static>>,
    /// The CA certificates as DER: their subjects are offered to clients as hints.
    pub ca_certificates: Vec<CertificateDer<'static>>,
    crls: Vec<CertRevocationList<'static>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{0}: nothing found in the PEM")]
    Empty(&'static str),
    #[error("{what}: {reason}")]
    Unreadable { what: &'static str, reason: String },
}

fn unreadable(what: &'static str, reason: impl std::fmt::Display) -> PkiError {
    PkiError::Unreadable {
        what,
        reason: reason.to_string(),
    }
}

impl ClientPki {
    /// The CA certificates (PEM, one or more) and, optionally, CRLs (PEM or DER).
    pub fn load(ca_pem: &[u8], crl: Option<&[u8]>) -> Result<ClientPki, PkiError> {
        let ca_certificates = certificates("WEBFB_CLIENT_CA", ca_pem)?;
        let anchors = ca_certificates
            .iter()
            .map(|der| {
                webpki::anchor_from_trusted_cert(der)
                    .map(|a| a.to_owned())
                    .map_err(|e| unreadable("WEBFB_CLIENT_CA", format!("{e:?}")))
            })
            .collect::<Result<_, _>>()?;
        let crls = match crl {
            None => vec![],
            Some(bytes) => revocation_lists(bytes)?,
        };
        Ok(ClientPki {
            anchors,
            ca_certificates,
            crls,
        })
    }

    /// Whether `chain` (the client's certificate first, then any intermediates) was issued
    /// by the bank's CA for client authentication, is valid at `now`, and is not revoked.
    /// The error says why not, for the audit log.
    pub fn verify(&self, chain: &[CertificateDer<'_>], now: DateTime<Utc>) -> Result<(), String> {
        let (leaf, intermediates) = chain.split_first().ok_or("no certificate")?;
        let cert = EndEntityCert::try_from(leaf).map_err(|e| format!("unreadable: {e:?}"))?;
        let crls: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        // With lists configured, every certificate of the chain must be covered by one that
        // has not passed its next update: an unknown status or a stale list is a refusal.
        // Without, the bank's own record (revoked at the hotline) is the revocation.
        let revocation = match crls.is_empty() {
            true => None,
            false => Some(
                RevocationOptionsBuilder::new(&crls)
                    .map_err(|_| "no revocation list".to_owned())?
                    .with_status_policy(UnknownStatusPolicy::Deny)
                    .with_expiration_policy(ExpirationPolicy::Enforce)
                    .build(),
            ),
        };
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now.timestamp()).unwrap_or_default(),
        ));
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            intermediates,
            time,
            KeyUsage::required(CLIENT_AUTH),
            revocation,
            None,
        )
        .map(drop)
        .map_err(|e| format!("{e:?}"))
    }
}

/// Every certificate of a PEM text, in order.
pub fn certificates(
    what: &'static str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(what, e))?;
    if certs.is_empty() {
        return Err(PkiError::Empty(what));
    }
    Ok(certs)
}

fn revocation_lists(bytes: &[u8]) -> Result<Vec<CertRevocationList<'static>>, PkiError> {
    let what = "WEBFB_CLIENT_CRL";
    let ders: Vec<CertificateRevocationListDer<'static>> = if bytes.starts_with(b"-----") {
        CertificateRevocationListDer::pem_slice_iter(bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| unreadable(what, e))?
    } else {
        vec![CertificateRevocationListDer::from(bytes.to_vec())]
    };
    if ders.is_empty() {
        return Err(PkiError::Empty(what));
    }
    ders.iter()
        .map(|der| {
            OwnedCertRevocationList::from_der(der)
                .map(CertRevocationList::from)
                .map_err(|e| unreadable(what, format!("{e:?}")))
        })
        .collect()
}

/// What identifies a certificate, as the bank records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFacts {
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// Lower-case hex.
    pub serial: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The SHA-256 fingerprint of a DER certificate, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    crate::domain::transfer::hex(&Sha256::digest(der))
}

/// Reads what identifies a DER certificate.
pub fn facts(der: &CertificateDer<'_>) -> Result<CertificateFacts, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).ok_or("a validity date out of range")
    };
    Ok(CertificateFacts {
        fingerprint: fingerprint(der.as_ref()),
        serial: crate::domain::transfer::hex(cert.tbs_certificate.raw_serial()),
        subject: cert.subject().to_string(),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
    })
}
