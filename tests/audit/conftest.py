"""Audit tests sign with a key of their own, never the development key under var/."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def pem_of(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(autouse=True)
def signing_key(settings, tmp_path):
    """Point the signing key at a fresh file under the test's temporary folder."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "SIGNING_KEY": "",
        "SIGNING_KEY_PATH": str(tmp_path / "signing-key.pem"),
    }
    return tmp_path / "signing-key.pem"
