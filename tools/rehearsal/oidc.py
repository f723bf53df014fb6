"""An OpenID provider on loopback, for checks that need a real issuer (the deploy rehearsal's
WebSocket $connect with a JWT): its discovery document and JWK set over HTTPS, with a CA and a
`localhost` certificate made per run, and RS256 tokens signed with its key.

A function trusts it the documented way: the CA's PEM file as `AWS_CA_BUNDLE`, which the kit's
trust store adds to its roots (lambda_kit::tls). Only what a JWT check reads is served:
`/.well-known/openid-configuration` (issuer, jwks_uri) and `/keys`."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tools.shared.aws import free_port
from tools.shared.lambda_api import LoopbackServer, QuietHandler


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool) -> x509.Certificate:  # noqa: ANN001
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class LoopbackIssuer(LoopbackServer):
    KEY_ID = "rehearsal-key-1"

    def __init__(self, work_dir: Path):
        work_dir.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serverless-patterns loopback issuer CA")])
        ca = _certificate("serverless-patterns loopback issuer CA", ca_key, ca_name, ca_key, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate("localhost", server_key, ca_name, ca_key, ca=False)
        self.ca_bundle = work_dir / "issuer-ca.pem"
        self.ca_bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        chain, key_file = work_dir / "issuer-server.pem", work_dir / "issuer-server.key"
        chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.signing_key.public_key().public_numbers()
        self.jwks = {"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.KEY_ID,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }]}
        port = free_port()
        self.issuer = f"https://localhost:{port}"
        documents = {
            "/.well-known/openid-configuration": {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/keys"},
            "/keys": self.jwks,
        }
        self.asked: list[str] = []
        asked = self.asked

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                asked.append(self.path)
                document = documents.get(self.path)
                body = json.dumps(document if document is not None else {}).encode()
                self.answer(200 if document is not None else 404, {"content-type": "application/json"}, body)

        super().__init__(Handler, port)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)

    def token(self, claims: dict[str, Any]) -> str:
        """A JWT with `claims`, signed RS256 with the issuer's key."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.KEY_ID}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"
