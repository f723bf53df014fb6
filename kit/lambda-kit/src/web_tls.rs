//! HTTPS to the public web (feature `web-tls`): Mozilla's root program, compiled in
//! (`webpki-roots`, already in parsed form: nothing is read or parsed at init), and the
//! deployer's CAs of the process's [`TrustStore`].

use std::sync::Arc;

use crate::tls::TrustStore;

/// A rustls client configuration trusting Mozilla's roots and `trust`'s added CAs, with the
/// same crypto provider as the AWS SDK (aws-lc-rs).
pub fn client_config(trust: &TrustStore) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // Each was checked to be usable as an anchor when the store was read.
    roots.add_parsable_certificates(trust.extra().iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}
