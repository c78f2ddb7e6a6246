"""The federation's certificates: one CA per federation, one key and certificate per party.

Built with the ``cryptography`` package (ECDSA P-256, SHA-256). A party certificate serves both
as server and as client certificate; its CN and a DNS SAN carry the party name, which the mailbox
server compares with the sender of every envelope. Private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vfl.core.errors import ConfigError
from vfl.core.parties import check_party_name

__all__ = [
    "PeerCert",
    "TlsFiles",
    "check_own_certificate",
    "init_ca",
    "issue_party_cert",
    "party_files",
    "peer_cert",
]

_VALID_DAYS = 825


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) PEM bytes, with an actionable error when a file is missing."""
        out = []
        for what, p in (("CA certificate", self.ca), ("certificate", self.cert), ("private key", self.key)):
            if not p.is_file():
                raise ConfigError(
                    f"{what} not found at {p}",
                    "create them with `vfl certs init DIR` and `vfl certs issue DIR NAME`",
                )
            out.append(p.read_bytes())
        return out[0], out[1], out[2]


def party_files(cert_dir: str | Path, name: str) -> TlsFiles:
    d = Path(cert_dir)
    return TlsFiles(ca=d / "ca.pem", cert=d / f"{name}.pem", key=d / f"{name}.key")


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def init_ca(cert_dir: str | Path, federation: str = "vfl federation") -> Path:
    d = Path(cert_dir)
    if (d / "ca.pem").exists():
        raise ConfigError(f"a CA already exists in {d}", "use it, or choose another folder")
    d.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{federation} CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(d / "ca.key", key)
    (d / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return d / "ca.pem"


def issue_party_cert(cert_dir: str | Path, name: str, hosts: list[str] | None = None) -> TlsFiles:
    """Issue ``name``'s key and certificate, signed by the federation CA in ``cert_dir``."""
    check_party_name(name)
    d = Path(cert_dir)
    if not (d / "ca.key").is_file():
        raise ConfigError(f"no CA in {d}", f"run `vfl certs init {d}` first")
    ca_key = serialization.load_pem_private_key((d / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name), x509.DNSName("localhost")]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    for h in hosts or []:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = party_files(d, name)
    _write_key(files.key, key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _names(cert: x509.Certificate) -> list[str]:
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return names


def check_own_certificate(me: str, files: TlsFiles) -> None:
    """Refuse to start on certificate files that cannot work: our certificate must be issued by
    our ``ca.pem`` and name us (the mistake is ours, so we say so before any peer is told)."""
    ca_pem, cert_pem, _ = files.read()
    try:
        ca, cert = x509.load_pem_x509_certificate(ca_pem), x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise ConfigError(f"{me}: {files.ca} or {files.cert} is not a PEM certificate ({exc})") from None
    if not _issued_by(cert, ca):
        raise ConfigError(
            f"{me}'s certificate {files.cert} is not issued by its CA certificate {files.ca}",
            "use the ca.pem of the federation that issued it, or issue a new one: "
            f"`vfl certs issue DIR {me}`",
        )
    if me not in _names(cert):
        raise ConfigError(
            f"{files.cert} is a certificate for {', '.join(_names(cert)) or 'nobody'}, not for {me}",
            f"issue {me}'s own: `vfl certs issue DIR {me}`",
        )


@dataclass(frozen=True)
class PeerCert:
    """What a TLS probe of a peer's server learned: whether its certificate is issued by our CA
    and names the peer, and whether the server accepted our certificate (None: not known)."""

    reached: bool
    issued_by_our_ca: bool = False
    names: tuple[str, ...] = ()
    accepts_ours: bool | None = None
    error: str = ""


def peer_cert(address: str, files: TlsFiles, timeout: float = 3.0) -> PeerCert:
    """Probe ``address`` with our own certificate, outside gRPC (whose handshake errors do not
    say which side refused what): fetch the server's certificate without trusting it, check it
    against our CA, and see whether the server then refuses ours (a TLS alert)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    ctx.load_cert_chain(files.cert, files.key)
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=None) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            accepts: bool | None = None  # not known (the server said nothing in time)
            try:
                tls.settimeout(min(timeout, 1.0))
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # the HTTP/2 preface gRPC expects
                accepts = tls.recv(1) != b""  # its SETTINGS frame; closed at once: ours refused
            except ssl.SSLError as exc:  # an alert: the server refused our certificate
                accepts = False if "alert" in str(exc).lower() else None
            except (TimeoutError, OSError):
                pass
    except (OSError, ValueError) as exc:
        return PeerCert(False, error=str(exc))
    if der is None:
        return PeerCert(False, error="no certificate")
    cert = x509.load_der_x509_certificate(der)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    return PeerCert(True, _issued_by(cert, ca), tuple(_names(cert)), accepts)
