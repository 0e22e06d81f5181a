//! HTTPS in the process (rustls, no OpenSSL), optional: without a certificate the server
//! speaks plain HTTP for a TLS-terminating proxy. With the bank's client CA configured it
//! asks browsers for a client certificate (電子証明書).

use std::any::Any;
use std::sync::Arc;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::pki::{self, ClientPki};

/// The certificate chain a client presented on this connection, as the handshake left
/// it: its key is proven, the rest is judged by [`ClientPki::verify`].
#[derive(Clone, Debug)]
pub struct PresentedChain(pub Vec<CertificateDer<'static>>);

/// Server configuration from the PEM files of `WEBFB_TLS_CERT` and `WEBFB_TLS_KEY`.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_pki: Option<&ClientPki>,
) -> anyhow::Result<ServerConfig> {
    let chain = pki::certificates("WEBFB_TLS_CERT", cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("WEBFB_TLS_KEY: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_pki {
        None => builder.with_no_client_auth(),
        Some(pki) => builder.with_client_cert_verifier(Arc::new(KeyHolder::new(pki, &provider)?)),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Asks for a client certificate (optional: password-only contracts and operations need
/// none) and checks only that the client holds its private key. Whether the bank issued
/// it, when it expires, whether it is revoked and whose it is are judged at sign-in with
/// the service's clock, so each refusal is answered and audited like a wrong password.
#[derive(Debug)]
struct KeyHolder {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl KeyHolder {
    fn new(pki: &ClientPki, provider: &CryptoProvider) -> anyhow::Result<KeyHolder> {
        let mut roots = RootCertStore::empty();
        for ca in &pki.ca_certificates {
            roots.add(ca.clone())?;
        }
        Ok(KeyHolder {
            hints: roots.subjects(),
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ClientCertVerifier for KeyHolder {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Keeps the chain a client presented with its connection, for the requests on it.
pub fn keep_presented_chain(connection: &dyn Any, data: &mut Extensions) {
    if let Some(tls) = connection.downcast_ref::<TlsStream<TcpStream>>() {
        let (_, session) = tls.get_ref();
        if let Some(chain) = session.peer_certificates() {
            let chain = chain.iter().map(|c| c.clone().into_owned()).collect();
            data.insert(PresentedChain(chain));
        }
    }
}
