"""A CSV export loaded a slice at a time (`revops.ingest.streamed`) stores, quarantines, logs
and reports exactly what the whole-file load does: the same rows whatever the slice size, with
ids repeated within and across slices, bad cells, broken rows, blank lines, deleted rows,
lifecycle events, normalized sources, reloads onto stored rows and delta rows older than the
stored ones. Whole-file loads are forced by making nothing streamable."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import revops.ingest.load as load_module
from revops.config import load_config
from revops.config.dedupe import DedupeConfig
from revops.config.models import OperatingModel
from revops.ingest import csvfile, streamed
from revops.ingest.load import load_file
from revops.ingest.report import LoadReport
from revops.ingest.sourced import find_mapping
from revops.warehouse import Warehouse
from revops.warehouse import table as tbl

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
# the example's persons duplicate rules would send persons to the whole-file path
MODEL = load_config(EXAMPLE).model.model_copy(update={"dedupe": DedupeConfig()})

# columns compared: everything but load ids and wall-clock times
TABLES = {
    "persons": "person_id",
    "opportunities": "opportunity_id",
    "lifecycle_events": "event_id",
    "source_deletions": "record_id",
    "quarantine": "row_number",
    "quality_changes": "record_id",
    "load_log": "file",
}
SKIP = {"load_id", "loaded_at", "quarantined_at", "deleted_at", "change_id", "fix_run_id"}
SKIP |= {"changed_at"}
REPORT = (
    "rows_in",
    "inserted",
    "updated",
    "unchanged",
    "quarantined",
    "known_quarantined",
    "duplicates",
    "duplicate_ids",
    "deleted",
    "ignored",
    "blank_lines",
    "problems",
    "ignored_columns",
)


@contextmanager
def whole_file() -> Iterator[None]:
    with mock.patch.object(load_module, "streamable", return_value=False):
        yield


@contextmanager
def tiny_slices(rows: int) -> Iterator[list[int]]:
    """Slices of about `rows` rows (the reader's blocks made tiny too); yields a list that
    counts the streamed loads, so a test knows the sliced path ran."""
    calls: list[int] = []
    real = load_module._load_sliced

    def counted(*args: Any, **kwargs: Any) -> LoadReport:
        calls.append(1)
        return real(*args, **kwargs)

    with (
        mock.patch.object(streamed, "SLICE_ROWS", rows),
        mock.patch.object(csvfile, "_BLOCK", 256),
        mock.patch.object(load_module, "_load_sliced", counted),
    ):
        yield calls


def stored(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for name, order in TABLES.items():
        cols = [c for c in sorted(wh.columns()[name]) if c not in SKIP]
        sel = ", ".join(f'"{c}"' for c in cols)
        rows = wh.sql(f'SELECT {sel} FROM "{name}"')
        out[name] = sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))
        assert order in cols
    return out


def counts(report: LoadReport) -> tuple[Any, ...]:
    return tuple(getattr(report, f) for f in REPORT)


# -- random exports ------------------------------------------------------------------------------
STAMPS = ["2026-01-05T10:00:00Z", "2026-01-06 09:30", "2026-01-04T08:00:00Z", ""]
SOURCES = ["Paid Search", "PPC", "carrier_pigeon", "referral", ""]
COUNTRIES = ["us", "Germany", "U.K.", "Narnia", ""]


@st.composite
def persons_csv(draw: st.DrawFn) -> str:
    """persons rows: few ids (repeats), bad emails and dates, missing ids, broken rows and
    blank lines; updated_at so a reload's older rows are left alone."""
    lines = ["person_id,email,source,country,created_at,updated_at"]
    for _ in range(draw(st.integers(0, 24))):
        kind = draw(
            st.sampled_from(["good"] * 5 + ["email", "date", "noid", "short", "long", "blank"])
        )
        pid = f"p{draw(st.integers(0, 6))}"
        row = [
            pid,
            f"{pid}@x.com" if kind != "email" else "bob@",
            draw(st.sampled_from(SOURCES)),
            draw(st.sampled_from(COUNTRIES)),
            "2026-01-01" if kind != "date" else "2026-02-30",
            draw(st.sampled_from(STAMPS)),
        ]
        if kind == "noid":
            row[0] = ""
        elif kind == "short":
            row = row[:3]
        elif kind == "long":
            row = [*row, "extra"]
        lines.append(draw(st.sampled_from(["", "  "])) if kind == "blank" else _line(row))
    return "\n".join(lines) + "\n"


@st.composite
def opportunities_csv(draw: st.DrawFn) -> str:
    """Salesforce opportunities: deleted rows (IsDeleted), won deals naming a contact (their
    lifecycle events), bad amounts and dates, repeated ids."""
    header = "Id,AccountId,OwnerId,Type,StageName,Amount,CreatedDate,CloseDate,IsClosed,IsWon,"
    lines = [header + "ContactId,IsDeleted"]
    for _ in range(draw(st.integers(0, 20))):
        oid = f"o{draw(st.integers(0, 5))}"
        won = draw(st.booleans())
        row = [
            oid,
            "a1",
            "u1",
            draw(st.sampled_from(["New Business", "Renewal", "Nonsense Type"])),
            "Closed Won" if won else "Prospecting",
            draw(st.sampled_from(["100", "2,500.50", "lots", ""])),
            "2026-01-02",
            draw(st.sampled_from(["2026-03-01", "2026-13-01", "2026-02-15"])),
            "true" if won else "false",
            "true" if won else "false",
            draw(st.sampled_from(["p1", "p2", ""])),
            draw(st.sampled_from(["false", "false", "false", "true"])),
        ]
        lines.append(_line(row))
    return "\n".join(lines) + "\n"


def _line(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(row)
    return buf.getvalue()


Load = tuple[str, str, str | None, OperatingModel | None]  # text, table, preset, model


def run(loads: list[Load], folder: Path, mode: Callable[[], Any]) -> tuple[Any, ...]:
    """Every load into one fresh DuckDB warehouse under `mode`; what is stored, and reports."""
    with Warehouse.connect(":memory:") as wh, mode() as streamed_calls:
        reports = []
        for i, (text, table, preset, model) in enumerate(loads):
            path = folder / f"{i}-{table}.csv"
            path.write_text(text, encoding="utf-8")
            reports.append(counts(load_file(wh, path, table, preset, model=model)))
        return stored(wh), reports, streamed_calls


@settings(max_examples=40)
@given(
    st.lists(
        st.one_of(
            persons_csv().map(lambda t: (t, "persons", None, MODEL)),
            persons_csv().map(lambda t: (t, "persons", None, None)),
            opportunities_csv().map(lambda t: (t, "opportunities", "salesforce", None)),
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(1, 4),
)
def test_a_sliced_load_stores_and_reports_what_the_whole_file_load_does(
    loads: list[Load], rows: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole, whole_reports, _ = run(loads, folder, whole_file)
        sliced, sliced_reports, calls = run(loads, folder, lambda: tiny_slices(rows))
    assert len(calls) == len(loads)  # every load went through the sliced path
    assert sliced == whole
    assert sliced_reports == whole_reports


# -- on both backends ----------------------------------------------------------------------------
FIRST = (
    "person_id,email,source,country,created_at,updated_at\n"
    "p1,a@x.com,Paid Search,us,2026-01-01,2026-01-05T10:00:00Z\n"
    "p2,bob@,PPC,Germany,2026-01-01,2026-01-05T10:00:00Z\n"
    "   \n"
    "p2,b@x.com,PPC,Germany,2026-01-01,2026-01-05T10:00:00Z\n"
    "p3,c@x.com,carrier_pigeon,U.K.,2026-01-01,\n"
    "p1,a2@x.com,referral,Narnia,2026-01-01,2026-01-06T10:00:00Z\n"
    "p4,d@x.com,referral\n"
    "p2,b3@x.com,Web,us,2026-01-01,2026-01-05T11:00:00Z\n"
)
AGAIN = (
    "person_id,email,source,country,created_at,updated_at\n"
    "p1,old@x.com,referral,Narnia,2026-01-01,2026-01-01T10:00:00Z\n"  # older: left alone
    "p3,c9@x.com,carrier_pigeon,U.K.,2026-01-01,2026-01-07T10:00:00Z\n"
    "p5,e@x.com,PPC,us,2026-01-01,2026-01-07T10:00:00Z\n"
)


def test_a_sliced_load_repeats_ids_across_slices_on_each_backend(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Read from a plain reading of FIRST and AGAIN: the last good row of an id wins, its
    earlier rows are reported with their row numbers, older delta rows change nothing."""
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    first.write_text(FIRST)
    again.write_text(AGAIN)
    with tiny_slices(1) as calls:
        one = load_file(warehouse, first, "persons", model=MODEL)
        two = load_file(warehouse, again, "persons", model=MODEL)
    assert len(calls) == 2
    # rows: 1 p1, 2 p2 (bad email), 3 p2, 4 p3, 5 p1, 6 p4 (broken), 7 p2; one blank line
    assert (one.rows_in, one.quarantined, one.duplicates, one.blank_lines) == (7, 2, 2, 1)
    assert one.duplicate_ids == (("p1", (1, 5)), ("p2", (3, 7)))
    assert (one.inserted, one.updated) == (3, 0)
    assert (two.inserted, two.updated, two.unchanged) == (1, 1, 1)
    rows = warehouse.sql("SELECT person_id, email, source, country FROM persons ORDER BY 1")
    assert rows == [
        ("p1", "a2@x.com", "referral", "Narnia"),
        ("p2", "b3@x.com", "other", "US"),
        ("p3", "c9@x.com", "other", "GB"),
        ("p5", "e@x.com", "paid_search", "US"),
    ]
    numbers = warehouse.sql("SELECT row_number, field FROM quarantine ORDER BY 1")
    assert numbers == [(2, "email"), (6, "(row)")]
    changes = warehouse.sql(
        "SELECT record_id, field, before, after FROM quality_changes "
        "WHERE fix_run_id = '" + one.load_id + "' ORDER BY change_id"
    )
    # sources first, then countries, each in row order; p1's and p2's earlier rows made none
    assert changes == [
        ("p3", "source", "carrier_pigeon", "other"),
        ("p2", "source", "Web", "other"),
        ("p3", "country", "U.K.", "GB"),
        ("p2", "country", "us", "US"),
    ]
    log = warehouse.sql(
        "SELECT rows_in, inserted, quarantined, duplicates FROM load_log ORDER BY 1"
    )
    assert log == [(3, 1, 0, 0), (7, 3, 2, 2)]


class _Hook:
    """A write hook that reads the rows written to `reads` (or to any table, without it)."""

    def __init__(self, reads: frozenset[str] | None) -> None:
        if reads is not None:
            self.reads = reads

    def __call__(self, written: object) -> list[object]:
        return []


def test_what_needs_the_whole_file_is_read_whole(tmp_path: Path) -> None:
    full = load_config(EXAMPLE).model  # with the persons and accounts duplicate rules
    csv_file, jsonl = tmp_path / "x.csv", tmp_path / "x.jsonl"
    parquet = tmp_path / "x.parquet"
    with Warehouse.connect(":memory:") as wh:

        def able(path: Path, table: str, preset: str | None, model: OperatingModel | None) -> bool:
            _, mapping = find_mapping(preset, table, model)
            return streamed.streamable(wh, path, tbl(table), mapping, model, replay=False)

        assert able(csv_file, "opportunities", "salesforce", None)
        assert able(csv_file, "persons", None, MODEL)
        assert able(jsonl, "persons", None, None)  # JSON lines: see test_jsonl_sliced.py
        assert not able(parquet, "persons", None, None)
        assert not able(
            csv_file, "opportunity_stage_history", "salesforce.OpportunityFieldHistory", None
        )
        assert not able(csv_file, "persons", None, full)  # duplicate rules
        assert not able(csv_file, "accounts", None, full)
        assert streamed.streamable(wh, csv_file, tbl("persons"), None, None, replay=True) is False
        wh.write_hooks = [_Hook(frozenset({"consent_ledger"}))]
        assert able(csv_file, "opportunities", "salesforce", None)
        wh.write_hooks = [_Hook(frozenset({"opportunities"}))]
        assert not able(csv_file, "opportunities", "salesforce", None)
        wh.write_hooks = [_Hook(None)]  # reads who knows what
        assert not able(csv_file, "opportunities", "salesforce", None)


def test_a_sliced_load_failing_mid_file_leaves_the_warehouse_as_it_was(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices already staged never reach the warehouse: the load is still one transaction, and
    its stage folder goes too. The stage (of a warehouse in memory or on PostgreSQL) goes to
    the temporary folder, this test's own here: other tests' live stages are not its concern."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    again, first = tmp_path / "again.csv", tmp_path / "first.csv"
    again.write_text(AGAIN)
    first.write_text(FIRST)
    with tiny_slices(1):
        load_file(warehouse, again, "persons", model=MODEL)
    before = stored(warehouse)
    real = streamed.validate
    seen: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) == 2:
            assert len(list(spool.glob("revops-stage-*"))) == 1  # the first slice is staged
            raise KeyboardInterrupt  # Ctrl-C on the second slice
        return real(*args, **kwargs)

    with (
        tiny_slices(1),
        mock.patch.object(streamed, "validate", failing),
        pytest.raises(KeyboardInterrupt),
    ):
        load_file(warehouse, first, "persons", model=MODEL)
    assert stored(warehouse) == before
    assert not list(spool.iterdir())
