"""The Ed25519 key that signs checkpoints and evidence bundles, and the keys still trusted.

The key comes from `COUNTERSIGN["SIGNING_KEY"]` (a PEM private key, set from the
environment in production). Without it, a development key is generated once at
`COUNTERSIGN["SIGNING_KEY_PATH"]` (under `var/`, which git ignores) and reused.

After a rotation, the checkpoints signed before it are checked with the public keys
of `COUNTERSIGN["RETIRED_SIGNING_PUBLIC_KEYS"]` (PEM blocks, one after another).
"""

import base64
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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


# One PEM block: its label and its body.
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)

# Why a verification trusts a key: it signs now, it signed before a rotation
# (RETIRED_SIGNING_PUBLIC_KEYS), or the person verifying named it.
CURRENT = "current"
RETIRED = "retired"
GIVEN = "given"
KEY_SOURCES = (CURRENT, RETIRED, GIVEN)


def public_keys_in(text: str, *, source: str) -> list[Ed25519PublicKey]:
    """Return the Ed25519 public keys of the PEM blocks in text, in order.

    Raise ValueError naming `source` (a setting, a file) when the text holds
    anything but Ed25519 public keys.
    """
    blocks = list(PEM_BLOCK.finditer(text))
    if PEM_BLOCK.sub("", text).strip():
        raise ValueError(f"{source}: expected only PEM public keys (-----BEGIN PUBLIC KEY-----).")
    keys = []
    for number, block in enumerate(blocks, start=1):
        label = block.group(1)
        if label != "PUBLIC KEY":
            # A private key here would spread a secret meant for one place.
            raise ValueError(
                f"{source}: block {number} is a {label}, not a PUBLIC KEY "
                "(`openssl pkey -pubout` gives a private key's public key)."
            )
        try:
            key = serialization.load_pem_public_key(block.group(0).encode())
        except (UnsupportedAlgorithm, ValueError) as error:
            raise ValueError(f"{source}: block {number} is not a readable public key.") from error
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{source}: block {number} is not an Ed25519 public key.")
        keys.append(key)
    return keys


@lru_cache(maxsize=4)
def _retired(text: str) -> tuple[Ed25519PublicKey, ...]:
    try:
        return tuple(public_keys_in(text, source="RETIRED_SIGNING_PUBLIC_KEYS"))
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from error


def retired_public_keys() -> tuple[Ed25519PublicKey, ...]:
    """Return the public keys of retired signing keys whose checkpoints are still trusted."""
    return _retired(settings.COUNTERSIGN.get("RETIRED_SIGNING_PUBLIC_KEYS") or "")


def retired_fingerprints() -> list[str]:
    """Return the fingerprints of the retired keys, for readers of what they signed."""
    return [fingerprint(key) for key in retired_public_keys()]


@dataclass(frozen=True)
class TrustedKey:
    """A public key a verification trusts, and why: the `CURRENT` key, `RETIRED` or `GIVEN`."""

    fingerprint: str
    key: Ed25519PublicKey
    source: str


def trusted_keys(given: tuple[Ed25519PublicKey, ...] = ()) -> dict[str, TrustedKey]:
    """Return the keys that checkpoints are checked with, by fingerprint, the current one first.

    `given` are keys the person verifying names (`audit verify --trusted-key`).
    """
    keys: dict[str, TrustedKey] = {}
    for source, found in (
        (CURRENT, (public_key(),)),
        (RETIRED, retired_public_keys()),
        (GIVEN, given),
    ):
        for key in found:
            keys.setdefault(fingerprint(key), TrustedKey(fingerprint(key), key, source))
    return keys
