"""Secrets the privacy features need, always from the environment, never from code or the DB.

- `REVOPS_PSEUDONYM_KEY`: the HMAC key behind `person_pseudonyms`. Without it no pseudonyms are
  computed (an error says so): a default key in code would make every "pseudonym" reversible by
  anyone with the source.
- `REVOPS_PRIVACY_SALT`: the salt of erasure tombstones. A tombstone must outlive the process,
  so when the variable is unset a random salt is generated once and kept in a file *beside* the
  DuckDB file (`<warehouse>.privacy-salt`, mode 0600), never inside it: a copy of the warehouse
  alone cannot be used to test guessed emails against the tombstones. PostgreSQL warehouses have
  no file to sit beside, so there the variable is required. Losing the salt makes old tombstones
  unmatchable, so a missing file beside a warehouse that has tombstones is refused rather than
  replaced: back it up with the other secrets.
- `REVOPS_ENCRYPTION_KEY`: encrypts what revops writes outside the warehouse that carries PII
  (privacy export files). PII columns *inside* the warehouse are encrypted under a separate
  key, `REVOPS_PII_KEY` (see `revops.warehouse.pii`), so an export recipient's key never opens
  the warehouse and either key can be rotated on its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from revops.errors import RevOpsError

PSEUDONYM_KEY_ENV = "REVOPS_PSEUDONYM_KEY"
SALT_ENV = "REVOPS_PRIVACY_SALT"
ENCRYPTION_KEY_ENV = "REVOPS_ENCRYPTION_KEY"

_memory_salts: dict[str, bytes] = {}


class MissingSecret(RevOpsError):
    """A secret the operation needs is not set in the environment."""


def pseudonym_key() -> bytes:
    key = os.environ.get(PSEUDONYM_KEY_ENV, "")
    if len(key) < 16:
        raise MissingSecret(
            f"set {PSEUDONYM_KEY_ENV} to a random secret of at least 16 characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`); pseudonyms are "
            "keyed HMACs and the key never lives in code or in the warehouse"
        )
    return key.encode()


def encryption_key() -> str | None:
    """The encryption key, or None when encryption at rest is not configured."""
    return os.environ.get(ENCRYPTION_KEY_ENV) or None


def salt_path(url: str) -> Path | None:
    """Where a DuckDB warehouse keeps its generated tombstone salt; None for non-files."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    path = url.removeprefix("duckdb://")
    return None if path == ":memory:" else Path(path + ".privacy-salt")


def tombstone_salt(url: str, tombstones: Callable[[], int] = lambda: 0) -> bytes:
    """The tombstone salt for the warehouse at `url` (see the module docstring).

    A salt is generated only for a warehouse with no tombstones (`tombstones()` counts them):
    if the file went missing (a warehouse copied without it), a fresh salt would make every
    tombstone unmatchable and silently let erased persons load again, so that is refused.
    """
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode()
    if url.startswith(("postgresql://", "postgres://")):
        raise MissingSecret(
            f"set {SALT_ENV}: a PostgreSQL warehouse has no place beside it to keep a generated "
            "tombstone salt, and it must never be stored in the database"
        )
    path = salt_path(url)
    if path is None:  # in-memory DuckDB: lives as long as the process, and so does the salt
        return _memory_salts.setdefault(url, secrets.token_hex(32).encode())
    if not path.exists():
        if (stones := tombstones()) > 0:
            raise MissingSecret(
                f"{path} is missing but the warehouse holds {stones} erasure tombstones made "
                f"with it; restore the file (or set {SALT_ENV}) before loading or erasing"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
