"""Duplicate rules at entry, on DuckDB and PostgreSQL: allow with an alert, or block."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.dedupe import DedupeConfig, DuplicateRule
from revops.config.models import OperatingModel
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, cross_pairs
from revops.identity.compare import comparison_matrix
from revops.identity.dedupe import prepare
from revops.identity.duplicate_rules import _fit, _reaching, check_new_records
from revops.ingest import load_file
from revops.warehouse import Warehouse

FIRST = [
    "ada",
    "alan",
    "grace",
    "linus",
    "barbara",
    "dennis",
    "ken",
    "margaret",
    "edsger",
    "donald",
    "frances",
    "john",
    "radia",
    "tim",
    "vint",
    "katherine",
    "guido",
    "bjarne",
    "niklaus",
    "shafi",
]
LAST = [
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "liskov",
    "ritchie",
    "thompson",
    "hamilton",
    "dijkstra",
    "knuth",
    "allen",
    "backus",
    "perlman",
    "berners",
    "cerf",
    "johnson",
    "rossum",
    "stroustrup",
    "wirth",
    "goldwasser",
]
HEADER = [
    "person_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "source",
    "created_at",
]


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _stored_rows() -> list[list[str]]:
    """300 distinct people at 30 companies, and 30 of them entered twice with typos."""
    rng = random.Random(5)
    combos = [(f, last) for f in FIRST for last in LAST]
    rng.shuffle(combos)
    rows = []
    for i, (first, last) in enumerate(combos[:300]):
        company = f"company{i % 30}"
        phone = f"+1 555 {rng.randrange(10**6, 10**7)}"
        rows.append(
            [
                f"p{i:04d}",
                f"{first}.{last}@{company}.com",
                first.title(),
                last.title(),
                f"{company.title()} Inc.",
                phone,
                "paid_search",
                "2024-01-01 00:00:00",
            ]
        )
    for i in range(30):
        orig = rows[i * 7]
        rows.append(
            [
                f"d{i:04d}",
                f"{orig[2].lower()}{i}@gmail.com",
                _typo(orig[2], rng),
                orig[3],
                orig[4],
                orig[5],
                "event",
                "2024-02-01 00:00:00",
            ]
        )
    return rows


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _incoming() -> list[list[str]]:
    stored = {r[0]: r for r in _stored_rows()}
    p5, p10 = stored["p0005"], stored["p0010"]
    return [
        ["n1", p5[1], p5[2], p5[3], p5[4], p5[5], "paid_search", "2024-03-01 00:00:00"],
        [
            "n2",
            "new.person@elsewhere.org",
            "Zelda",
            "Quux",
            "Brand New Ltd",
            "+44 20 7946 0018",
            "paid_search",
            "2024-03-01 00:00:00",
        ],
        ["n3", p10[1], p10[2], p10[3], p10[4], p10[5], "webinar", "2024-03-01 00:00:00"],
    ]


def _model(*rules: DuplicateRule) -> OperatingModel:
    base = load_config(DEFAULT_CONFIG).model
    return base.model_copy(update={"dedupe": DedupeConfig(rules=rules)})


@pytest.fixture
def stored(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    report = load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    assert report.inserted == 330
    return warehouse


def test_blocked_duplicate_goes_to_quarantine_with_its_reason(
    stored: Warehouse, tmp_path: Path
) -> None:
    model = _model(DuplicateRule(name="no_dupes", table="persons", action="block"))
    report = load_file(stored, _write(tmp_path / "new.csv", _incoming()), "persons", model=model)
    assert report.rows_in == report.inserted + report.updated + report.quarantined
    assert (report.inserted, report.quarantined) == (1, 2)
    rows = stored.sql("SELECT row_number, field, reason FROM quarantine ORDER BY row_number")
    assert [(r[0], r[1]) for r in rows] == [(1, "person_id"), (3, "person_id")]
    assert rows[0][2].startswith("duplicate of p0005 (rule no_dupes, p=")
    assert rows[1][2].startswith("duplicate of p0010 (rule no_dupes, p=")
    assert {
        r[0] for r in stored.sql("SELECT person_id FROM persons WHERE person_id LIKE 'n%'")
    } == {"n2"}
    assert stored.count("duplicate_alerts") == 0


def test_allow_per_source_loads_the_row_and_records_an_alert(
    stored: Warehouse, tmp_path: Path
) -> None:
    model = _model(
        DuplicateRule(name="webinar_ok", table="persons", action="allow", sources=("webinar",)),
        DuplicateRule(name="no_dupes", table="persons", action="block"),
    )
    report = load_file(stored, _write(tmp_path / "new.csv", _incoming()), "persons", model=model)
    assert report.rows_in == report.inserted + report.updated + report.quarantined
    assert (report.inserted, report.quarantined) == (2, 1)
    assert stored.sql("SELECT record_id, matched_id, rule FROM duplicate_alerts") == [
        ("n3", "p0010", "webinar_ok")
    ]
    assert stored.sql("SELECT count(*) FROM persons WHERE person_id IN ('n2', 'n3')") == [(2,)]


def test_check_new_records_reports_one_row_per_incoming_record(stored: Warehouse) -> None:
    model = _model(DuplicateRule(name="alert", table="persons", action="allow", threshold=0.9))
    incoming = pa.Table.from_pylist([dict(zip(HEADER, r, strict=True)) for r in _incoming()])
    out = check_new_records(stored, model, "persons", incoming).to_pylist()
    assert [r["record_id"] for r in out] == ["n1", "n2", "n3"]
    assert [r["matched_id"] for r in out] == ["p0005", None, "p0010"]
    assert [r["action"] for r in out] == ["allow", None, "allow"]
    assert out[0]["probability"] > 0.99
    assert out[1]["probability"] is None or out[1]["probability"] < 0.9


def test_no_rules_no_screening(stored: Warehouse, tmp_path: Path) -> None:
    report = load_file(stored, _write(tmp_path / "new.csv", _incoming()), "persons", model=_model())
    assert (report.inserted, report.quarantined) == (3, 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(floor=st.floats(0.01, 0.99), seed=st.integers(0, 10_000))
def test_pairs_dropped_before_comparison_could_not_reach_the_threshold(
    floor: float, seed: int
) -> None:
    """The equality bound only drops pairs whose scored probability is below the lowest rule
    threshold: screening every pair the blocking keys give finds the same matches."""
    rng = random.Random(seed)
    stored = _stored_rows()
    incoming = []
    for i, row in enumerate(rng.sample(stored, 40)):
        first = _typo(row[2], rng) if rng.random() < 0.5 else row[2]
        email = row[1] if rng.random() < 0.5 else f"x{i}@elsewhere.org"
        phone = row[5] if rng.random() < 0.5 else ""
        incoming.append([f"n{i}", email, first, row[3], row[4], phone, "event", row[7]])
    header = ["id", *HEADER[1:]]
    rows = [dict(zip(header, r, strict=True)) for r in stored + incoming]
    settings_ = load_config(DEFAULT_CONFIG).model.dedupe.settings("persons")
    both = pa.Table.from_pylist(rows).select(["id", *settings_.fields])
    prep = prepare(both, settings_)
    params = _fit(prep, settings_)
    assert params is not None
    keys = block_keys(prep.fields, settings_.blocking)
    n_old = len(stored)
    left, right, _ = cross_pairs(keys.slice(0, n_old), keys.slice(n_old), 5000)
    kinds = [c.kind for c in settings_.comparisons]
    prob = fs.probabilities(
        fs.match_weights(comparison_matrix(prep.encoded, kinds, left, right), params)
    )
    kept_l, kept_r = _reaching(prep, settings_, params, floor, n_old)
    kept = list(zip(kept_l.tolist(), kept_r.tolist(), strict=True))
    reaching = {
        (a, b) for a, b, p in zip(left.tolist(), right.tolist(), prob, strict=True) if p >= floor
    }
    assert reaching <= set(kept) <= set(zip(left.tolist(), right.tolist(), strict=True))
    assert kept == sorted(set(kept))  # each pair once, by stored then new position
