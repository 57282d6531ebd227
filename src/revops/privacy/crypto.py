"""Encryption of what revops writes outside the warehouse that carries PII.

A privacy export is every row about a person: it must not sit on disk in clear. With
`REVOPS_ENCRYPTION_KEY` set, export files are Fernet tokens (AES-128-CBC + HMAC-SHA256,
authenticated), with the Fernet key derived from the environment key by HKDF-SHA256, so any
passphrase-length secret works and the same secret never serves two purposes unchanged.
Without the key the file is written in clear, readable by its owner only (mode 0600).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from revops.errors import RevOpsError
from revops.privacy.secrets import ENCRYPTION_KEY_ENV, encryption_key

_INFO = b"revops privacy export v1"
MAGIC = b"gAAAAA"  # every Fernet token starts with version byte 0x80, base64 'gAAAAA'


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def write_private(path: Path, data: bytes) -> bool:
    """Write `data` to `path`, encrypted when the key is set; returns whether it was."""
    secret = encryption_key()
    payload = _fernet(secret).encrypt(data) if secret else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(payload)
    return secret is not None


def read_private(path: Path) -> bytes:
    """The contents of a file `write_private` wrote, decrypted with the environment key."""
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        return data
    secret = encryption_key()
    if not secret:
        raise RevOpsError(f"{path} is encrypted; set {ENCRYPTION_KEY_ENV} to read it")
    try:
        return _fernet(secret).decrypt(data)
    except InvalidToken:
        raise RevOpsError(f"{path}: wrong {ENCRYPTION_KEY_ENV} or a damaged file") from None
