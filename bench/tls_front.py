"""A TLS front for the local AWS, on loopback, for the first-invoke-over-TLS column of `make bench`.

On AWS every SDK call of a fresh execution environment opens a TLS connection first: the
handshake (key exchange, certificate chain verified against the trust store) is part of the
first invocation. The local AWS speaks plain HTTP, so this front terminates TLS with a
certificate of a CA made for the run, and pipes the bytes to it. The functions trust that CA
the documented way (`AWS_CA_BUNDLE`, lambda_kit::tls); so does the Python peer (boto3 reads
the same variable).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost (P-256, as AWS endpoints
    mostly offer); returns (ca.pem, server.pem, server-key.pem)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("make bench TLS front CA"))
        .issuer_name(_name("make bench TLS front CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, server_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_pem.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_pem, server_pem, key_pem


class TlsFront:
    """TLS on 127.0.0.1:<port>, piped to the plain-HTTP local AWS at 127.0.0.1:<upstream_port>."""

    def __init__(self, upstream_port: int, folder: Path):
        self.upstream_port = upstream_port
        self.ca_pem, server_pem, key_pem = make_pki(folder)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(server_pem, key_pem)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"https://{HOST}:{self.port}"

    def client_environment(self) -> dict[str, str]:
        """What points an SDK at the front and makes it trust the front's CA."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_CA_BUNDLE": str(self.ca_pem)}

    def start(self) -> "TlsFront":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TLS front did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._pipe, HOST, 0, ssl=self.context))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            writer.close()
            return

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))
