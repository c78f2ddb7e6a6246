"""The federation's certificates: one CA per federation, one key and certificate per party.

Built with the ``cryptography`` package (ECDSA P-256, SHA-256). A party certificate serves both
as server and as client certificate; its CN and a DNS SAN carry the party name, which the mailbox
server compares with the sender of every envelope. Private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vfl.core.errors import ConfigError
from vfl.core.parties import check_party_name

__all__ = ["TlsFiles", "init_ca", "issue_party_cert", "party_files"]

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
