//! A private CA, a server certificate it issued for `localhost`, and HTTPS servers on loopback
//! (feature `tls`): what the trust store's tests connect to, with and without the CA added the
//! documented way (`AWS_CA_BUNDLE`), and an identity provider's JWKS endpoints.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A CA made for one test, and the certificate it issued to `localhost`, as a deployment behind
/// a TLS-inspecting proxy would have.
pub struct TestPki {
    pub ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

impl TestPki {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "serverless-patterns test CA");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("a server key");
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("server parameters")
            .signed_by(&server_key, &issuer)
            .expect("a server certificate");
        Self {
            ca_pem: ca.pem(),
            server_chain: vec![server.der().clone()],
            server_key: PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).expect("the key"),
        }
    }

    /// The CA as a PEM file, for `AWS_CA_BUNDLE`; removed when dropped.
    pub fn ca_bundle(&self) -> TempFile {
        TempFile::with(&self.ca_pem)
    }

    /// A loopback HTTPS server that takes one connection and answers its first request with
    /// `status` and a JSON `body`. The handle yields the request's head, or `None` when the
    /// handshake (or anything after it) failed: the client refused the certificate.
    pub async fn https_once(&self, status: u16, body: &'static str) -> (SocketAddr, JoinHandle<Option<String>>) {
        let acceptor = self.acceptor();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.ok()?;
            let mut stream = acceptor.accept(socket).await.ok()?;
            let request = read_head(&mut stream).await?;
            answer(&mut stream, status, "application/x-amz-json-1.0", body).await?;
            Some(request)
        });
        (address, server)
    }

    /// A loopback HTTPS server answering every request by its path from `routes` (status and
    /// JSON body; 404 for any other path) until the test ends; the test may change `routes`
    /// between requests. The second value lists the paths asked for, in order.
    pub async fn https_routes(&self, routes: Routes) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let acceptor = self.acceptor();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, routes, log) = (acceptor.clone(), Arc::clone(&routes), Arc::clone(&log));
                tokio::spawn(async move {
                    let mut stream = acceptor.accept(socket).await.ok()?;
                    let request = read_head(&mut stream).await?;
                    let path = request.split_whitespace().nth(1)?.to_owned();
                    let (status, body) = routes
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, "{}".to_owned()));
                    log.lock().unwrap().push(path);
                    answer(&mut stream, status, "application/json", &body).await
                });
            }
        });
        (address, asked)
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(self.server_chain.clone(), self.server_key.clone_key())
                .expect("a server configuration");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// What [`TestPki::https_routes`] answers: path to status and body.
pub type Routes = Arc<Mutex<HashMap<String, (u16, String)>>>;

/// A request's head, or `None` when the connection ended first.
async fn read_head<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<String> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..read]);
    }
    Some(String::from_utf8_lossy(&request).into_owned())
}

async fn answer<S: AsyncWriteExt + Unpin>(stream: &mut S, status: u16, content_type: &str, body: &str) -> Option<()> {
    let head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()
}

/// A new 2048-bit RSA private key, PKCS#1 DER (RFC 8017's RSAPrivateKey, what
/// `jsonwebtoken::EncodingKey::from_rsa_der` takes): what an identity provider signs JWTs with.
pub fn rsa_key_der() -> Vec<u8> {
    let pkcs8 = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .expect("an RSA key (rcgen with aws-lc-rs)")
        .serialize_der();
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING }
    let (_, info, _) = der_element(&pkcs8);
    let (_, _, rest) = der_element(info);
    let (_, _, rest) = der_element(rest);
    let (tag, key, _) = der_element(rest);
    assert_eq!(tag, 0x04, "PKCS#8 holds the key in an OCTET STRING");
    key.to_vec()
}

/// The tag, content and what follows of the DER element `der` starts with.
fn der_element(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (der[0], der[1]);
    let (length, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let octets = usize::from(first & 0x7f);
        let length = der[2..2 + octets]
            .iter()
            .fold(0, |length, byte| length << 8 | usize::from(*byte));
        (length, 2 + octets)
    };
    (tag, &der[start..start + length], &der[start + length..])
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// A file in the temporary folder, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn with(text: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("serverless-patterns-tls-{}-{n}.pem", std::process::id()));
        std::fs::File::create(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .expect("a temporary file");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
