"""HTTP and HTTPS on one port, so aws:SecureTransport is decided by the real transport.

On AWS a client that switches its endpoint from https:// to http:// reaches the same service
over plain HTTP, and a bucket policy can deny it (aws:SecureTransport false). Local AWS does the
same: each connection's first byte tells a TLS handshake (0x16) from an HTTP request line, so
http://HOST:PORT and https://HOST:PORT are the same server. The certificate is signed by a CA
local AWS generates once per work dir (work_dir/tls/ca.pem); clients trust it with
`verify=<ca.pem>` (boto3, the connection extra "verify") or AWS_CA_BUNDLE.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer

TLS_HANDSHAKE = 0x16
# A client that connects and says nothing for this long is dropped rather than holding a thread.
FIRST_BYTE_TIMEOUT_SECONDS = 30


# Names the certificate is valid for besides the listening address: this machine, and `local-aws`,
# the service name docker-compose.yaml gives local AWS (other containers reach it by that name).
DEFAULT_HOSTNAMES = ("localhost", "local-aws")


def _names(host: str, hostnames: tuple[str, ...]) -> list[x509.GeneralName]:
    dns = {*hostnames, socket.gethostname()}
    addresses = {"127.0.0.1", "::1"}
    if host not in ("0.0.0.0", "::", ""):
        try:
            addresses.add(str(ipaddress.ip_address(host)))
        except ValueError:
            dns.add(host)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns)]
    return names + [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]


def _covers(cert_path: Path, names: list[x509.GeneralName]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    valid = cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    return valid and set(names) <= set(present)


def ensure_certificate(
    directory: Path, host: str, hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES
) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server-key.pem) in directory; generated when missing, expiring or not covering the names.

    Kept across restarts, so clients configured with ca.pem keep trusting the server.
    """
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    names = _names(host, hostnames)
    if ca_path.exists() and key_path.exists() and _covers(cert_path, names):
        return ca_path, cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local AWS CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local AWS")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return ca_path, cert_path, key_path


class TransportAwareHandler(MotoRequestHandler):
    """Reports each connection's own scheme, which werkzeug takes from the server as a whole."""

    def make_environ(self):
        environ = super().make_environ()
        environ["wsgi.url_scheme"] = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        return environ


class DualProtocolServer(ThreadedWSGIServer):
    """werkzeug's threaded server that also accepts TLS connections on its one port."""

    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request, client_address) -> None:  # runs in the connection's thread
        if self.tls_context is not None:
            request.settimeout(FIRST_BYTE_TIMEOUT_SECONDS)
            try:
                first = request.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if first and first[0] == TLS_HANDSHAKE:
                try:
                    request = self.tls_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # e.g. a client that does not trust our CA: it reports the failure itself
                request.settimeout(None)
                try:
                    super().finish_request(request, client_address)
                finally:
                    self.shutdown_request(request)
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context
