//! The trust store of every HTTPS connection a function makes, compiled in: no scan of the
//! platform's certificate folder at init, and no dependence on a CA bundle in the image.
//!
//! - The AWS SDK clients trust the Amazon Trust Services roots only (every AWS service endpoint
//!   chains to one of them; five certificates, parsed in microseconds), see [`TrustStore::sdk`].
//! - Connections to the public web (the webhook dispatcher) trust Mozilla's root program, from
//!   the `webpki-roots` crate, already in parsed form (feature `web-tls`: `web_tls`).
//! - Both add the certificates of the PEM file named by `AWS_CA_BUNDLE`, the variable the AWS CLI
//!   and the other AWS SDKs read for the same purpose: how a deployment trusts a private CA (a
//!   TLS-inspecting proxy, a private endpoint). Ship the file in the package or a layer and point
//!   the variable at it (`/opt/...`); a file that cannot be read, or holds no certificate usable
//!   as a trust anchor, fails the init with the reason.
//!
//! The store is read once per process ([`TrustStore::process`]) and shared by every client.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_smithy_http_client::tls::{TlsContext, TrustStore as SdkTrustStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The environment variable naming a PEM file of CAs to trust in addition to the compiled-in ones.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

/// The Amazon Trust Services roots, as published (see the file's header).
pub const AMAZON_TRUST_SERVICES_PEM: &str = include_str!("tls/amazon-trust-services.pem");

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{CA_BUNDLE_VARIABLE} names {path}, which cannot be read")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{CA_BUNDLE_VARIABLE} names {path}, which holds no certificate usable as a trust anchor")]
    NoAnchor { path: PathBuf },
}

/// The process's trust store: the compiled-in roots and the deployer's own CAs.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    /// The deployer's CAs (`AWS_CA_BUNDLE`), each checked to be usable as a trust anchor.
    extra: Vec<CertificateDer<'static>>,
}

impl TrustStore {
    /// The compiled-in roots only.
    pub fn compiled_in() -> Self {
        Self::default()
    }

    /// The compiled-in roots and the certificates of the PEM file at `path`.
    ///
    /// A certificate that cannot serve as a trust anchor is left out with a warning (system
    /// bundles hold a few such); a file with none that can is an error.
    pub fn with_ca_bundle(path: &Path) -> Result<Self, TlsError> {
        let unreadable = |source| TlsError::Unreadable {
            path: path.to_owned(),
            source,
        };
        let found = CertificateDer::pem_file_iter(path)
            .map_err(unreadable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?;
        // The SDK panics on a certificate it cannot take as an anchor: keep only those it can.
        let mut check = rustls::RootCertStore::empty();
        let mut extra = Vec::with_capacity(found.len());
        for certificate in found {
            if check.add(certificate.clone()).is_ok() {
                extra.push(certificate);
            } else {
                tracing::warn!(path = %path.display(), "a certificate of the CA bundle is not usable as a trust anchor; left out");
            }
        }
        if extra.is_empty() {
            return Err(TlsError::NoAnchor { path: path.to_owned() });
        }
        Ok(Self { extra })
    }

    /// What the environment asks for: [`CA_BUNDLE_VARIABLE`] set and not empty adds that file.
    pub fn from_env() -> Result<Self, TlsError> {
        match std::env::var_os(CA_BUNDLE_VARIABLE) {
            Some(path) if !path.is_empty() => Self::with_ca_bundle(Path::new(&path)),
            _ => Ok(Self::compiled_in()),
        }
    }

    /// The store of this process, read from the environment the first time it is asked for.
    pub fn process() -> Result<&'static Self, &'static TlsError> {
        static STORE: OnceLock<Result<TrustStore, TlsError>> = OnceLock::new();
        STORE.get_or_init(Self::from_env).as_ref()
    }

    /// The deployer's certificates (none unless `AWS_CA_BUNDLE` names a file).
    pub fn extra(&self) -> &[CertificateDer<'static>] {
        &self.extra
    }

    /// The TLS settings of the AWS SDK's HTTPS client: the Amazon Trust Services roots and the
    /// deployer's CAs, never the platform's store.
    pub fn sdk(&self) -> TlsContext {
        let mut store = SdkTrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_TRUST_SERVICES_PEM.as_bytes());
        for certificate in &self.extra {
            store.add_pem_certificate(pem(certificate));
        }
        TlsContext::builder()
            .with_trust_store(store)
            .build()
            .expect("a trust store without native roots always builds")
    }
}

/// A certificate as PEM text: the only form the SDK's trust store takes.
fn pem(certificate: &CertificateDer<'_>) -> Vec<u8> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
    let mut text = String::with_capacity(encoded.len() + encoded.len() / 64 + 64);
    text.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_survives_the_trip_through_pem() {
        let amazon: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the compiled-in roots are PEM");
        for certificate in &amazon {
            let back = CertificateDer::from_pem_slice(&pem(certificate)).expect("PEM again");
            assert_eq!(back.as_ref(), certificate.as_ref());
        }
    }

    #[test]
    fn without_the_variable_only_the_compiled_in_roots_are_trusted() {
        assert!(TrustStore::compiled_in().extra().is_empty());
    }
}
