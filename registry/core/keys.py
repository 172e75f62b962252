"""Ed25519 key pairs for TUF roles and publishers, stored as files.

A private key is a PEM (PKCS#8) file readable only by its owner; a public key is the JSON of a
securesystemslib key (``{"keytype": "ed25519", "scheme": "ed25519", "keyval": {...}}``). The
key id is computed by securesystemslib from the public key, so it never needs to be stored.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey
from securesystemslib.signer._utils import compute_default_keyid

from ._internal.files import atomic_write
from .errors import UsageError

__all__ = ["generate", "load_public_key", "load_signer", "public_key_json", "save_key_pair", "signer_from_pem"]


def generate() -> CryptoSigner:
    """Return a new Ed25519 signer."""
    return CryptoSigner.generate_ed25519()


def public_key_json(key: SSlibKey) -> bytes:
    return (json.dumps(key.to_dict(), indent=2, sort_keys=True) + "\n").encode()


def save_key_pair(signer: CryptoSigner, private_path: Path, public_path: Path | None = None) -> None:
    """Write the private key (mode 0600) and, if asked, the public key. Never overwrites."""
    for path in (private_path, public_path):
        if path is not None and path.exists():
            raise UsageError(f"{path} already exists; refusing to overwrite a key")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(private_path, signer.private_bytes, mode=0o600)
    if public_path is not None:
        atomic_write(public_path, public_key_json(signer.public_key))


def load_signer(path: Path) -> CryptoSigner:
    """Load a private key file written by :func:`save_key_pair`.

    Raises UsageError if the file is missing, unreadable or not an Ed25519 PEM key.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read private key {path}: {e.strerror or e}") from e
    return signer_from_pem(data, str(path))


def signer_from_pem(data: bytes, source: str) -> CryptoSigner:
    """A signer from PEM bytes (a file's, or an environment variable's); ``source`` names it in
    errors."""
    try:
        private = load_pem_private_key(data, password=None)
        return CryptoSigner(private)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{source} is not an unencrypted PEM private key: {e}") from e


def load_public_key(source: Path | str | dict) -> SSlibKey:
    """Load a public key from a JSON file, JSON text or a dict.

    Raises UsageError if it is not an Ed25519 securesystemslib key.
    """
    try:
        if isinstance(source, dict):
            data = dict(source)
        else:
            text = source if isinstance(source, str) and source.lstrip().startswith("{") else None
            if text is None:
                text = Path(source).read_text(encoding="utf-8")
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        # A key id in the file is never trusted: it is recomputed from the key itself.
        data.pop("keyid", None)
        keyid = compute_default_keyid(data["keytype"], data["scheme"], data["keyval"])
        key = SSlibKey.from_dict(keyid, data)
    except OSError as e:
        raise UsageError(f"cannot read public key {source}: {e.strerror or e}") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"not a public key file ({source}): {e}") from e
    if key.keytype != "ed25519" or key.scheme != "ed25519":
        raise UsageError(f"public key must be ed25519, got {key.keytype}/{key.scheme}")
    return key
