"""A throwaway certificate authority for the TLS servers and stand-ins of the tests.

`write_tls_files` makes a new CA and a server certificate it signed for 127.0.0.1 and
localhost; a client trusts exactly that CA, so a test proves the client checks the
certificate rather than trusting whatever answers. `write_unrelated_ca` writes a CA that
signed nothing, for the tests where verification must fail.
"""

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.ports import HOST


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS server: `ca` is what a client trusts (the throwaway CA's
    certificate), `certificate` the server's (for its address and localhost, signed by that
    CA), `key` the server's private key."""

    ca: Path
    certificate: Path
    key: Path


def write_tls_files(directory: Path, address: str = HOST) -> TlsFiles:
    """A new CA and a server certificate it signed for `address` (127.0.0.1 unless a server
    listens on a loopback address of its own) and localhost, written into `directory` (the
    CA's own key is never written: nothing else is ever signed)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_certificate = _certificate_authority("sspr-bot test CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_certificate.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(address))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        ca=directory / "ca.pem",
        certificate=directory / "server.pem",
        key=directory / "server-key.pem",
    )
    files.ca.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(server_certificate.public_bytes(serialization.Encoding.PEM))
    files.key.touch(mode=0o600)
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def write_unrelated_ca(path: Path) -> Path:
    """The certificate of a CA that signed nothing any server here presents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _, certificate = _certificate_authority("an unrelated CA")
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _certificate_authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate
