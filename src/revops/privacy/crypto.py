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
import stat
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


def write_owner_only(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by its owner only, whatever was there before.

    `os.open(..., 0o600)` alone applies the mode only to a file it creates: an existing 0644
    file would keep its mode, and a symlink planted at `path` would be followed to wherever it
    points. So the final component is opened with O_NOFOLLOW (a symlink is refused), the
    descriptor must be a regular file, its mode is forced with fchmod before anything is
    written, and it is truncated only then.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if path.is_symlink():
            raise RevOpsError(f"{path} is a symbolic link; refusing to write through it") from None
        raise RevOpsError(f"cannot write {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RevOpsError(f"{path} is not a regular file; refusing to write to it")
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> bool:
    """Write `data` to `path`, encrypted when the key is set; returns whether it was."""
    secret = encryption_key()
    payload = _fernet(secret).encrypt(data) if secret else data
    write_owner_only(path, payload)
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
