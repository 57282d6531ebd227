"""Every CLI option that takes a user resolves an id, an email or a unique name, and an
ambiguous name is an error listing the candidates (revops.people), before anything is done.

Users: u1 Santiago Torres; u2 and u3 both Ana Torres. Each command below is given "Ana Torres"
and must refuse naming both; `tasks list --assignee "santiago torres"` lists u1's task only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from revops.cli import app
from revops.warehouse import Warehouse

AMBIGUOUS = [
    ["route", "pause", "Ana Torres"],
    ["route", "unpause", "Ana Torres"],
    ["route", "capacity", "Ana Torres", "--daily", "5"],
    ["route", "ooo", "Ana Torres", "--from", "2026-01-05T00:00", "--until", "2026-01-09T00:00"],
    ["comp", "adjust", "Ana Torres", "100", "--period", "2026-09", "--note", "fix"],
    ["comp", "approve", "Ana Torres", "--period", "2026-09"],
    ["comp", "dispute", "Ana Torres", "--period", "2026-09", "--note", "split"],
    ["comp", "statement", "Ana Torres", "--period", "2026-09"],
    ["tasks", "list", "--assignee", "Ana Torres"],
    ["pipeline", "hygiene", "--as-of", "2026-10-31", "--rep", "Ana Torres"],
    [
        "forecast", "adjust", "--period", "2026Q4", "--level", "rep", "--subject", "Ana Torres",
        "--category", "commit", "--amount", "1", "--note", "x",
    ],
]  # fmt: skip


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("people") / "wh.duckdb")
    with Warehouse.connect(path) as wh:
        wh.write(
            "users",
            pa.Table.from_pylist(
                [
                    {"user_id": u, "name": n, "team": "SDR", "role": "sdr", "is_active": True}
                    | {"email": f"{u}@co.com", "timezone": "UTC"}
                    for u, n in (
                        ("u1", "Santiago Torres"),
                        ("u2", "Ana Torres"),
                        ("u3", "Ana Torres"),
                    )
                ]
            ),
        )
        task = {"kind": "task", "record_table": "persons", "record_id": "p1"}
        task |= {"automation": "follow_up", "created_at": datetime(2026, 1, 5)}
        wh.write(
            "tasks",
            pa.Table.from_pylist(
                [
                    {"task_id": "t1", "assignee_id": "u1", "title": "Call Rosa"} | task,
                    {"task_id": "t2", "assignee_id": "u2", "title": "Call Dan"} | task,
                ]
            ),
        )
    return path


def _run(url: str, *cmd: str) -> tuple[int, str]:
    cfg = Path(__file__).parents[2] / "examples" / "revops.yaml"
    result = CliRunner().invoke(app, [*cmd, "-c", str(cfg), "-w", url], env={"COLUMNS": "300"})
    return result.exit_code, result.output


@pytest.mark.parametrize("cmd", AMBIGUOUS, ids=lambda c: " ".join(c[:2]))
def test_an_ambiguous_name_is_refused_listing_both(url: str, cmd: list[str]) -> None:
    code, out = _run(url, *cmd)
    assert code == 1, out
    assert "2 users are called 'Ana Torres'" in out
    assert "Ana Torres <u2@co.com> u2; Ana Torres <u3@co.com> u3" in out


def test_tasks_list_takes_a_name_or_an_email(url: str) -> None:
    for who in ("santiago torres", "u1@co.com", "u1"):
        code, out = _run(url, "tasks", "list", "--assignee", who)
        assert code == 0, out
        assert "Call Rosa" in out
        assert "Call Dan" not in out
