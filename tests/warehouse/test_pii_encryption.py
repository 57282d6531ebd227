"""PII columns encrypted at rest (REVOPS_PII_KEY): the file holds no plaintext, engines see
plaintext exactly as without the key, and a missing or wrong key is refused clearly.

PII mode decrypts inside queries with a Python UDF, which only DuckDB can run, so these tests
use DuckDB files in tmp_path (their bytes are read back) rather than the two-backend
`warehouse` fixture; the PostgreSQL half checks that PII mode is refused there with the way out.
Engine equivalence is checked against an independent run of the same engine on a warehouse
without the key: same inputs, same outputs.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config import DEFAULT_CONFIG, load_config
from revops.identity.duplicate_rules import check_new_records
from revops.ingest import load_file
from revops.lifecycle import run_lifecycle
from revops.metrics import compute
from revops.warehouse import Warehouse, WarehouseError
from revops.warehouse.pii import (
    PII_KEY_ENV,
    PREFIX,
    PiiCipher,
    PiiKeyError,
    decrypt_column,
    encrypt_column,
)
from revops.warehouse.schema import TABLES

KEY = "correct horse battery staple, from the environment"
CIPHER = PiiCipher(KEY)
EMAIL, FIRST, LAST, PHONE = (
    "zephyrine.quillfeather@example.org",
    "Zephyrine",
    "Quillfeather",
    "+44 20 7946 0958",
)
NEEDLES = (b"quillfeather", b"zephyrine", b"7946 0958", b"brontide", b"ysolde")
MODEL = load_config(DEFAULT_CONFIG).model
T = datetime(2024, 3, 5, 9, 30)


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PII_KEY_ENV, raising=False)


def _connect(path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None = KEY) -> Warehouse:
    if key is None:
        monkeypatch.delenv(PII_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(PII_KEY_ENV, key)
    return Warehouse.connect(path)


def _persons() -> pa.Table:
    return pa.table(
        {
            "person_id": ["P1", "P2", "P3"],
            "email": [EMAIL, "ysolde.brontide@example.net", "ysolde.brontide@example.net"],
            "first_name": [FIRST, "Ysolde", None],
            "last_name": [LAST, "Brontide", "Brontide"],
            "phone": [PHONE, None, "+1 555 0100"],
            "company": ["Acme", "Globex", "Globex"],
            "country": ["GB", "US", "US"],
            "source": ["paid_search", "events", "events"],
            "created_at": [T, T, T],
        }
    )


# -- the cipher --------------------------------------------------------------------------------
def test_cipher_matches_an_independent_aes_siv() -> None:
    # Working: HKDF-SHA256(no salt, info "revops pii columns aes-siv v1") -> 64 bytes = the
    # AES-256-SIV key; AD = "persons.email"; stored = "enc1:" + base64(tag || ciphertext).
    siv_key = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"revops pii columns aes-siv v1"
    ).derive(KEY.encode())
    token = AESSIV(siv_key).encrypt(EMAIL.encode(), [b"persons.email"])
    expected = "enc1:" + base64.b64encode(token).decode()
    out = encrypt_column(pa.array([EMAIL, None, EMAIL]), "persons.email", CIPHER)
    assert out.to_pylist() == [expected, None, expected]  # deterministic, nulls stay null
    assert len(token) == 16 + len(EMAIL)  # SIV tag + same-length ciphertext
    assert decrypt_column(out, "persons.email", CIPHER).to_pylist() == [EMAIL, None, EMAIL]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30))
def test_roundtrip_and_per_value_agreement(values: list[str | None]) -> None:
    arr = pa.array(values, pa.string())
    enc = CIPHER.encrypt_column(arr, "persons.first_name")
    one_by_one = [
        None if v is None else CIPHER.encrypt_value(v, "persons.first_name") for v in values
    ]
    assert enc.to_pylist() == one_by_one  # the unique/scatter shortcut changes nothing
    assert all(v is None or v.startswith(PREFIX) for v in enc.to_pylist())
    chunked = pa.chunked_array([enc.slice(0, len(values) // 2), enc.slice(len(values) // 2)])
    assert CIPHER.decrypt_column(chunked, "persons.first_name").to_pylist() == values


def test_ciphertext_is_bound_to_its_column_and_key() -> None:
    enc = CIPHER.encrypt_value(EMAIL, "persons.email")
    assert CIPHER.encrypt_value(EMAIL, "users.email") != enc
    with pytest.raises(PiiKeyError, match=r"persons\.phone"):
        CIPHER.decrypt_value(enc, "persons.phone")
    with pytest.raises(PiiKeyError, match="wrong key"):
        PiiCipher("another secret of enough length").decrypt_value(enc, "persons.email")
    assert CIPHER.decrypt_value("legacy@example.org", "persons.email") == "legacy@example.org"
    assert KEY not in repr(CIPHER)
    with pytest.raises(PiiKeyError, match="at least 16"):
        PiiCipher("short")


def test_pii_flags_cover_persons_and_the_copies_of_their_values() -> None:
    flagged = {(t.name, c.name) for t in TABLES for c in t.columns if c.pii}
    assert flagged == {
        ("persons", "email"),
        ("persons", "first_name"),
        ("persons", "last_name"),
        ("persons", "phone"),
        ("quarantine", "raw"),
        ("quarantine", "reason"),  # names the refused value, e.g. a mistyped email
        ("activities", "subject"),  # free text typed about the person
        ("routing_decisions", "reason"),  # rule reasons may quote the lead's fields
        ("routing_decisions", "evaluated"),
        ("merge_log", "merged_before"),
        ("merge_log", "survivor_before"),
        ("quality_changes", "before"),
        ("quality_changes", "after"),
    }
    assert all(c.type == "string" for t in TABLES for c in t.columns if c.pii)


# -- at rest -----------------------------------------------------------------------------------
def test_file_holds_no_plaintext_and_reopens_with_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pii.duckdb"
    csv = tmp_path / "persons.csv"
    csv.write_text(
        "person_id,email,first_name,last_name,phone,company,country,source,created_at\n"
        f"P1,{EMAIL},{FIRST},{LAST},{PHONE},Acme,GB,paid_search,2024-03-05 09:30:00\n"
        # refused (bad email): its raw JSON in quarantine names her and her phone
        f"P9,not-an-email,{FIRST},{LAST},{PHONE},Acme,GB,paid_search,2024-03-05 09:30:00\n"
    )
    with _connect(path, monkeypatch) as wh:
        report = load_file(wh, csv, "persons")
        assert (report.inserted, report.quarantined) == (1, 1)
        wh.write("persons", _persons().slice(1))
        stored = dict(wh.sql('SELECT person_id, email FROM "persons"'))
        assert all(str(v).startswith(PREFIX) for v in stored.values())
        raw = wh.sql('SELECT raw FROM "quarantine"')[0][0]
        assert raw.startswith(PREFIX)
        wh.con.raw_sql("CHECKPOINT")
    data = path.read_bytes().lower()
    for needle in NEEDLES:
        assert needle not in data, needle
    assert b"globex" in data  # not PII: stays queryable in clear

    with _connect(path, monkeypatch) as wh:
        persons = wh.to_arrow(wh.table("persons").order_by("person_id")).to_pylist()
        assert [(p["person_id"], p["email"], p["first_name"], p["phone"]) for p in persons] == [
            ("P1", EMAIL, FIRST, PHONE),
            ("P2", "ysolde.brontide@example.net", "Ysolde", None),
            ("P3", "ysolde.brontide@example.net", None, "+1 555 0100"),
        ]
        t = wh.table("persons")
        assert wh.execute(t.filter(t.email == EMAIL).person_id).to_list() == ["P1"]
        by_email = wh.to_arrow(t.group_by("email").agg(n=t.count()).order_by("email"))
        assert by_email.column("n").to_pylist() == [2, 1]  # ysolde… sorts before zephyrine…
        quarantined = json.loads(wh.to_arrow(wh.table("quarantine")).column("raw")[0].as_py())
        assert (quarantined["last_name"], quarantined["phone"]) == (LAST, PHONE)
        # an upsert by primary key replaces the ciphertext, it does not add a row
        wh.write("persons", pa.table({"person_id": ["P1"], "phone": ["+44 20 0000 0000"]}))
        assert wh.count("persons") == 3
        phone = wh.table("persons").filter(wh.table("persons").person_id == "P1").phone
        assert wh.execute(phone).to_list() == ["+44 20 0000 0000"]
        assert wh.execute(wh.table("persons").first_name.isnull().sum()) == 1


def test_missing_or_wrong_key_is_refused_without_revealing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pii.duckdb"
    with _connect(path, monkeypatch) as wh:
        wh.write("persons", _persons())
    with pytest.raises(WarehouseError, match=f"holds encrypted PII.*set {PII_KEY_ENV}"):
        _connect(path, monkeypatch, key=None)
    wrong = "a different secret, also long enough"
    with pytest.raises(WarehouseError, match="not the key") as err:
        _connect(path, monkeypatch, key=wrong)
    assert wrong not in str(err.value)
    with _connect(path, monkeypatch) as wh:  # the right key still opens it
        assert wh.count("persons") == 3


def test_key_on_a_warehouse_with_plaintext_pii_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plain.duckdb"
    with _connect(path, monkeypatch, key=None) as wh:
        wh.write("persons", _persons())
    with pytest.raises(WarehouseError, match="already holds PII in clear"):
        _connect(path, monkeypatch)
    with _connect(path, monkeypatch, key=None) as wh:  # and nothing was changed
        assert wh.sql('SELECT count(*) FROM "pii_keys"') == [(0,)]
        assert EMAIL in wh.to_arrow(wh.table("persons")).column("email").to_pylist()


def test_postgresql_refuses_pii_mode_with_the_way_out(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PII_KEY_ENV, KEY)
    with pytest.raises(WarehouseError, match="pgcrypto") as err:
        Warehouse.connect(pg_url)
    assert KEY not in str(err.value)


# -- engines see plaintext: same outputs as without the key --------------------------------------
def _pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Warehouse, Warehouse]:
    plain = _connect(tmp_path / "plain.duckdb", monkeypatch, key=None)
    enc = _connect(tmp_path / "enc.duckdb", monkeypatch)
    return plain, enc


def test_lifecycle_required_fields_metrics_and_duplicate_rules_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, enc = _pair(tmp_path, monkeypatch)
    events = pa.table(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "person_id": ["P1", "P1", "P4", "P4"],
            "stage": ["Lead", "MQL", "Lead", "MQL"],
            "occurred_at": [T, datetime(2024, 3, 6), T, datetime(2024, 3, 6)],
            "source": ["form"] * 4,
        }
    )
    # P4 has no email: entering MQL (requires email, company, country) must be rejected
    no_email = pa.table(
        {"person_id": ["P4"], "company": ["Initech"], "country": ["DE"], "created_at": [T]}
    )
    incoming = pa.table(
        {
            "person_id": ["N1", "N2"],
            "email": [EMAIL, "someone.else@example.com"],
            "first_name": [FIRST, "Someone"],
            "last_name": [LAST, "Else"],
            "phone": [PHONE, None],
            "company": ["Acme", "Other"],
        }
    )
    out = []
    try:
        for wh in (plain, enc):
            wh.write("persons", _persons())
            wh.write("persons", no_email)
            wh.write("lifecycle_events", events)
            report = run_lifecycle(wh, MODEL.lifecycle)
            rejections = wh.to_arrow(
                wh.table("lifecycle_rejections").select("event_id", "reason").order_by("event_id")
            ).to_pylist()
            leads = compute(wh, MODEL, "leads", grain="month", by=("channel",))
            checked = check_new_records(wh, MODEL, "persons", incoming).to_pylist()
            out.append((report.lines(), rejections, leads, checked))
    finally:
        plain.close()
        enc.close()
    (p_lines, p_rej, p_leads, p_check), (e_lines, e_rej, e_leads, e_check) = out
    assert e_lines == p_lines
    assert e_rej == p_rej
    assert any("missing: email" in r["reason"] for r in e_rej)
    pd.testing.assert_frame_equal(e_leads, p_leads)
    assert e_check == p_check
    assert e_check[0]["matched_id"] == "P1"  # the same email, names and phone: blocked
    assert e_check[0]["action"] == "block"
    assert e_check[1]["matched_id"] is None
