"""Erasure (GDPR Art. 17): anonymize a person everywhere, in one transaction, and make it stick.

The person's rows are anonymized in place rather than deleted, so every count, stage date,
touch and amount stays where it was and the funnel, attribution and revenue totals do not move:
identifying columns are nulled (the required email becomes a placeholder at `erased.invalid`),
free text written about them is nulled, JSON before-images and raw quarantine rows lose their
identifying keys, and any other text that still contains the email, phone or name is scrubbed.
All of it lands in one `write_many` together with the tombstone and an audit entry that names
person ids and counts, never the email.

An UPDATE does not remove bytes from a DuckDB file: the old values stay in freed blocks, even
after CHECKPOINT, FORCE CHECKPOINT or VACUUM (measured: the email is still in the file after
each). So the database is then rewritten into a fresh file with COPY FROM DATABASE and swapped
in. On PostgreSQL the changed tables get VACUUM FULL, which rewrites them into new files; the
old tuples may survive in WAL segments and backups until those are recycled (see the report).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from revops.audit import audit_batch
from revops.audit.anchor import STATE_ENV, warehouse_id
from revops.errors import RevOpsError
from revops.fsio import sync_path
from revops.privacy.crypto import write_owner_only
from revops.privacy.identifiers import normalize_phone, salted_hash
from revops.privacy.scrub import FREE_TEXT, PII_COLUMNS, scrub_json, scrub_text
from revops.privacy.secrets import tombstone_salt
from revops.privacy.subjects import Subject, find_subject, rows_about
from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import TABLES, table
from revops.warehouse.sql import literal
from revops.warehouse.warehouse import arrow_schema

ERASED_DOMAIN = "erased.invalid"
_JSON_COLUMNS = {"merge_log": ("merged_before", "survivor_before"), "quarantine": ("raw",)}


@dataclass(frozen=True)
class ErasureReport:
    person_ids: tuple[str, ...]
    tombstone_id: str
    rows_changed: dict[str, int]
    audit_entries_with_pii: int  # the audit log is immutable: these need a manual redaction plan
    storage: str  # what was done about old row versions on disk
    warnings: tuple[str, ...] = field(default_factory=tuple)


def placeholder_email(person_id: str) -> str:
    """A valid, non-identifying email for the required column of an erased person."""
    return f"erased-{hashlib.sha256(person_id.encode()).hexdigest()[:16]}@{ERASED_DOMAIN}"


def anonymize_row(name: str, row: dict[str, Any], subject: Subject) -> dict[str, Any]:
    """The row with everything identifying about `subject` removed; pure, for testing."""
    ids = set(subject.person_ids)
    tokens = subject.scrub_tokens
    t = table(name)
    out = dict(row)
    if name == "persons" and row.get("person_id") in ids:
        for pii in PII_COLUMNS["persons"]:
            out[pii] = None
        out["email"] = placeholder_email(str(row["person_id"]))
    if row.get("person_id") in ids:
        for text_col in FREE_TEXT.get(name, ()):
            out[text_col] = None
    if name == "quality_changes" and row.get("field") in PII_COLUMNS.get(
        str(row.get("table_name")), ()
    ):
        out["before"] = out["after"] = None
    if name == "person_pseudonyms" and row.get("person_id") in ids:
        out["email_hmac"] = out["phone_hmac"] = None
    for json_col in _JSON_COLUMNS.get(name, ()):
        target = str(row.get("target_table") or row.get("table_name") or "persons")
        out[json_col] = scrub_json(out[json_col], tokens, target)
    skip = set(t.primary_key) | set(_JSON_COLUMNS.get(name, ()))
    for col in t.columns:
        if col.type == "string" and col.name not in skip and out.get(col.name) is not None:
            out[col.name] = scrub_text(out[col.name], tokens)
    return out


def _tombstones(
    wh: Warehouse, subject: Subject, reason: str, now: datetime
) -> tuple[str, pa.Table]:
    salt = tombstone_salt(wh.url, lambda: wh.count("privacy_tombstones"))
    email_hash = salted_hash(salt, subject.email)
    phone_hashes = sorted(
        {h for p in subject.phones if (h := salted_hash(salt, normalize_phone(p))) is not None}
    )
    ids: list[str | None] = list(subject.person_ids) or [None]
    rows: list[tuple[str | None, str | None]] = [(i, email_hash) for i in ids]
    tombstone_id = uuid.uuid4().hex
    data: dict[str, list[Any]] = {
        "tombstone_id": [],
        "person_id": [],
        "email_hash": [],
        "phone_hash": [],
        "erased_at": [],
        "reason": [],
    }
    n = max(len(rows), len(phone_hashes))
    for k in range(n):
        pid, eh = rows[k] if k < len(rows) else (None, None)
        data["tombstone_id"].append(tombstone_id if k == 0 else f"{tombstone_id}-{k}")
        data["person_id"].append(pid)
        data["email_hash"].append(eh)
        data["phone_hash"].append(phone_hashes[k] if k < len(phone_hashes) else None)
        data["erased_at"].append(now)
        data["reason"].append(reason)
    return tombstone_id, pa.table(data, schema=arrow_schema(table("privacy_tombstones")))


def erase(wh: Warehouse, email: str, *, reason: str, actor: str) -> ErasureReport:
    """Erase the person behind `email` (see the module docstring); returns what was done."""
    if not reason.strip():
        raise RevOpsError("an erasure needs a reason (e.g. 'GDPR Art. 17 request #123')")
    subject = find_subject(wh, email)
    reason = scrub_text(reason.strip(), subject.scrub_tokens) or ""
    now = datetime.now(UTC).replace(tzinfo=None)
    batches: list[Batch] = []
    changed: dict[str, int] = {}
    audit_pii = 0
    for name, expr in rows_about(wh, subject).items():
        rows = wh.to_arrow(expr).to_pylist()
        if name == "audit_log":
            audit_pii = sum(
                1
                for r in rows
                if any(scrub_text(str(r[c]), subject.scrub_tokens) != str(r[c]) for c in r)
            )
            continue
        new = [anonymize_row(name, r, subject) for r in rows]
        diff = [n for n, o in zip(new, rows, strict=True) if n != o]
        if diff:
            schema = arrow_schema(table(name))
            batches.append(Batch(name, pa.Table.from_pylist(diff, schema=schema), "upsert"))
            changed[name] = len(diff)
    tombstone_id, stones = _tombstones(wh, subject, reason, now)
    batches.append(Batch("privacy_tombstones", stones, "append"))
    details = {"tombstone_id": tombstone_id, "rows_changed": changed, "reason": reason}
    subject_ref = ",".join(subject.person_ids) or f"tombstone:{tombstone_id}"
    batches.append(audit_batch(wh, actor, "privacy.erased", subject_ref, details))
    marker = pending_path(wh.url)
    if marker is not None:  # a kill from here to the end of the purge is finished on next open
        write_owner_only(marker, json.dumps({"tables": sorted(changed)}).encode())
    wh.write_many(batches)
    storage = purge_old_versions(wh, sorted(changed))
    if marker is not None:
        marker.unlink(missing_ok=True)
    warnings: tuple[str, ...] = ()
    if audit_pii:
        warnings = (
            f"{audit_pii} audit entries contain the person's data; the audit log is "
            "hash-chained and was left as it is",
        )
    return ErasureReport(
        subject.person_ids, tombstone_id, changed, audit_pii, storage, tuple(warnings)
    )


def purge_old_versions(wh: Warehouse, tables: list[str]) -> str:
    """Make the storage forget old row versions; says what was done."""
    if wh.backend == "postgres":
        pg = wh.con.con
        previous = pg.autocommit
        pg.autocommit = True
        try:
            with pg.cursor() as cur:
                for name in tables:
                    cur.execute(f'VACUUM FULL "{name}"')
        finally:
            pg.autocommit = previous
        return f"VACUUM FULL on {len(tables)} tables"
    path = wh.url.removeprefix("duckdb://")
    if path == ":memory:":
        return "in-memory database: nothing on disk"
    rewrite_duckdb(wh, Path(path))
    return "database file rewritten (COPY FROM DATABASE) and swapped in"


def pending_path(url: str) -> Path | None:
    """The marker of an erasure whose storage purge has not finished: beside a DuckDB file, or
    in the state directory for PostgreSQL; None in memory."""
    if url.startswith(("postgresql://", "postgres://")):
        base = os.environ.get(STATE_ENV) or str(Path.home() / ".local" / "state" / "revops")
        return Path(base) / f"erasure-pending-{warehouse_id(url)}"
    path = url.removeprefix("duckdb://")
    return None if path == ":memory:" else Path(f"{path}.erasure-pending")


def resume_purge(wh: Warehouse) -> str | None:
    """Finish the storage purge of an erasure killed after its commit (or before it: a purge
    of an unchanged database is harmless); a warning saying so, or None if nothing was left."""
    marker = pending_path(wh.url)
    path = wh.url.removeprefix("duckdb://")
    leftover = Path(f"{path}.rewrite") if wh.backend == "duckdb" else None
    if not (marker is not None and marker.exists()) and not (leftover and leftover.exists()):
        return None
    try:
        tables = list(json.loads(marker.read_text())["tables"]) if marker else []
    except (OSError, ValueError, KeyError, TypeError):
        tables = []
    if leftover is not None:
        leftover.unlink(missing_ok=True)  # a partial copy: the rewrite starts over
    purge_old_versions(wh, tables or [t.name for t in TABLES])
    if marker is not None:
        marker.unlink(missing_ok=True)
    return (
        "an erasure was interrupted before old row versions were purged from storage; "
        "the purge was finished now"
    )


def rewrite_duckdb(wh: Warehouse, path: Path) -> None:
    """Copy the live database into a fresh file and replace the old file with it.

    Crash-safe: the copy is fsynced before it atomically replaces the file (and the folder is
    fsynced after), so a kill leaves either the old file or the new one, plus possibly a
    partial `.rewrite` copy that `resume_purge` deletes before rewriting again.

    PII columns are copied as the ciphertext they are stored as (REVOPS_PII_KEY), so the
    rewrite never holds plaintext either.
    """
    raw = wh.con.con
    current = str(raw.execute("SELECT current_database()").fetchone()[0])
    fresh = path.with_name(path.name + ".rewrite")
    fresh.unlink(missing_ok=True)
    raw.execute("CHECKPOINT")
    raw.execute(f"ATTACH {literal(str(fresh))} AS revops_rewrite")
    try:
        raw.execute(f'COPY FROM DATABASE "{current}" TO revops_rewrite')
    finally:
        raw.execute("DETACH revops_rewrite")
    sync_path(fresh)
    wh.con.disconnect()
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    sync_path(path.parent)
    wh.con = Warehouse.connect(str(path), create=False).con
