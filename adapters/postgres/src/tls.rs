//! TLS for the postgres source: rustls (ring provider), no system TLS library, with the
//! modes of libpq's `sslmode`.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;

/// How the connection is secured, as libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, else plain; the certificate is not verified.
    Prefer,
    /// TLS or fail; the certificate is not verified (unless a CA file is given).
    Require,
    /// TLS, certificate chain verified against the CA file (or Mozilla's roots); any host name.
    VerifyCa,
    /// TLS, certificate chain and host name verified.
    VerifyFull,
}

impl TlsMode {
    /// Parses a mode name (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`;
    /// libpq's `allow` is read as `prefer`).
    pub fn parse(s: &str) -> Option<TlsMode> {
        Some(match s.to_ascii_lowercase().as_str() {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" | "verify_ca" => TlsMode::VerifyCa,
            "verify-full" | "verify_full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    /// The mode tokio-postgres negotiates with (verification is the connector's job).
    pub fn ssl_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }
}

/// Builds the rustls connector for `mode`. With a CA file, `prefer`/`require` verify the
/// chain (libpq's behaviour when `sslrootcert` is set).
pub fn connector(mode: TlsMode, ca_file: Option<&str>, source: &str) -> Result<tokio_postgres_rustls::MakeRustlsConnect, AdapterError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let bad = |msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, Position { source: source.to_string(), field: Some("caFile".into()), ..Default::default() });
    let roots = match ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("cannot read CA file '{path}': {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("CA file '{path}' is not valid PEM: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format!("CA file '{path}' holds no certificate")));
            }
            Some(roots)
        }
        None => None,
    };
    let mode = match (mode, &roots) {
        (TlsMode::Prefer | TlsMode::Require, Some(_)) => TlsMode::VerifyCa,
        (m, _) => m,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS set-up failed: {e}")))?;
    let config = match mode {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
            .with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let roots = roots.unwrap_or_else(|| RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(format!("TLS set-up failed: {e}")))?;
            if mode == TlsMode::VerifyCa {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyHostName(webpki))).with_no_client_auth()
            } else {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            }
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `require`/`prefer` without a CA: encrypts, but accepts any certificate (libpq does the
/// same). Handshake signatures are still checked.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(&self, end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>], name: &ServerName<'_>, ocsp: &[u8], now: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Splits `sslmode` and `sslrootcert` out of a connection URL or a `key=value` string
/// (tokio-postgres knows neither `verify-ca`/`verify-full` nor `sslrootcert`), returning the
/// rest for tokio-postgres.
pub fn split_tls_params(location: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |k: &str, v: &str| match k {
        "sslmode" => {
            mode = Some(v.to_string());
            true
        }
        "sslrootcert" => {
            root = Some(v.to_string());
            true
        }
        _ => false,
    };
    if location.contains("://") {
        let Some(q) = location.find('?') else { return (location.to_string(), None, None) };
        let kept: Vec<&str> = location[q + 1..]
            .split('&')
            .filter(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                !take(k, v) && !kv.is_empty()
            })
            .collect();
        let base = &location[..q];
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        (rest, mode, root)
    } else {
        let kept: Vec<&str> = location
            .split_whitespace()
            .filter(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                !take(k.trim(), v.trim_matches('\''))
            })
            .collect();
        (kept.join(" "), mode, root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_params_are_split_from_urls_and_keyword_strings() {
        let (rest, m, r) = split_tls_params("postgres://u:p@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem");
        assert_eq!(rest, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(m.as_deref(), Some("verify-full"));
        assert_eq!(r.as_deref(), Some("/ca.pem"));
        let (rest, m, _) = split_tls_params("postgres://h/db?sslmode=require");
        assert_eq!((rest.as_str(), m.as_deref()), ("postgres://h/db", Some("require")));
        let (rest, m, _) = split_tls_params("host=h user=u sslmode=disable dbname=x");
        assert_eq!((rest.as_str(), m.as_deref()), ("host=h user=u dbname=x", Some("disable")));
        assert_eq!(TlsMode::parse("VERIFY-CA"), Some(TlsMode::VerifyCa));
        assert_eq!(TlsMode::parse("nope"), None);
    }
}
