//! A throwaway PKI made in the test: the bank's issuing CA, the server's certificate, and
//! people's certificates — valid, expired, revoked (in the CRL) and another CA's.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, PEM, as a browser holds them.
#[derive(Clone, Debug)]
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
}

pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(30);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A person's certificate for client authentication.
    fn person(&self, name: &str, serial: u64, valid_until: OffsetDateTime) -> ClientCert {
        self.issue(
            name,
            serial,
            valid_until,
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
    }

    fn issue(
        &self,
        name: &str,
        serial: u64,
        valid_until: OffsetDateTime,
        usages: Vec<ExtendedKeyUsagePurpose>,
    ) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "山田商事株式会社");
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = usages;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(2);
        params.not_after = valid_until;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// The test's PKI; its files are written for the server to read.
pub struct TestPki {
    pub ca: Ca,
    pub server: ClientCert,
    pub alice: ClientCert,
    pub bob: ClientCert,
    pub carol: ClientCert,
    pub expired: ClientCert,
    pub revoked: ClientCert,
    /// Issued by another CA, with the same names.
    pub foreign: ClientCert,
    /// The bank's CA's, but not said to be for client authentication.
    pub no_client_auth: ClientCert,
    pub crl_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca = Ca::new("webfb test bank CA");
        let year = OffsetDateTime::now_utc() + Duration::days(365);
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "webfb test server");
        params.subject_alt_names = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into().unwrap()),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = params.signed_by(&server_key, &ca.cert, &ca.key).unwrap();
        let revoked = ca.person("失効 太郎", 66, year);
        let crl = CertificateRevocationListParams {
            this_update: OffsetDateTime::now_utc() - Duration::hours(1),
            next_update: OffsetDateTime::now_utc() + Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(66u64),
                revocation_time: OffsetDateTime::now_utc() - Duration::hours(2),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca.cert, &ca.key)
        .unwrap();
        let other = Ca::new("webfb test bank CA");
        TestPki {
            server: ClientCert {
                cert_pem: server.pem(),
                key_pem: server_key.serialize_pem(),
            },
            alice: ca.person("山田 太郎", 11, year),
            bob: ca.person("山田 花子", 12, year),
            carol: ca.person("山田 次郎", 13, year),
            expired: ca.person(
                "期限 切子",
                14,
                OffsetDateTime::now_utc() - Duration::hours(1),
            ),
            foreign: other.person("山田 太郎", 11, year),
            no_client_auth: ca.issue("用途 なし", 15, year, vec![]),
            revoked,
            crl_pem: crl.pem().unwrap(),
            ca,
        }
    }

    /// Writes the server's files into `dir`: (ca, crl, server certificate, server key).
    pub fn write(&self, dir: &Path) -> [std::path::PathBuf; 4] {
        let files = [
            ("client-ca.pem", self.ca.pem()),
            ("client-crl.pem", self.crl_pem.clone()),
            ("server.pem", self.server.cert_pem.clone()),
            ("server.key", self.server.key_pem.clone()),
        ];
        files.map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
    }

    /// An HTTPS client that trusts the test CA and presents `cert`, if any.
    pub fn client(&self, cert: Option<&ClientCert>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.ca.pem().as_bytes()).unwrap(),
            );
        if let Some(c) = cert {
            let pem = format!("{}{}", c.cert_pem, c.key_pem);
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }
}
