"""The Ed25519 key that signs checkpoints and evidence bundles.

The key comes from `COUNTERSIGN["SIGNING_KEY"]` (a PEM private key, set from the
environment in production). Without it, a development key is generated once at
`COUNTERSIGN["SIGNING_KEY_PATH"]` (under `var/`, which git ignores) and reused.
"""

import base64
import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

logger = logging.getLogger(__name__)


def _load_or_create(path: Path) -> bytes:
    """Return the PEM at path, creating a new key there if none exists yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # O_EXCL: when two processes race on first use, one key wins and both read it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            logger.warning("Generated a development signing key at %s.", path)
    return path.read_bytes()


@lru_cache(maxsize=4)
def _private_key(pem: str, path: str) -> Ed25519PrivateKey:
    data = pem.encode() if pem else _load_or_create(Path(path))
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("The audit signing key must be an Ed25519 private key.")
    return key


def private_key() -> Ed25519PrivateKey:
    """Return the configured signing key, generating the development key on first use."""
    config = settings.COUNTERSIGN
    return _private_key(config.get("SIGNING_KEY") or "", config["SIGNING_KEY_PATH"])


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    key = key or public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey | None = None) -> str:
    """Return the SHA-256 of the raw 32-byte public key, in hex."""
    key = key or public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(message: bytes) -> str:
    """Return the base64 Ed25519 signature of message."""
    return base64.b64encode(private_key().sign(message)).decode()


def signature_valid(message: bytes, signature: str, key: Ed25519PublicKey | None = None) -> bool:
    key = key or public_key()
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
