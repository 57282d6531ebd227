"""A small, hand-worked dataset for the quality engine, and the rules it is checked against.

Persons  email            title              phone             country state      source
P1       ana@acme.com     VP of Sales        +1 415 555 0100   US      CA         paid_search
P2       Bob@Acme.COM     Software Engineer  4155550101        USA     California Paid Search
P3       carol@gmail.com  Chief Fin. Officer -                 gb      -          webinar
P4       dave@@x.com      Director of IT     +44 20 7946 0958  -       ZZ         carrier pigeon
P5       ana@acme.com     -                  12                CA      XX         webinar
Stages: P1 Lead, P2 MQL (no company), P3 SQL (no owner). Accounts: P1 and P3 → A1.
Accounts A1 employees 50 country US; A2 -5 Deutschland; A3 10,000,000 (no country).
"""

from __future__ import annotations

import datetime as dt
import functools

import pyarrow as pa

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.models import OperatingModel
from revops.config.quality import QualityConfig
from revops.warehouse import Warehouse

T = dt.datetime(2025, 1, 1, 9)

QUALITY = {
    "required": {"persons": ["country"], "accounts": ["country"]},
    "formats": [
        {"table": "persons", "field": "email", "format": "business_email"},
        {"table": "persons", "field": "phone", "format": "phone", "country_field": "country"},
        {"table": "persons", "field": "country", "format": "country"},
        {
            "table": "persons",
            "field": "state",
            "format": "state",
            "country_field": "country",
            "countries": ["US", "CA"],
        },
        {"table": "accounts", "field": "country", "format": "country"},
    ],
    "country_aliases": {"USA": "US", "Deutschland": "DE"},
    "picklists": [
        {
            "table": "persons",
            "field": "source",
            "allowed": ["paid_search", "webinar"],
            "map": {"Paid Search": "paid_search"},
        }
    ],
    "ranges": [{"table": "accounts", "field": "employees", "min": 1, "max": 5_000_000}],
    "titles": {
        "seniority": [
            {"pattern": r"\b(chief|c[efot]o)\b", "value": "c_level"},
            {"pattern": r"\b(vp|vice president)\b", "value": "vp"},
            {"pattern": r"\bdirector\b", "value": "director"},
            {"pattern": r"\bmanager\b", "value": "manager"},
        ],
        "function": [
            {"pattern": r"\bsales\b", "value": "sales"},
            {"pattern": r"\b(financ\w*|cfo)\b", "value": "finance"},
            {"pattern": r"\b(engineer\w*|cto)\b", "value": "engineering"},
            {"pattern": r"\bit\b", "value": "it"},
        ],
    },
    "utm": {
        "sources": ["google", "linkedin"],
        "mediums": ["cpc", "paid_social"],
        "channels": ["paid_search", "paid_social", "direct", "webinar"],
        "untracked_channels": ["direct"],
        "unknown_channel": None,
    },
    "scorecard": {
        "tables": ["persons", "accounts"],
        "unique": ["persons.email"],
        "match": ["persons.account_id"],
    },
}


@functools.cache
def _shipped() -> OperatingModel:
    return load_config(DEFAULT_CONFIG).model


def model(**overrides: object) -> OperatingModel:
    """The shipped operating model (its lifecycle) with the test quality rules."""
    quality = QualityConfig.model_validate(QUALITY | overrides)
    return _shipped().model_copy(update={"quality": quality})


PERSON_COLUMNS = (
    "person_id", "email", "title", "phone", "country", "state", "source", "person_type",
    "lifecycle_stage", "company", "account_id", "owner_id",
)  # fmt: skip
PERSONS = [
    ("P1", "ana@acme.com", "VP of Sales", "+1 415 555 0100", "US", "CA", "paid_search", "lead",
     "Lead", "Acme", "A1", "U1"),
    ("P2", "Bob@Acme.COM", "Software Engineer", "4155550101", "USA", "California", "Paid Search",
     "contact", "MQL", None, None, None),
    ("P3", "carol@gmail.com", "Chief Financial Officer", None, "gb", None, "webinar", "lead",
     "SQL", "Gamma", "A1", None),
    ("P4", "dave@@x.com", "Director of IT", "+44 20 7946 0958", None, "ZZ", "carrier pigeon",
     "lead", None, "Delta", None, None),
    ("P5", "ana@acme.com", None, "12", "CA", "XX", "webinar", "lead", None, "Eps", None, None),
]  # fmt: skip
ACCOUNTS = [("A1", 50, "US"), ("A2", -5, "Deutschland"), ("A3", 10_000_000, None)]


def load(wh: Warehouse) -> None:
    persons = {c: [r[i] for r in PERSONS] for i, c in enumerate(PERSON_COLUMNS)}
    persons["created_at"] = [T] * len(PERSONS)
    wh.write("persons", pa.table(persons))
    wh.write(
        "accounts",
        pa.table(
            {
                "account_id": [a[0] for a in ACCOUNTS],
                "name": ["Acme", "Beta", "Gamma"],
                "employees": [a[1] for a in ACCOUNTS],
                "country": [a[2] for a in ACCOUNTS],
                "created_at": [T] * 3,
            }
        ),
    )


def column(wh: Warehouse, table: str, field: str, key: str) -> dict[str, object]:
    df = wh.execute(wh.table(table).select(key, field))
    return {
        str(k): (None if v is None or v != v else v)
        for k, v in zip(df[key], df[field], strict=True)
    }
