"""The audit chain's head, kept outside the warehouse after every write, so cuts are seen.

A hash chain proves each entry follows the one before it, but removing entries from the end, or
rewriting the whole chain from some entry on, leaves a chain that is valid on its own. What
catches that is a copy of the head kept where the person editing the warehouse does not also
edit it. So every write that appends audit entries also records the new head (sequence number
and hash), and `revops audit verify` checks by default that the log still holds that entry with
that hash:

- by default in a file beside a DuckDB warehouse (`<warehouse>.audit-anchor`, mode 0600,
  replaced atomically) or, for PostgreSQL, in the state directory (`$REVOPS_STATE_DIR`, else
  ~/.local/state/revops) named by a digest of the URL; `REVOPS_AUDIT_ANCHOR` names another file;
- `REVOPS_AUDIT_ANCHOR_COMMAND`: a command run (no shell) with `<seq> <hash> <warehouse id>` on
  its standard input, e.g. a script that appends to a write-once bucket or a syslog host;
- `REVOPS_AUDIT_ANCHOR_URL`: a webhook that gets `{"warehouse", "seq", "hash", "at"}` as a POST.

The file is always written (the command and webhook are in addition), because verify reads it.
A failure to anchor never undoes the committed write; it is logged as a warning. The anchor
lags at worst by the writes of a process killed between commit and anchor, which still verify
(an older entry with its hash is still in the log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import subprocess
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from revops.fsio import sync_path

FILE_ENV = "REVOPS_AUDIT_ANCHOR"
COMMAND_ENV = "REVOPS_AUDIT_ANCHOR_COMMAND"
URL_ENV = "REVOPS_AUDIT_ANCHOR_URL"
STATE_ENV = "REVOPS_STATE_DIR"
log = logging.getLogger("revops.audit")


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    path: Path


def warehouse_id(url: str) -> str:
    """A short digest naming the warehouse (its URL without the password)."""
    parts = urlparse(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", "@", 1)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def anchor_path(url: str) -> Path | None:
    """Where the head of the warehouse at `url` is kept; None for an in-memory DuckDB."""
    if os.environ.get(FILE_ENV):
        return Path(os.environ[FILE_ENV])
    if url.startswith(("postgresql://", "postgres://", "spark-local:", "spark://", "sc://")):
        base = os.environ.get(STATE_ENV) or str(Path.home() / ".local" / "state" / "revops")
        return Path(base) / f"audit-anchor-{warehouse_id(url)}"
    path = url.removeprefix("duckdb://")
    return None if path == ":memory:" else Path(f"{path}.audit-anchor")


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    sync_path(path.parent)


def anchor_head(url: str, seq: int, digest: str) -> None:
    """Record `seq`/`digest` as the chain's head everywhere configured (never raises)."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    wid = warehouse_id(url)
    path = anchor_path(url)
    try:
        if path is not None:
            doc = {"warehouse": wid, "seq": seq, "hash": digest, "at": at}
            _write_file(path, json.dumps(doc) + "\n")
        if command := os.environ.get(COMMAND_ENV):
            subprocess.run(  # noqa: S603 - the operator's own command, no shell
                shlex.split(command),
                input=f"{seq} {digest} {wid}\n",
                text=True,
                check=True,
                timeout=10,
                capture_output=True,
            )
        if hook := os.environ.get(URL_ENV):
            body = json.dumps({"warehouse": wid, "seq": seq, "hash": digest, "at": at}).encode()
            request = urllib.request.Request(  # noqa: S310 - an operator-configured https URL
                hook, body, {"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
    except Exception as exc:  # the write is committed; a lost anchor must not look like a failure
        log.warning("could not anchor the audit head (seq %s): %s", seq, exc)


def read_anchor(url: str) -> Anchor | None:
    """The last anchored head of the warehouse at `url`, if any file holds one."""
    path = anchor_path(url)
    if path is None or not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        return Anchor(int(doc["seq"]), str(doc["hash"]), path)
    except (ValueError, KeyError, TypeError):
        return Anchor(-1, "", path)  # unreadable: verify reports it
