//! The compiled-in trust store: it holds the Amazon Trust Services roots, and a private CA added
//! the documented way (`AWS_CA_BUNDLE`, a PEM file) is trusted by the SDK's HTTPS client, while
//! the same server is refused without it.

use std::net::SocketAddr;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use lambda_kit::tls::{AMAZON_TRUST_SERVICES_PEM, TlsError, TrustStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use test_support::tls::{TempFile, TestPki};

/// SHA-256 fingerprints as Amazon publishes them (https://www.amazontrust.com/repository/).
const AMAZON_ROOTS: [(&str, &str); 5] = [
    (
        "Amazon Root CA 1",
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    ),
    (
        "Amazon Root CA 2",
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
    ),
    (
        "Amazon Root CA 3",
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
    ),
    (
        "Amazon Root CA 4",
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
    ),
    (
        "Starfield Services Root Certificate Authority - G2",
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    ),
];

/// What DynamoDB's ListTables answers, from the test server.
const LIST_TABLES: &str = r#"{"TableNames":["through-the-private-ca"]}"#;

fn fingerprint(certificate: &[u8]) -> String {
    hex::encode(Sha256::digest(certificate))
}

#[test]
fn the_sdk_trusts_exactly_the_amazon_trust_services_roots() {
    let compiled_in: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_PEM.as_bytes())
        .map(|certificate| fingerprint(&certificate.expect("PEM")))
        .collect();
    let published: Vec<String> = AMAZON_ROOTS.iter().map(|(_, sha256)| sha256.to_string()).collect();
    assert_eq!(compiled_in, published);
}

#[test]
fn mozillas_root_program_holds_every_amazon_root() {
    let mozilla: Vec<String> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|certificate| fingerprint(certificate))
        .collect();
    for (name, sha256) in AMAZON_ROOTS {
        assert!(
            mozilla.iter().any(|found| found == sha256),
            "{name} is not in Mozilla's store"
        );
    }
}

async fn list_tables(trust: &TrustStore, address: SocketAddr) -> Result<Vec<String>, String> {
    let sdk = lambda_kit::aws::load_with(trust).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("https://localhost:{}", address.port()))
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        // One attempt: the server takes one connection, and the refusal is what is looked at.
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .map(|output| output.table_names.unwrap_or_default())
        .map_err(|error| format!("{}", lambda_kit::telemetry::ErrorChain(&error)))
}

#[tokio::test]
async fn the_sdk_reaches_a_server_of_a_ca_added_through_aws_ca_bundle() {
    let pki = TestPki::new();
    let bundle = pki.ca_bundle();
    let trust = TrustStore::with_ca_bundle(bundle.path()).expect("the bundle is usable");
    assert_eq!(trust.extra().len(), 1);
    let (address, server) = pki.https_once(200, LIST_TABLES).await;

    let tables = list_tables(&trust, address)
        .await
        .expect("the handshake and the call succeed");

    assert_eq!(tables, ["through-the-private-ca"]);
    let request = server.await.unwrap().expect("the server got the request");
    assert!(request.contains("DynamoDB_20120810.ListTables"), "{request}");
}

#[tokio::test]
async fn the_sdk_refuses_the_same_server_without_the_ca() {
    let pki = TestPki::new();
    let (address, server) = pki.https_once(200, LIST_TABLES).await;

    let refused = list_tables(&TrustStore::compiled_in(), address).await.unwrap_err();

    assert!(refused.contains("UnknownIssuer"), "{refused}");
    assert_eq!(server.await.unwrap(), None, "no request got through");
}

#[test]
fn a_bundle_that_cannot_be_used_is_an_error_that_names_it() {
    let missing = std::path::Path::new("/nonexistent/ca.pem");
    assert!(matches!(
        TrustStore::with_ca_bundle(missing),
        Err(TlsError::Unreadable { .. })
    ));

    let no_certificate = TempFile::with("not a PEM file\n");
    let error = TrustStore::with_ca_bundle(no_certificate.path()).unwrap_err();
    assert!(matches!(error, TlsError::NoAnchor { .. }), "{error:?}");
    assert!(error.to_string().contains("AWS_CA_BUNDLE"), "{error}");
}
