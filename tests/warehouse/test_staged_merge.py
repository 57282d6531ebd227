"""A `merge` whose rows come from a `Stage` (spooled a slice at a time, `Warehouse.stage`)
stores and counts what a plain-Python merge of the same rows gives, on DuckDB and PostgreSQL:
new keys inserted, stored rows whose brought columns differ updated (unless older by the
`newer` column), the rest counted unchanged, columns no slice brings left as stored. And the
stage finds and drops repeated keys as a plain reading of its rows does."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.warehouse import Batch, Warehouse, WarehouseError
from revops.warehouse import stage as stage_module
from revops.warehouse import warehouse as warehouse_module
from revops.warehouse.schema import table
from revops.warehouse.stage import POS

T = table("accounts")
COLUMNS = ("account_id", "name", "employees", "created_at")
TYPES = {
    "account_id": pa.string(),
    "name": pa.string(),
    "employees": pa.int64(),
    "created_at": pa.timestamp("us"),
}
Row = dict[str, Any]

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([None, "", "Acme", "Ac,me", 'say "x"']),
    "employees": st.sampled_from([None, 0, 7, 1200]),
    "created_at": st.sampled_from([None, dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2, 9)]),
}
KEYS = st.sampled_from([f"a{i}" for i in range(8)])


def rows(columns: tuple[str, ...]) -> st.SearchStrategy[list[Row]]:
    """Rows with unique keys (a merge batch's keys are unique) and the given columns."""
    row = st.fixed_dictionaries({c: VALUES[c] for c in columns if c != "account_id"})
    return st.dictionaries(KEYS, row, max_size=8).map(
        lambda d: [{"account_id": k, **v} for k, v in d.items()]
    )


def arrow(data: list[Row], columns: tuple[str, ...]) -> pa.Table:
    return pa.table(
        {c: pa.array([r.get(c) for r in data], TYPES[c]) for c in columns},
    )


def model(
    stored: dict[str, Row], batch: list[Row], present: tuple[str, ...], newer: str | None
) -> tuple[dict[str, Row], tuple[int, int, int]]:
    """The merge by the rules of `Warehouse.write_many`."""
    out = {k: dict(v) for k, v in stored.items()}
    inserted = updated = unchanged = 0
    rest = [c for c in present if c != "account_id"]
    for row in batch:
        key = row["account_id"]
        if key not in out:
            out[key] = {c: row.get(c) for c in COLUMNS}
            inserted += 1
            continue
        old = out[key]
        differs = any(old[c] != row.get(c) for c in rest)
        older = (
            newer is not None
            and row.get(newer) is not None
            and old[newer] is not None
            and row[newer] < old[newer]
        )
        if differs and not older:
            old.update({c: row.get(c) for c in rest})
            updated += 1
        else:
            unchanged += 1
    return out, (inserted, updated, unchanged)


def stored_rows(wh: Warehouse) -> dict[str, Row]:
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    return {
        r[0]: dict(zip(COLUMNS, r, strict=True)) for r in wh.sql(f"SELECT {cols} FROM accounts")
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=rows(COLUMNS),
    brought=st.sampled_from(
        [COLUMNS, ("account_id", "name"), ("account_id", "employees", "created_at")]
    ),
    data=st.data(),
    cut=st.lists(st.integers(0, 8), max_size=3),
    newer=st.booleans(),
)
def test_a_staged_merge_agrees_with_a_plain_merge(
    warehouse: Warehouse,
    first: list[Row],
    brought: tuple[str, ...],
    data: st.DataObject,
    cut: list[int],
    newer: bool,
) -> None:
    with warehouse.transaction() as run:
        run('DELETE FROM "accounts"')
    if first:
        warehouse.write("accounts", arrow(first, COLUMNS), "upsert")
    before = stored_rows(warehouse)
    batch = data.draw(rows(brought))
    by = "created_at" if newer and "created_at" in brought else None
    expected, counts = model(before, batch, brought, by)
    table_ = arrow(batch, brought)
    with warehouse.stage("accounts") as stage:
        bounds = sorted({0, table_.num_rows, *(min(c, table_.num_rows) for c in cut)})
        for lo, hi in itertools.pairwise(bounds):
            stage.append(table_.slice(lo, hi - lo), np.arange(lo, hi, dtype=np.int64))
        results = warehouse.write_many(
            [Batch("accounts", stage.empty, "merge", newer=by, stage=stage)] if stage.rows else []
        )
    got = (results[0].inserted, results[0].updated, results[0].unchanged) if results else (0, 0, 0)
    assert got == counts
    assert stored_rows(warehouse) == expected


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=rows(COLUMNS),
    batch=rows(COLUMNS),
    cut=st.lists(st.integers(0, 8), max_size=6),
    per_file_from=st.sampled_from([1, 2, 3, 8]),
)
def test_new_rows_inserted_a_file_at_a_time_are_the_rows_of_one_insert(
    warehouse: Warehouse,
    first: list[Row],
    batch: list[Row],
    cut: list[int],
    per_file_from: int,
) -> None:
    """A staged merge into a table holding none of its keys inserts the rows a file at a time
    once the stage has `_PER_FILE_FROM` files (DuckDB), else in one INSERT: the same rows and
    counts either way, every file's rows included."""
    with warehouse.transaction() as run:
        run('DELETE FROM "accounts"')
    if first:
        warehouse.write("accounts", arrow(first, COLUMNS), "upsert")
    before = stored_rows(warehouse)
    batch = [{**r, "account_id": "new-" + str(r["account_id"])} for r in batch]  # none stored
    expected, counts = model(before, batch, COLUMNS, None)
    table_ = arrow(batch, COLUMNS)
    inserts: list[str] = []
    parts = stage_module.Stage.parts

    def counted(stage: stage_module.Stage) -> Iterator[str]:
        for part in parts(stage):
            inserts.append(part)
            yield part

    with warehouse.stage("accounts") as stage, pytest.MonkeyPatch.context() as mp:
        mp.setattr(warehouse_module, "_PER_FILE_FROM", per_file_from)
        mp.setattr(stage_module.Stage, "parts", counted)
        bounds = sorted({0, table_.num_rows, *(min(c, table_.num_rows) for c in cut)})
        for lo, hi in itertools.pairwise(bounds):
            stage.append(table_.slice(lo, hi - lo), np.arange(lo, hi, dtype=np.int64))
        files = len(stage.files)
        results = warehouse.write_many(
            [Batch("accounts", stage.empty, "merge", stage=stage)] if stage.rows else []
        )
    got = (results[0].inserted, results[0].updated, results[0].unchanged) if results else (0, 0, 0)
    assert got == counts
    assert stored_rows(warehouse) == expected
    per_file = warehouse.backend == "duckdb" and files >= per_file_from
    assert len(inserts) == (files if per_file else 0)


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=30), st.integers(1, 7))
def test_a_stage_finds_and_drops_repeated_keys_as_a_plain_reading_does(
    keys: list[str], size: int
) -> None:
    with Warehouse.connect(":memory:") as wh, wh.stage("accounts") as stage:
        for lo in range(0, len(keys), size):
            part = keys[lo : lo + size]
            # positions skip the file's refused rows: here every other one
            stage.append(pa.table({"account_id": part}), 2 * np.arange(lo, lo + len(part)))
        found = stage.repeated(("account_id",))
        many = {k for k in keys if keys.count(k) > 1}
        expected = [(k, 2 * i) for i, k in enumerate(keys) if k in many]
        assert (
            list(zip(found.column(0).to_pylist(), found.column(POS).to_pylist(), strict=True))
            == expected
        )
        last = {k: i for i, k in enumerate(keys)}
        gone = np.array([2 * i for i, k in enumerate(keys) if last[k] != i], dtype=np.int64)
        stage.drop(gone)
        assert stage.rows == len(last)
        kept = [k for batch in stage.batches() for k in batch.column("account_id").to_pylist()]
        assert sorted(kept) == sorted(last)
        assert sorted(stage.keys("account_id").to_pylist()) == sorted(last)


def test_a_stage_is_refused_on_spark_writes() -> None:
    """A staged batch names rows only DuckDB and PostgreSQL read (Spark stages its own)."""
    with Warehouse.connect(":memory:") as wh, wh.stage("accounts") as stage:
        wh.backend = "spark"  # only the guard is under test: no Spark session is needed
        with pytest.raises(WarehouseError, match="not Spark"):
            wh.write_many([Batch("accounts", stage.empty, "merge", stage=stage)])
        wh.backend = "duckdb"


def test_a_stage_lives_beside_a_duckdb_file_and_is_removed_after(tmp_path: Path) -> None:
    with Warehouse.connect(tmp_path / "w.duckdb") as wh:
        with wh.stage("accounts") as stage:
            stage.append(pa.table({"account_id": ["a1"]}), np.array([0]))
            assert stage.folder.parent == tmp_path.resolve()
            assert list(stage.folder.glob("*.parquet"))
        assert not stage.folder.exists()
        with pytest.raises(RuntimeError), wh.stage("accounts") as failed:
            raise RuntimeError("a load failing mid-read")
        assert not failed.folder.exists()


def test_a_stage_never_holds_pii_in_clear_and_the_merge_stores_it_as_given(
    warehouse: Warehouse,
) -> None:
    """A warehouse without REVOPS_PII_KEY stores persons' emails in clear, but the stage's
    files (on disk for the load's length, left behind by a killed load) hold them sealed: no
    byte of the plaintext is in any file, and the merge stores exactly the values given."""
    people = pa.table(
        {
            "person_id": ["p1", "p2", "p3"],
            "email": ["ada.lovelace@example.com", None, "grace@example.org"],
            "first_name": ["Ada", "Grace", None],
            "phone": ["+44 20 7946 0958", None, None],
        }
    )
    with warehouse.stage("persons") as stage:
        stage.append(people.slice(0, 2), np.array([0, 1]))
        stage.append(people.slice(2), np.array([2]))
        assert stage.sealed == ("email", "first_name", "last_name", "phone")
        files = b"".join(p.read_bytes() for p, _, _ in stage.files)
        for secret in ("ada.lovelace", "grace@example.org", "Ada", "Grace", "7946"):
            assert secret.encode() not in files, secret
        warehouse.write_many([Batch("persons", stage.empty, "merge", stage=stage)])
    stored = warehouse.sql("SELECT person_id, email, first_name, phone FROM persons ORDER BY 1")
    assert stored == [
        ("p1", "ada.lovelace@example.com", "Ada", "+44 20 7946 0958"),
        ("p2", None, "Grace", None),
        ("p3", "grace@example.org", None, None),
    ]


def _dead_pid() -> int:
    """The id of a process that has ended (and was reaped): no process holds it now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_stage_is_swept_by_the_next_and_live_ones_are_not(tmp_path: Path) -> None:
    """A load killed mid-stage leaves its folder (nothing runs its `finally`); the next stage
    made there removes it, but never a live process's stage (another warehouse in the same
    folder), another machine's (a shared volume), or a folder of some other name."""
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, numpy as np, pyarrow as pa\n"
            "from revops.warehouse import Warehouse\n"
            f"wh = Warehouse.connect({str(tmp_path / 'a.duckdb')!r})\n"
            "with wh.stage('accounts') as stage:\n"
            "    stage.append(pa.table({'account_id': ['a1']}), np.array([0]))\n"
            "    print(stage.folder, flush=True)\n"
            "    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert killed.stdout is not None
    left = Path(killed.stdout.readline().strip())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        killed.kill()
        killed.wait()
        assert list(left.glob("*.parquet"))  # the killed load's rows are still on disk
        host = stage_module._host()
        live = tmp_path / f"revops-stage-{host}-{sleeper.pid}-accounts-live"
        elsewhere = tmp_path / f"revops-stage-0000abcd-{_dead_pid()}-accounts-x"
        gone = tmp_path / f"revops-stage-{host}-{_dead_pid()}-persons-y"
        other = tmp_path / "revops-stage-accounts-old"
        for folder in (live, elsewhere, gone, other):
            folder.mkdir()
        with Warehouse.connect(tmp_path / "b.duckdb") as wh, wh.stage("accounts") as stage:
            assert stage.folder.exists()
            assert [f.exists() for f in (left, gone)] == [False, False]
            assert [f.exists() for f in (live, elsewhere, other)] == [True, True, True]
        assert not stage.folder.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


class _Hook:
    """A write hook reading `reads` (every table when None), from the stage's files if
    `reads_stages`."""

    def __init__(self, reads: frozenset[str] | None, reads_stages: bool = False) -> None:
        if reads is not None:
            self.reads = reads
        self.reads_stages = reads_stages

    def __call__(self, written: Any) -> list[Batch]:
        return []


def test_a_write_may_stage_only_what_no_hook_reads_from_the_batches(
    warehouse: Warehouse,
) -> None:
    """`may_stage`: with no hook, or hooks that read other tables, a table may be staged; a
    hook that reads it from `Batch.data` (or names no tables: it reads all) forbids it; one
    that reads stages through `staged_table` allows it (DuckDB reads the files, PostgreSQL a
    copy of them)."""
    wh = warehouse
    assert wh.may_stage("sla_clocks", "persons")
    cases = [  # the hook; may_stage of (sla_clocks, persons), of sla_clocks alone
        (_Hook(frozenset({"accounts"})), True, True),
        (_Hook(frozenset({"persons"})), False, True),
        (_Hook(None), False, False),
        (_Hook(frozenset({"persons"}), reads_stages=True), True, True),
    ]
    for hook, both, clocks in cases:
        wh.write_hooks.append(hook)
        try:
            assert wh.may_stage("sla_clocks", "persons") == both, vars(hook)
            assert wh.may_stage("sla_clocks") == clocks, vars(hook)
        finally:
            wh.write_hooks.remove(hook)
