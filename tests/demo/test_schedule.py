"""The demo's schedule: steps side by side on their own connections, never before the steps they
follow; a step that reads only some loaded tables started while the others load, beside the
loader, and the forecast reading nothing but the tables it says; the generator in a child
process giving the same files; charts drawn from two threads giving the bytes one thread
gives."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from revops.config import load_config
from revops.context import RevOps
from revops.demo import LAYOUT, generate
from revops.demo.background import Generation
from revops.demo.schedule import Schedule, run_steps
from revops.demo.steps import FORECAST_READS, STEPS, Step
from revops.reports import charts
from revops.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")  # a report's generation time


@pytest.fixture
def ro(tmp_path: Path) -> Any:
    ro = RevOps(load_config(ROOT / "examples" / "revops.yaml"), Warehouse.connect(tmp_path / "w"))
    yield ro
    ro.close()


class Journal:
    """What the fake steps did, in order, and on which connection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.connections: set[int] = set()

    def step(
        self,
        name: str,
        after: tuple[str, ...] = (),
        fail: bool = False,
        reads: frozenset[str] | None = None,
    ) -> Step:
        def run(ro: RevOps, folder: Path) -> str:
            with self.lock:
                self.events.append(("start", name))
                self.connections.add(id(ro.warehouse.con.con))
            time.sleep(0.05)
            if fail:
                raise RuntimeError(f"{name} broke")
            with self.lock:
                self.events.append(("end", name))
            return name.upper()

        return Step(name, name, run, after, reads)

    def started(self) -> list[str]:
        with self.lock:
            return [name for kind, name in self.events if kind == "start"]


def test_steps_start_after_the_steps_they_follow_and_overlap_the_others(
    ro: RevOps, tmp_path: Path
) -> None:
    j = Journal()
    steps = [
        j.step("a"),
        j.step("slow"),
        j.step("b", after=("a",)),
        j.step("c", after=("a", "b")),
        j.step("last", after=("a", "slow", "b", "c")),
    ]
    seen: list[str] = []
    done = run_steps(ro, tmp_path, steps, finished=lambda s, r: seen.append(r))
    assert list(done) == ["a", "slow", "b", "c", "last"]
    assert done["c"] == "C"
    assert sorted(seen) == sorted(done.values())
    position = {event: i for i, event in enumerate(j.events)}
    for s in steps:
        for before in s.after:
            assert position[("end", before)] < position[("start", s.name)], (before, s.name)
    assert position[("start", "slow")] < position[("end", "a")]  # two at a time
    # each step on a connection of its own, none on the command's
    assert len(j.connections) == len(steps)
    assert id(ro.warehouse.con.con) not in j.connections


def test_the_first_error_stops_the_schedule_and_is_raised(ro: RevOps, tmp_path: Path) -> None:
    j = Journal()
    steps = [j.step("a", fail=True), j.step("b"), j.step("c", after=("a",)), j.step("d")]
    with pytest.raises(RuntimeError, match="a broke"):
        run_steps(ro, tmp_path, steps)
    started = [name for kind, name in j.events if kind == "start"]
    assert "c" not in started
    assert ("end", "b") in j.events  # the step running beside it finished


def test_one_worker_runs_in_order_on_the_commands_connection(ro: RevOps, tmp_path: Path) -> None:
    j = Journal()
    steps = [j.step("a"), j.step("b"), j.step("c", after=("a",))]
    run_steps(ro, tmp_path, steps, workers=1)
    assert j.events == [(k, n) for n in "abc" for k in ("start", "end")]
    assert j.connections == {id(ro.warehouse.con.con)}


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_step_reading_loaded_tables_starts_while_the_rest_load_one_beside_the_loader(
    ro: RevOps, tmp_path: Path
) -> None:
    j = Journal()
    deals = frozenset({"opportunities", "users"})
    steps = [
        j.step("early", reads=deals),
        j.step("also_early", reads=frozenset({"users"})),
        j.step("late"),
        j.step("after_early", after=("early",)),
    ]
    told: list[tuple[str, str]] = []
    with Schedule(ro, tmp_path, steps) as schedule:
        schedule.loaded("users")
        _until(lambda: j.started() == ["also_early"])  # its tables are loaded; first ready
        schedule.loaded("opportunities")

        # once also_early has ended, the one worker beside the loader takes early as the next
        # file loads (a step is started as a file is done, never in between)
        def next_file_loaded() -> bool:
            schedule.loaded("persons")
            return j.started() == ["also_early", "early"]

        _until(next_file_loaded)
        assert told == []  # nothing is told while the files load
        done = schedule.finish(
            started=lambda s: told.append(("start", s.name)),
            finished=lambda s, r: told.append(("end", s.name)),
        )
    assert list(done) == ["early", "also_early", "late", "after_early"]
    assert done["early"] == "EARLY"
    # the steps started while loading are told first, in the order of `steps`; one that had
    # already ended is told as ended at once
    assert told[:3] == [("start", "early"), ("start", "also_early"), ("end", "also_early")]
    assert sorted(told) == sorted((k, s.name) for s in steps for k in ("start", "end"))
    position = {event: i for i, event in enumerate(j.events)}
    assert position[("end", "early")] < position[("start", "after_early")]


def test_an_error_while_loading_is_raised_when_the_loading_is_done(
    ro: RevOps, tmp_path: Path
) -> None:
    j = Journal()
    steps = [j.step("early", fail=True, reads=frozenset({"users"})), j.step("late")]
    with Schedule(ro, tmp_path, steps) as schedule:
        schedule.loaded("users")
        _until(lambda: j.started() == ["early"])
        time.sleep(0.1)
        schedule.loaded("persons")  # a later file loads still
        with pytest.raises(RuntimeError, match="early broke"):
            schedule.finish()
    assert j.started() == ["early"]


def test_the_forecast_reads_only_the_tables_it_names(tmp_path: Path) -> None:
    """The forecast on a warehouse holding only FORECAST_READS of the loaded files writes the
    backtests and report it writes once every file is loaded, so it may start that early."""
    from revops.demo.steps import forecast

    files = generate(tmp_path / "files", scale=0.03, seed=7)
    config = load_config(ROOT / "examples" / "revops.yaml")
    outcomes = []
    for name, wanted in (("some", FORECAST_READS), ("all", set(LAYOUT))):
        ro = RevOps(config, Warehouse.connect(tmp_path / name / "w.duckdb"))
        try:
            for f in files:
                if f.table in wanted:
                    ro.load(f.path, f.table, f.preset)
            page = forecast(ro, tmp_path / name).read_text()
            weekly = ro.warehouse.execute(ro.warehouse.table("forecast_backtests"))
        finally:
            ro.close()
        outcomes.append((GENERATED.sub("", page), weekly.drop(columns=["run_at"])))
    (page_some, weekly_some), (page_all, weekly_all) = outcomes
    assert len(weekly_all) > 0
    pd.testing.assert_frame_equal(weekly_some, weekly_all)
    assert page_some == page_all


def test_every_demo_step_follows_only_steps_listed_before_it() -> None:
    """STEPS run one after another in their order is a valid schedule (the benchmarks')."""
    names = [s.name for s in STEPS]
    for i, s in enumerate(STEPS):
        assert set(s.after) <= set(names[:i]), s.name
    assert {"metrics", "automations"} == {s.name for s in STEPS[-2:]}


def test_a_sibling_connection_sees_committed_writes(ro: RevOps) -> None:
    wh = ro.warehouse
    sibling = wh.sibling()
    try:
        users = pa.table({"user_id": ["u1"], "name": ["Ann"], "email": ["a@x.io"]})
        wh.write("users", users)
        assert sibling.count("users") == 1
        sibling.write(
            "territories", pa.table({"territory_id": ["t1"], "name": ["North"], "region": ["NA"]})
        )
        assert wh.count("territories") == 1
    finally:
        sibling.close()
    assert wh.count("users") == 1  # closing the sibling leaves the command's connection open


def _digests(paths: list[Path]) -> list[tuple[str, str]]:
    return [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths]


def test_the_child_process_writes_the_same_files_in_layout_order(tmp_path: Path) -> None:
    here = generate(tmp_path / "here", scale=0.02, seed=3)
    with Generation(tmp_path / "child", scale=0.02, seed=3) as files:
        arrived = list(files)
    assert [f.table for f in arrived] == list(LAYOUT)
    assert _digests([f.path for f in arrived]) == _digests([f.path for f in here])
    truth = sorted((tmp_path / "here" / "truth").iterdir())
    assert _digests(sorted((tmp_path / "child" / "truth").iterdir())) == _digests(truth)


def test_an_error_in_the_child_is_raised_in_the_parent(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="scale must be positive"),
        Generation(tmp_path, scale=-1) as files,
    ):
        list(files)


def test_charts_drawn_from_several_threads_are_the_bytes_one_thread_draws() -> None:
    def draw(i: int) -> str:
        if i % 2:
            return charts.funnel_chart(["MQL", "SQL", "Won"], [100, 40, 10], "Funnel")
        return charts.line_chart(["2026-01", "2026-02"], {"a": [1, 2], "b": [2, 1]}, "Trend")

    alone = [draw(i) for i in range(2)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(draw, range(16)))
    assert together == [alone[i % 2] for i in range(16)]
