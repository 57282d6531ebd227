"""Duplicate rules at entry, on DuckDB and PostgreSQL: allow with an alert, or block."""

from __future__ import annotations

import csv
import random
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.dedupe import DedupeConfig, DuplicateRule
from revops.config.models import OperatingModel
from revops.identity import duplicate_rules
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, candidate_pairs, cross_pairs
from revops.identity.compare import comparison_matrix
from revops.identity.dedupe import prepare
from revops.identity.duplicate_rules import _fit, _reaching, check_new_records, refit
from revops.identity.stored_fit import latest
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
    threshold: screening every pair the blocking keys give (stored with new, and earlier new
    with later new) finds the same matches."""
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
    inner_left, inner_right, _ = candidate_pairs(keys.slice(n_old), 5000)
    left, right = np.r_[left, inner_left], np.r_[right, inner_right]
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
    assert kept == sorted(set(kept))  # each pair once, by left then right position


ZELDA = ["m1", "zelda.quux@brandnew.org", "Zelda", "Quux", "Brand New Ltd", "+44 20 7946 0018"]
ZEDLA = ["m2", "zelda.quux@brandnew.org", "Zedla", "Quux", "Brand New Ltd", "+44 20 7946 0018"]
YURI = ["m3", "yuri@vexx.io", "Yuri", "Vexx", "Vexx Labs", "+49 30 1234 5678"]


def _file(*people: list[str], source: str = "paid_search") -> list[list[str]]:
    return [[*p, source, "2024-03-01 00:00:00"] for p in people]


def test_a_row_is_screened_against_the_rows_before_it_in_the_file(
    stored: Warehouse, tmp_path: Path
) -> None:
    """m2 is m1 with a typo'd first name, both new: m2 is blocked as a duplicate of m1, the
    earlier row; m1 and the unrelated m3 are loaded. Rows in = loaded + quarantined."""
    model = _model(DuplicateRule(name="no_dupes", table="persons", action="block"))
    path = _write(tmp_path / "new.csv", _file(ZELDA, ZEDLA, YURI))
    report = load_file(stored, path, "persons", model=model)
    assert (report.rows_in, report.inserted, report.quarantined) == (3, 2, 1)
    assert report.rows_in == report.inserted + report.quarantined + report.duplicates
    [(row, reason)] = stored.sql("SELECT row_number, reason FROM quarantine")
    assert row == 2
    assert reason.startswith("duplicate of m1 (rule no_dupes, p=")
    assert stored.sql("SELECT person_id FROM persons WHERE person_id LIKE 'm%' ORDER BY 1") == [
        ("m1",),
        ("m3",),
    ]


def test_an_allowed_match_inside_the_file_is_loaded_with_an_alert(
    stored: Warehouse, tmp_path: Path
) -> None:
    model = _model(
        DuplicateRule(name="webinar_ok", table="persons", action="allow", sources=("webinar",)),
        DuplicateRule(name="no_dupes", table="persons", action="block"),
    )
    rows = _file(ZELDA) + _file(ZEDLA, source="webinar") + _file(YURI)
    report = load_file(stored, _write(tmp_path / "new.csv", rows), "persons", model=model)
    assert (report.inserted, report.quarantined) == (3, 0)
    assert stored.sql("SELECT record_id, matched_id, rule FROM duplicate_alerts") == [
        ("m2", "m1", "webinar_ok")
    ]


def test_a_blocked_row_is_no_match_target_for_the_rows_after_it(stored: Warehouse) -> None:
    """n1 is stored p0005 under a new email, n1b is n1 again under another id. When n1 is
    blocked it never enters the table, so n1b is a duplicate of p0005; when n1 is allowed (an
    alert) it is loaded, and n1b's best match is n1, which shares its email too."""
    p5 = {r[0]: r for r in _stored_rows()}["p0005"]
    n1 = ["n1", "ada.new@elsewhere.org", *p5[2:6]]
    n1b = ["n1b", *n1[1:]]
    model = _model(
        DuplicateRule(name="webinar_ok", table="persons", action="allow", sources=("webinar",)),
        DuplicateRule(name="no_dupes", table="persons", action="block"),
    )

    def check(source: str) -> list[tuple[str, str | None, str | None]]:
        rows = _file(n1, source=source) + _file(n1b)
        incoming = pa.Table.from_pylist([dict(zip(HEADER, r, strict=True)) for r in rows])
        out = check_new_records(stored, model, "persons", incoming).to_pylist()
        return [(r["record_id"], r["matched_id"], r["action"]) for r in out]

    assert check("paid_search") == [("n1", "p0005", "block"), ("n1b", "p0005", "block")]
    assert check("webinar") == [("n1", "p0005", "allow"), ("n1b", "n1", "block")]


OTHERS = [
    [f"u{i}", f"{f}.{last}@x{i}.net", f.title(), last.title(), f"U{i} GmbH", f"+33 1 {4e7 + i:.0f}"]
    for i, (f, last) in enumerate(zip(FIRST, reversed(LAST), strict=True))
]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_unrelated_rows_around_the_pair_do_not_change_which_pair_is_caught(
    stored: Warehouse, data: st.DataObject
) -> None:
    """Whatever unrelated rows the file holds and in whatever order, the one caught is the
    later of the two Zeldas, naming the earlier one (on a fit of the stored records only, so
    every example screens with the same model)."""
    if latest(stored, "persons") is None:
        assert refit(stored, _model(), "persons", now=datetime(2024, 6, 1)) is not None
    others = data.draw(st.permutations(OTHERS).map(lambda p: p[: len(p) // 2]))
    people = [*others, ZELDA, ZEDLA]
    order = data.draw(st.permutations(range(len(people))))
    rows = _file(*[people[i] for i in order])
    model = _model(DuplicateRule(name="no_dupes", table="persons", action="block"))
    incoming = pa.Table.from_pylist([dict(zip(HEADER, r, strict=True)) for r in rows])
    out = check_new_records(stored, model, "persons", incoming).to_pylist()
    caught = [(r["record_id"], r["matched_id"]) for r in out if r["action"] is not None]
    first, second = sorted((ZELDA[0], ZEDLA[0]), key=[p[0] for p in rows].index)
    assert caught == [(second, first)]


def test_fields_a_pair_must_agree_on_are_joined_on_without_losing_a_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a threshold only pairs agreeing on one field can reach, that field joins with the
    blocking key: the pairs kept are exactly those the join's filter alone keeps."""
    rows = _stored_rows()
    settings_ = load_config(DEFAULT_CONFIG).model.dedupe.settings("persons")
    table = pa.Table.from_pylist([dict(zip(["id", *HEADER[1:]], r, strict=True)) for r in rows])
    prep = prepare(table.select(["id", *settings_.fields]), settings_)
    params = _fit(prep, settings_)
    assert params is not None
    best = [max(0.0, *c.weights) for c in params.comparisons]
    other = [max(0.0, *c.weights[:-1]) for c in params.comparisons]
    f = int(np.argmax(np.subtract(best, other)))
    need = sum(best) - (best[f] - other[f]) / 2  # reachable, but only when field f agrees
    lam = params.lambda_
    floor = float(1 / (1 + 2 ** -(need + np.log2(lam / (1 - lam)))))
    assert duplicate_rules._needed(params, floor) == [f]
    n_old = 200
    joined = duplicate_rules._reaching(prep, settings_, params, floor, n_old)
    monkeypatch.setattr(duplicate_rules, "_needed", lambda *_: [])
    filtered = duplicate_rules._reaching(prep, settings_, params, floor, n_old)
    assert len(filtered[0]) > 0
    assert [a.tolist() for a in joined] == [a.tolist() for a in filtered]
