"""Tombstones: erased persons stay erased.

An erasure leaves a salted SHA-256 of the normalised email and phone in `privacy_tombstones`,
never the values. Ingestion (`screen_erased`) and the intake API (`is_erased`, `erased_mask`)
hash what comes in the same way and refuse a match, so a later CRM sync cannot bring the person
back. The salt lives outside the warehouse (see `revops.privacy.secrets`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from revops.ingest.raw import RawData
from revops.privacy.identifiers import normalize_email, normalize_phone, salted_hash
from revops.privacy.scrub import without_pii
from revops.privacy.secrets import tombstone_salt
from revops.warehouse import Warehouse

REASON = "erased person (tombstone)"
IntArray = npt.NDArray[np.int64]


def _hashes(wh: Warehouse) -> tuple[frozenset[str], frozenset[str]]:
    rows = wh.sql('SELECT email_hash, phone_hash FROM "privacy_tombstones"')
    emails = frozenset(str(r[0]) for r in rows if r[0])
    phones = frozenset(str(r[1]) for r in rows if r[1])
    return emails, phones


def anyone_erased(wh: Warehouse) -> bool:
    """Whether any person was erased (a load of persons must then screen its rows)."""
    emails, phones = _hashes(wh)
    return bool(emails or phones)


def erased_mask(
    wh: Warehouse, emails: Sequence[str | None], phones: Sequence[str | None] | None = None
) -> list[bool]:
    """For each email (and phone, position by position), whether it belongs to an erased person.

    A row with an email is judged by its email alone; a row without one, by its phone.
    """
    email_hashes, phone_hashes = _hashes(wh)
    if not email_hashes and not phone_hashes:
        return [False] * len(emails)
    salt = tombstone_salt(wh.url, lambda: wh.count("privacy_tombstones"))
    phone_list = list(phones) if phones is not None else [None] * len(emails)
    out = []
    for email, phone in zip(emails, phone_list, strict=True):
        eh = salted_hash(salt, normalize_email(email))
        ph = salted_hash(salt, normalize_phone(phone))
        # the phone decides only without an email: a switchboard number is shared, and a
        # colleague of an erased person must not be refused
        hit = eh in email_hashes if eh is not None else (ph is not None and ph in phone_hashes)
        out.append(hit)
    return out


def is_erased(wh: Warehouse, email: str | None, phone: str | None = None) -> bool:
    return erased_mask(wh, [email], [phone])[0]


@dataclass(frozen=True)
class TombstoneScreen:
    """The tombstones held in memory, for a process that judges one record at a time.

    The intake API answers in milliseconds and cannot read the table per lead; it loads this
    once with its other hot state. An erasure runs while no server holds a DuckDB warehouse (it
    rewrites the file), so the server's next start sees it.
    """

    emails: frozenset[str]
    phones: frozenset[str]
    salt: bytes | None

    @classmethod
    def load(cls, wh: Warehouse) -> TombstoneScreen:
        emails, phones = _hashes(wh)
        salt = (
            tombstone_salt(wh.url, lambda: wh.count("privacy_tombstones"))
            if emails or phones
            else None
        )
        return cls(emails, phones, salt)

    def erased(self, email: str | None, phone: str | None = None) -> bool:
        """Same rule as `erased_mask`: the email decides; the phone only without an email."""
        if self.salt is None:
            return False
        eh = salted_hash(self.salt, normalize_email(email))
        if eh is not None:
            return eh in self.emails
        ph = salted_hash(self.salt, normalize_phone(phone))
        return ph is not None and ph in self.phones


def screen_erased(
    wh: Warehouse,
    raw: RawData,
    bad_rows: IntArray,
    good: pa.Table,
    quarantine: pa.Table,
    *,
    load_id: str,
    file: str,
    now: datetime,
    target_table: str = "persons",
) -> tuple[pa.Table, pa.Table, IntArray]:
    """Move persons rows of erased people from `good` to quarantine, their PII left out.

    `good` holds the rows of `raw.data` not in `bad_rows`, in order; the returned `bad_rows`
    includes the rows moved, so later screens that align `good` with the file stay aligned.
    """
    if good.num_rows == 0 or "email" not in good.column_names:
        return good, quarantine, bad_rows
    if not any(_hashes(wh)):  # nobody erased: no need to turn every row into Python strings
        return good, quarantine, bad_rows
    phones = good.column("phone").to_pylist() if "phone" in good.column_names else None
    mask = np.array(erased_mask(wh, good.column("email").to_pylist(), phones), dtype=np.bool_)
    if not mask.any():
        return good, quarantine, bad_rows
    positions = np.setdiff1d(np.arange(raw.data.num_rows), bad_rows)[mask]
    raws = [
        json.dumps(without_pii(json.loads(text), target_table), ensure_ascii=False, default=str)
        for text in raw.raw_json(positions)
    ]
    n = len(positions)
    extra = pa.table(
        {
            "load_id": pa.array([load_id] * n, pa.string()),
            "target_table": pa.array([target_table] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "row_number": pa.array(raw.row_numbers[positions], pa.int64()),
            "field": pa.array(["email"] * n, pa.string()),
            "reason": pa.array([REASON] * n, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "quarantined_at": pa.array([now] * n, pa.timestamp("us")),
        },
        schema=quarantine.schema,
    )
    quarantine = pa.concat_tables([quarantine, extra]).sort_by("row_number")
    bad = np.union1d(bad_rows, positions).astype(np.int64)
    return good.filter(pa.array(~mask)), quarantine, bad
