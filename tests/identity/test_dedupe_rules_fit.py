"""The stored fit duplicate rules reuse, on DuckDB and PostgreSQL: fitted once, reused by later
loads (so their decisions do not move with the population), refitted only for a stated
reason, and shown by `revops quality model`."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_dedupe_rules import HEADER, _incoming, _model, _stored_rows, _write
from typer.testing import CliRunner

from revops.cli import app
from revops.config.dedupe import DuplicateRule
from revops.identity import duplicate_rules, stored_fit
from revops.identity import fellegi_sunter as fs
from revops.identity.dedupe import prepare, read_records
from revops.identity.duplicate_rules import check_new_records
from revops.ingest import load_file
from revops.warehouse import Warehouse, table
from revops.warehouse.clock import utc_now
from revops.warehouse.warehouse import arrow_schema

RULE = DuplicateRule(name="alert", table="persons", action="allow", threshold=0.9)


def _fits(wh: Warehouse) -> list[tuple[str, int, str]]:
    return wh.sql("SELECT target_table, records, reason FROM dedupe_models ORDER BY fitted_at")


def _rows(rows: list[list[str]]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(HEADER, r, strict=True)) for r in rows])


def _empty(wh: Warehouse) -> None:
    wh.write("persons", arrow_schema(table("persons")).empty_table(), "replace")


def _others(n: int) -> list[list[str]]:
    """`n` people unlike any stored one (their own names, emails, phones and company)."""
    return [
        [
            f"x{i:04d}",
            f"other{i}@unrelated{i}.org",
            f"Zed{i}",
            f"Quux{i}",
            f"Unrelated {i} GmbH",
            f"+49 30 {1000000 + i}",
            "organic",
            "2024-02-15 00:00:00",
        ]
        for i in range(n)
    ]


def test_first_check_fits_and_stores_later_checks_reuse(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    model = _model(RULE)
    first = check_new_records(warehouse, model, "persons", _rows(_incoming()))
    assert _fits(warehouse) == [("persons", 333, "first fit")]  # stored plus incoming
    fit = stored_fit.latest(warehouse, "persons")
    assert fit is not None
    assert fit.settings_hash == stored_fit.settings_hash(model.dedupe.persons)
    again = check_new_records(warehouse, model, "persons", _rows(_incoming()))
    assert again == first
    assert len(_fits(warehouse)) == 1
    assert stored_fit.latest(warehouse, "persons") == fit  # read back exactly, λ and all


def test_a_load_decides_the_same_whatever_arrived_since_the_fit(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Refitting per load let each load's λ move with every record added (on data with few
    duplicates EM does not converge and λ jumped by 60x for one record of 150,000); with the
    stored fit, what a row is judged against is the stored records and the fit, nothing else."""
    load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    model = _model(RULE)
    before = check_new_records(warehouse, model, "persons", _rows(_incoming()))
    fit = stored_fit.latest(warehouse, "persons")
    # 200 unrelated people arrive (330 → 530 stored, under GROWTH × 333): the fit holds
    load_file(warehouse, _write(tmp_path / "others.csv", _others(200)), "persons", model=model)
    after = check_new_records(warehouse, model, "persons", _rows(_incoming()))
    assert stored_fit.latest(warehouse, "persons") == fit
    assert after.to_pylist() == before.to_pylist()
    assert after.column("matched_id").to_pylist() == ["p0005", None, "p0010"]


def test_refit_when_settings_change_or_records_outgrow_the_fit(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    model = _model(RULE)
    check_new_records(warehouse, model, "persons", _rows(_incoming()))
    # a threshold only reads the fit: no refit
    looser = model.dedupe.persons.model_copy(update={"review_threshold": 0.5})
    same = model.model_copy(update={"dedupe": model.dedupe.model_copy(update={"persons": looser})})
    check_new_records(warehouse, same, "persons", _rows(_incoming()))
    assert len(_fits(warehouse)) == 1
    # what the fit is made of changed: refit
    other = model.dedupe.persons.model_copy(update={"u_sample_pairs": 50_000})
    changed = model.model_copy(
        update={"dedupe": model.dedupe.model_copy(update={"persons": other})}
    )
    check_new_records(warehouse, changed, "persons", _rows(_incoming()))
    assert _fits(warehouse)[-1] == ("persons", 333, "dedupe settings changed")
    # stored records grow past GROWTH × 333: refit on stored plus incoming
    load_file(warehouse, _write(tmp_path / "others.csv", _others(400)), "persons")
    check_new_records(warehouse, changed, "persons", _rows(_incoming()))
    assert _fits(warehouse)[-1] == ("persons", 733, "records grew from 333 to 730")


@given(records=st.integers(1, 10**7), stored=st.integers(0, 10**8))
def test_stale_exactly_when_stored_records_outgrow_the_fit(records: int, stored: int) -> None:
    settings = _model().dedupe.persons
    params = fs.FellegiSunterParams((), 0.01, 1, True)
    fit = stored_fit.StoredFit(
        "persons", utc_now(), records, stored_fit.settings_hash(settings), "", params
    )
    reason = stored_fit.stale(fit, settings, stored)
    assert (reason is not None) == (stored > stored_fit.GROWTH * records)
    assert stored_fit.stale(None, settings, stored) == "first fit"


def test_first_load_into_an_empty_table_fits_when_big_enough(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _write(tmp_path / "stored.csv", _stored_rows())
    load_file(warehouse, file, "persons", model=_model())  # no rule for persons: no fit
    assert _fits(warehouse) == []
    _empty(warehouse)
    load_file(warehouse, file, "persons", model=_model(RULE))  # 330 < MIN_RECORDS
    assert _fits(warehouse) == []
    _empty(warehouse)
    monkeypatch.setattr(duplicate_rules, "MIN_RECORDS", 300)
    report = load_file(warehouse, file, "persons", model=_model(RULE))
    assert (report.inserted, report.quarantined) == (330, 0)  # nothing stored to be dupes of
    assert _fits(warehouse) == [("persons", 330, "first fit")]
    # the next load screens with that fit and fits nothing. (On these 330 records, with no
    # pair agreeing on email or on an exact first name, the fit cannot learn what those
    # agreements mean, so it is not asked to judge the exact copies here: the FEBRL test in
    # test_dedupe_rules_same checks decisions made with a fit of the stored records.)
    new = _write(tmp_path / "new.csv", _incoming())
    report = load_file(warehouse, new, "persons", model=_model(RULE))
    assert report.rows_in == report.inserted + report.quarantined == 3
    assert len(_fits(warehouse)) == 1


def test_quality_model_shows_when_the_model_was_fitted_and_refits_on_request(
    tmp_path: Path,
) -> None:
    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
        load_file(wh, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    runner = CliRunner()
    empty = runner.invoke(app, ["quality", "model", "-w", url])
    assert empty.exit_code == 0, empty.output
    assert "No model fitted yet" in empty.output
    done = runner.invoke(app, ["quality", "model", "--refit", "-t", "persons", "-w", url])
    assert done.exit_code == 0, done.output
    assert "persons: fitted on 330 records" in done.output
    shown = runner.invoke(app, ["quality", "model", "-w", url, "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    with Warehouse.connect(url) as wh:
        ((fitted_at,),) = wh.sql("SELECT fitted_at FROM dedupe_models")
    lines = shown.output.strip().splitlines()
    assert lines[0].startswith("table,fitted_at,records,reason,lambda")
    assert lines[1].startswith(f"persons,{fitted_at:%Y-%m-%d %H:%M:%S}")
    assert lines[1].endswith(",in use")
    dedupe = runner.invoke(app, ["quality", "dedupe", "-t", "persons", "-w", url])
    assert dedupe.exit_code == 0, dedupe.output
    with Warehouse.connect(url) as wh:
        assert _fits(wh) == [("persons", 330, "requested"), ("persons", 330, "quality dedupe")]


def test_decisions_do_not_depend_on_the_order_records_were_stored_in(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Two stored records equal to an incoming one tie: the smaller id wins, however the
    table was written, and the stored fit is the same (its sample is drawn in key order)."""
    rows = _stored_rows()
    twin = ["a0005", *rows[5][1:]]  # p0005 entered again under a smaller id
    model = _model(RULE)
    outcomes = []
    for order in ([*rows, twin], [twin, *reversed(rows)]):
        _empty(warehouse)
        warehouse.write(
            "dedupe_models", arrow_schema(table("dedupe_models")).empty_table(), "replace"
        )
        load_file(warehouse, _write(tmp_path / "stored.csv", order), "persons")
        out = check_new_records(warehouse, model, "persons", _rows(_incoming()))
        fit = stored_fit.latest(warehouse, "persons")
        assert fit is not None
        outcomes.append((out.to_pylist(), fit.params))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][0]["matched_id"] == "a0005"


def test_a_threshold_no_pair_can_reach_is_answered_without_the_stored_records(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a fit whose best pattern (every field at its best weight) stays below the rule's
    bar, no pair can fire it: the join's own filter keeps none, and the check says so without
    reading, normalizing or joining the stored records."""
    load_file(warehouse, _write(tmp_path / "stored.csv", _stored_rows()), "persons")
    model = _model(RULE)
    settings = model.dedupe.persons
    check_new_records(warehouse, model, "persons", _rows(_incoming()))  # fits, finds p0005
    fit = stored_fit.latest(warehouse, "persons")
    assert fit is not None
    assert duplicate_rules._can_reach(fit.params, RULE.threshold)
    rare = dataclasses.replace(fit.params, lambda_=1e-30)  # a bar of about 100 bits
    assert not duplicate_rules._can_reach(rare, RULE.threshold)
    stored = read_records(warehouse, model, "persons")
    new = duplicate_rules._incoming(_rows(_incoming()), "persons", settings)
    both = pa.concat_tables([stored, new.cast(stored.schema)])
    left, _ = duplicate_rules._reaching(prepare(both, settings), settings, rare, 0.9, 330)
    assert len(left) == 0  # the filter inside the join agrees
    later = fit.fitted_at + timedelta(days=1)
    stored_fit.save(warehouse, "persons", rare, settings, records=333, reason="test", now=later)

    def unread(*_: object) -> pa.Table:
        raise AssertionError("the stored records were read")

    monkeypatch.setattr(duplicate_rules, "read_records", unread)
    out = check_new_records(warehouse, model, "persons", _rows(_incoming()))
    assert out.column("record_id").to_pylist() == ["n1", "n2", "n3"]
    assert out.column("matched_id").to_pylist() == [None, None, None]
    assert out.column("probability").null_count == 3
