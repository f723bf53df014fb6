//! The compiled-in trust store: it holds the Amazon Trust Services roots, and a private CA added
//! the documented way (`AWS_CA_BUNDLE`, a PEM file) is trusted by the SDK's HTTPS client and the
//! web client, while the same server is refused without it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use lambda_kit::tls::{AMAZON_TRUST_SERVICES_PEM, TlsError, TrustStore};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// A private CA and a certificate it issued for `localhost`, as a deployment behind a
/// TLS-inspecting proxy would have.
struct TestPki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "lambda-kit test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("a server key");
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server parameters")
        .signed_by(&server_key, &issuer)
        .expect("a server certificate");
    TestPki {
        ca_pem: ca.pem(),
        server_chain: vec![server.der().clone()],
        server_key: PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).expect("the key"),
    }
}

/// A loopback HTTPS server answering every request like DynamoDB's ListTables; `None` for a
/// connection whose handshake failed.
async fn https_server(pki: &TestPki) -> (SocketAddr, tokio::task::JoinHandle<Option<String>>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.ok()?;
        let mut stream = acceptor.accept(socket).await.ok()?;
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.ok()?;
            if read == 0 {
                return None;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let body = br#"{"TableNames":["through-the-private-ca"]}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        stream.shutdown().await.ok()?;
        Some(String::from_utf8_lossy(&request).into_owned())
    });
    (address, server)
}

fn ca_bundle(pki: &TestPki) -> tempfile_path::TempPem {
    tempfile_path::TempPem::new(&pki.ca_pem)
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
    let pki = test_pki();
    let bundle = ca_bundle(&pki);
    let trust = TrustStore::with_ca_bundle(bundle.path()).expect("the bundle is usable");
    assert_eq!(trust.extra().len(), 1);
    let (address, server) = https_server(&pki).await;

    let tables = list_tables(&trust, address)
        .await
        .expect("the handshake and the call succeed");

    assert_eq!(tables, ["through-the-private-ca"]);
    let request = server.await.unwrap().expect("the server got the request");
    assert!(request.contains("DynamoDB_20120810.ListTables"), "{request}");
}

#[tokio::test]
async fn the_sdk_refuses_the_same_server_without_the_ca() {
    let pki = test_pki();
    let (address, server) = https_server(&pki).await;

    let refused = list_tables(&TrustStore::compiled_in(), address).await.unwrap_err();

    assert!(refused.contains("UnknownIssuer"), "{refused}");
    assert_eq!(server.await.unwrap(), None, "no request got through");
}

#[cfg(feature = "web-tls")]
async fn web_handshake(trust: &TrustStore, address: SocketAddr) -> Result<(), std::io::Error> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(trust.web_client_config()));
    let socket = tokio::net::TcpStream::connect(address).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, socket).await?;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n").await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
    Ok(())
}

#[cfg(feature = "web-tls")]
#[tokio::test]
async fn the_web_client_trusts_the_added_ca_and_refuses_without_it() {
    let pki = test_pki();
    let bundle = ca_bundle(&pki);
    let trust = TrustStore::with_ca_bundle(bundle.path()).unwrap();

    let (address, server) = https_server(&pki).await;
    web_handshake(&trust, address).await.expect("trusted");
    assert!(server.await.unwrap().is_some());

    let (address, server) = https_server(&pki).await;
    let refused = web_handshake(&TrustStore::compiled_in(), address).await.unwrap_err();
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    assert_eq!(server.await.unwrap(), None);
}

#[test]
fn a_bundle_that_cannot_be_used_is_an_error_that_names_it() {
    let missing = std::path::Path::new("/nonexistent/ca.pem");
    assert!(matches!(
        TrustStore::with_ca_bundle(missing),
        Err(TlsError::Unreadable { .. })
    ));

    let no_certificate = tempfile_path::TempPem::new("not a PEM file\n");
    let error = TrustStore::with_ca_bundle(no_certificate.path()).unwrap_err();
    assert!(matches!(error, TlsError::NoAnchor { .. }), "{error:?}");
    assert!(error.to_string().contains("AWS_CA_BUNDLE"), "{error}");
}

/// A PEM file in the temporary folder, removed when dropped.
mod tempfile_path {
    use super::*;

    pub struct TempPem(std::path::PathBuf);

    impl TempPem {
        pub fn new(text: &str) -> Self {
            static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = std::env::temp_dir().join(format!("lambda-kit-tls-{}-{n}.pem", std::process::id()));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            Self(path)
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for TempPem {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
