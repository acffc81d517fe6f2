//! TLS client settings of the targets that speak TLS (`event_server` over HTTPS, `syslog` over
//! `tls://`): the roots of a `ca_file`, or `trust_all_certificates` for tests.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting the PEM certificates of `path` (option `ca_file`).
pub(crate) fn ca_file_config(path: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("ca_file: {shown}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        let cert = cert.map_err(|e| anyhow::anyhow!("ca_file: {shown}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("ca_file: {shown}: {e}"))?;
    }
    if roots.is_empty() {
        anyhow::bail!("ca_file: {shown}: no PEM certificate in it");
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A client config accepting any server certificate (option `trust_all_certificates`).
pub(crate) fn trust_all_config() -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("tls: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAll(provider)))
            .with_no_client_auth(),
    )
}

/// `trust_all_certificates`: any server certificate is accepted (handshake signatures are
/// still checked). For tests only.
#[derive(Debug)]
struct TrustAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for TrustAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_configs() {
        assert!(trust_all_config().is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = ca_file_config(&path).unwrap_err().to_string();
        assert!(
            e.starts_with("ca_file: ") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = ca_file_config(&dir.path().join("nope.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ca_file: ") && e.contains("nope.pem"), "{e}");
    }
}
