"""The monotonicity guard on Fellegi-Sunter fits (issue 12): a comparison's weight never falls as
its similarity level rises, so an exact agreement never counts against a match; the levels EM
got backwards are pooled, probabilities stay probabilities, and the fit says what it repaired."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_dedupe_rules import _model, _stored_rows, _write
from typer.testing import CliRunner

from revops.cli import app
from revops.identity import duplicate_rules, stored_fit
from revops.identity import fellegi_sunter as fs
from revops.identity.dedupe import prepare, read_records
from revops.ingest import load_file
from revops.warehouse import Warehouse
from revops.warehouse.clock import utc_now


def test_pooling_by_hand() -> None:
    # ratios m/u: 0.125, 6, 3 — "exact" counts for less than "close": pool levels 1 and 2 into
    # one level with m = 0.9, u = 0.2 (ratio 4.5), shared in proportion to u: 0.45 and 0.45.
    m = fs.pool_adjacent_violators(np.array([0.1, 0.6, 0.3]), np.array([0.8, 0.1, 0.1]))
    assert m == pytest.approx([0.1, 0.45, 0.45])
    # a violation reaching back: ratios 2, 1, 0.5 with u 0.2, 0.3, 0.5 pool into one level
    m = fs.pool_adjacent_violators(np.array([0.4, 0.3, 0.25]), np.array([0.2, 0.3, 0.5]))
    assert m / np.array([0.2, 0.3, 0.5]) == pytest.approx([0.95] * 3)


def _em_backwards() -> tuple[np.ndarray, list[np.ndarray]]:
    """Pairs on which EM gives field b's exact level less weight than its close level: the
    pairs field a marks as matches are mostly close on b (400) and seldom exact (20), while
    exact agreement on b is as common among random pairs as being close."""
    rows = [(1, 1)] * 400 + [(1, 2)] * 20 + [(0, 0)] * 3000 + [(0, 1)] * 300 + [(0, 2)] * 300
    u = [np.array([0.9, 0.1]), np.array([0.8, 0.1, 0.1])]
    return np.array(rows, dtype=np.int8), u


def test_a_weight_em_makes_fall_is_repaired_by_the_guard() -> None:
    levels, u = _em_backwards()
    m0 = [fs.initial_m(2), fs.initial_m(3)]
    m_em, *_ = fs.em_session(levels, u, m0, 0.5, max_iterations=500, tolerance=1e-10)
    em_weights = np.log2(m_em[1] / u[1])
    assert em_weights[2] < em_weights[1]  # EM alone: exact on b counts for less than close
    sessions = [(np.ones(len(levels), dtype=np.bool_), [0, 1])]
    params = fs.fit(
        levels, sessions, u, ["a", "b"], [("no", "yes"), ("no", "close", "exact")],
        len(levels), max_iterations=500, tolerance=1e-10,
    )  # fmt: skip
    a, b = params.comparisons
    assert not a.repaired
    assert a.m == pytest.approx(tuple(m_em[0]), rel=1e-6)
    assert b.repaired
    # close and exact pooled into one level: together they keep EM's m, at one ratio
    pooled = math.log2((m_em[1][1] + m_em[1][2]) / 0.2)
    assert b.weights[1] == pytest.approx(pooled, rel=1e-6)
    assert b.weights[2] == pytest.approx(pooled, rel=1e-6)
    assert b.m[0] == pytest.approx(m_em[1][0], rel=1e-6)
    assert sum(b.m) == pytest.approx(1.0)
    assert fs.is_monotone(params)
    again = fs.FellegiSunterParams.from_json(params.to_json())
    assert again == params  # the repair is part of the stored fit


@st.composite
def _tables(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 6))
    weight = st.floats(1e-6, 1.0)
    m = np.array(draw(st.lists(weight, min_size=n, max_size=n)))
    u = np.array(draw(st.lists(weight, min_size=n, max_size=n)))
    return m / m.sum(), u / u.sum()


@given(table=_tables())
def test_weights_are_monotone_after_the_guard_and_probabilities_sum_to_one(
    table: tuple[np.ndarray, np.ndarray],
) -> None:
    m, u = table
    fixed = fs.pool_adjacent_violators(m, u)
    weights = np.log2(fixed / u)
    assert (np.diff(weights) >= -1e-9).all()
    assert (fixed > 0).all()
    assert fixed.sum() == pytest.approx(1.0)
    assert weights[-1] >= -1e-9  # exact agreement never counts against a match
    if (np.diff(np.log2(m / u)) >= 0).all():
        assert fixed == pytest.approx(m, rel=1e-9)  # nothing to repair: nothing changed
    assert fs.pool_adjacent_violators(fixed, u) == pytest.approx(fixed, rel=1e-9)


def test_the_load_time_fit_on_330_records_never_counts_agreement_against(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    # the set where an exact first name came out negative before the guard
    load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    model = _model()
    settings = model.dedupe.settings("persons")
    params = duplicate_rules._fit(
        prepare(read_records(warehouse, model, "persons"), settings), settings
    )
    assert params is not None
    assert fs.is_monotone(params)
    assert all(c.weights[-1] >= 0 for c in params.comparisons)
    assert any(c.repaired for c in params.comparisons)


def test_a_fit_stored_before_the_guard_is_stale_and_quality_model_shows_repairs(
    tmp_path: Path,
) -> None:
    url = str(tmp_path / "wh.duckdb")
    model = _model()
    settings = model.dedupe.settings("persons")
    backwards = fs.FellegiSunterParams(
        (fs.ComparisonParams("email", ("different", "exact"), (0.5, 0.5), (0.4, 0.6)),),
        0.01,
        1,
        True,
    )
    with Warehouse.connect(url) as wh:
        load_file(wh, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
        old = stored_fit.save(
            wh, "persons", backwards, settings, records=330, reason="old", now=utc_now()
        )
        assert stored_fit.stale(old, settings, 330) == "weights fall as similarity rises"
        fitted = duplicate_rules.refit(wh, model, "persons", now=utc_now())
        assert fitted is not None
        assert stored_fit.stale(fitted, settings, 330) is None
        repaired = {c.field for c in fitted.params.comparisons if c.repaired}
        history = stored_fit.history(wh).to_pylist()
    assert history[0]["repaired"] == ", ".join(
        c.field for c in fitted.params.comparisons if c.repaired
    )
    assert repaired
    assert history[1]["repaired"] == ""
    shown = CliRunner().invoke(app, ["quality", "model", "-w", url, "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    header, newest, *_ = shown.output.strip().splitlines()
    assert "repaired" in header.split(",")
    assert sorted(repaired)[0] in newest
