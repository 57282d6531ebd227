"""The demo's schedule: steps side by side on their own connections, never before the steps they
follow; the generator in a child process giving the same files; charts drawn from two threads
giving the bytes one thread gives."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from revops.config import load_config
from revops.context import RevOps
from revops.demo import LAYOUT, generate
from revops.demo.background import Generation
from revops.demo.schedule import run_steps
from revops.demo.steps import STEPS, Step
from revops.reports import charts
from revops.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]


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

    def step(self, name: str, after: tuple[str, ...] = (), fail: bool = False) -> Step:
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

        return Step(name, name, run, after)


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
