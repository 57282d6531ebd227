"""Duplicate rules screening with a fit made on the way (stored records plus the file's, no
stored fit), on DuckDB and PostgreSQL: the decisions and the fit stored are those of the fit
on all candidate pairs at once (`test_pair_tally._plain_fit`, the path taken before pairs were
counted a batch at a time)."""

from __future__ import annotations

import random
from datetime import datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dedupe_rules import HEADER, _model, _stored_rows, _typo
from test_pair_tally import _plain_fit

from revops.config.dedupe import DuplicateRule
from revops.identity import duplicate_rules, pair_tally
from revops.identity.duplicate_rules import check_new_records
from revops.identity.stored_fit import latest
from revops.warehouse import Warehouse

NOW = datetime(2024, 6, 1)


def _file(seed: int, n: int) -> pa.Table:
    """`n` rows: near-duplicates of stored people (a typo, another email or phone), repeats of
    each other, and people unlike anyone stored."""
    rng = random.Random(seed)
    stored = _stored_rows()
    rows: list[list[str]] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.5:
            r = list(rng.choice(stored))
            r[2] = _typo(r[2], rng) if rng.random() < 0.5 else r[2]
            r[1] = r[1] if rng.random() < 0.5 else f"y{i}@elsewhere.org"
            r[5] = r[5] if rng.random() < 0.5 else ""
        elif kind < 0.7 and rows:
            r = list(rng.choice(rows))
            r[2] = _typo(r[2], rng) if len(r[2]) > 3 and rng.random() < 0.5 else r[2]
        else:
            r = [
                "",
                f"new{i}@fresh{i % 7}.io",
                f"Nova{i % 13}",
                f"Quill{i % 11}",
                f"Fresh {i % 7} Ltd",
                f"+33 1 {rng.randrange(10**6, 10**7)}",
                rng.choice(["event", "webinar", "organic"]),
                "2024-03-01 00:00:00",
            ]
        r[0] = f"n{i:04d}"
        rows.append(r)
    return pa.Table.from_pylist([dict(zip(HEADER, r, strict=True)) for r in rows])


@pytest.fixture
def stored(warehouse: Warehouse) -> Warehouse:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from test_dedupe_rules import _write

    from revops.ingest import load_file

    with TemporaryDirectory() as tmp:  # 330 records: fewer than MIN_RECORDS, nothing fitted
        load_file(warehouse, _write(Path(tmp) / "stored.csv", _stored_rows()), "persons")
    assert latest(warehouse, "persons") is None
    return warehouse


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 120), batch=st.integers(1, 400))
def test_screening_with_a_fit_made_on_the_way_is_the_one_on_all_pairs(
    stored: Warehouse, monkeypatch: pytest.MonkeyPatch, seed: int, n: int, batch: int
) -> None:
    model = _model(
        DuplicateRule(name="events", table="persons", action="allow", sources=("event",)),
        DuplicateRule(name="no_dupes", table="persons", action="block", threshold=0.95),
    )
    incoming = _file(seed, n)
    with monkeypatch.context() as m:  # the pairs compared `batch` at a time
        tally = pair_tally.pair_tally
        m.setattr(duplicate_rules, "pair_tally", lambda *a, **k: tally(*a, batch_rows=batch))
        fits: list[pa.Table] = []
        got = check_new_records(stored, model, "persons", incoming, now=NOW, defer=fits)
    with monkeypatch.context() as m:
        m.setattr(duplicate_rules, "_fit", _plain_fit)
        plain: list[pa.Table] = []
        want = check_new_records(stored, model, "persons", incoming, now=NOW, defer=plain)
    assert got.equals(want)
    assert [f.to_pylist() for f in fits] == [f.to_pylist() for f in plain]
    assert len(fits) == 1  # a fit was made on the way, and was the same
