"""Pseudonymization: analytics see keyed hashes, never emails, phones or names.

`person_pseudonyms` holds an HMAC-SHA256 of each person's normalised email and phone. The HMAC
is computed here in Python with `REVOPS_PSEUDONYM_KEY`, so the key is never part of a SQL text
(query logs, `pg_stat_statements`) nor stored in the database. The hashes are stable, so
analysts can count and join distinct people across refreshes, but only the key holder can
check a guessed email against them. `analytics_persons` is the view analysts should be given:
the persons table with the identifying columns replaced by the pseudonyms.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from revops.privacy.identifiers import keyed_hash, normalize_email, normalize_phone
from revops.privacy.scrub import PII_COLUMNS
from revops.privacy.secrets import pseudonym_key
from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

VIEW = "analytics_persons"
ERASED_DOMAIN = "@erased.invalid"


def pseudonymize(persons: pa.Table, key: bytes, now: datetime) -> pa.Table:
    """person_id, email_hmac, phone_hmac for every row of `persons` (erased rows get nulls)."""
    ids = persons.column("person_id").to_pylist()
    emails = persons.column("email").to_pylist()
    phones = persons.column("phone").to_pylist()
    email_h, phone_h = [], []
    for email, phone in zip(emails, phones, strict=True):
        erased = email is not None and email.endswith(ERASED_DOMAIN)
        email_h.append(None if erased else keyed_hash(key, normalize_email(email)))
        phone_h.append(None if erased else keyed_hash(key, normalize_phone(phone)))
    data = {
        "person_id": ids,
        "email_hmac": email_h,
        "phone_hmac": phone_h,
        "computed_at": [now] * len(ids),
    }
    return pa.table(data, schema=arrow_schema(table("person_pseudonyms")))


def refresh_pseudonyms(wh: Warehouse) -> int:
    """Recompute every pseudonym and (re)create the analytics view; returns the persons count."""
    key = pseudonym_key()
    persons = wh.to_arrow(wh.table("persons").select("person_id", "email", "phone"))
    now = datetime.now(UTC).replace(tzinfo=None)
    wh.write_many([Batch("person_pseudonyms", pseudonymize(persons, key, now), "replace")])
    create_analytics_view(wh)
    return persons.num_rows


def create_analytics_view(wh: Warehouse) -> None:
    """`analytics_persons`: persons without identifying columns, with the pseudonyms."""
    persons = wh.table("persons")
    hidden = set(PII_COLUMNS["persons"])
    keep = [c for c in persons.columns if c not in hidden]
    pseudo = wh.table("person_pseudonyms").select("person_id", "email_hmac", "phone_hmac")
    expr = persons.select(*keep).left_join(pseudo, "person_id")
    expr = expr.select(*keep, "email_hmac", "phone_hmac")
    wh.con.create_view(VIEW, expr, overwrite=True)
