"""Rep operations (pause, unpause, out of office, capacity) applied by routing, and the CLI.

Order pool [a, b, c], all UTC, config pausing c. Operations in order: pause a; capacity b
daily 1; unpause c (overrides the config); out of office c Tue 2025-06-10 10:00-12:00; pause
a again, then unpause a. At Tue 11:00 three leads: a (unpaused, available) → a; next b → b
(b 1 of 1); next c is out of office, a is next → a. At 12:30 (c back, b at cap): pointer
after a → b is at cap → c.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from revops.config.routing import RoutingConfig
from revops.errors import RevOpsError
from revops.routing import RoutingState, UserInfo, route
from revops.routing.reps import apply_operations, operation, statuses
from revops.warehouse import Warehouse

CFG = RoutingConfig.model_validate(
    {
        "paused": ["c"],
        "pools": [{"name": "p", "members": [{"user_id": u} for u in "abc"]}],
        "rules": [{"name": "all", "pool": "p"}],
    }
)


def tue(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, 10, hour, minute, tzinfo=UTC)


OPS = [
    operation("a", "pause", "ops", tue(8)),
    operation("b", "capacity", "ops", tue(8, 1), daily_cap=1),
    operation("c", "unpause", "ops", tue(8, 2)),
    operation("c", "ooo", "ops", tue(8, 3), starts_at=tue(10), ends_at=tue(12)),
    operation("a", "pause", "ops", tue(8, 4)),
    operation("a", "unpause", "ops", tue(8, 5)),
]


def test_operations_shape_the_routing_state() -> None:
    found = statuses(OPS, CFG.paused)
    assert {u: s.paused for u, s in found.items()} == {"a": False, "b": False, "c": False}
    assert (found["b"].daily_cap, found["b"].weekly_cap) == (1, None)
    state = apply_operations(RoutingState.initial([UserInfo(u) for u in "abc"], CFG), OPS)
    owners = []
    for when in (tue(11), tue(11), tue(11), tue(12, 30)):
        d = route({"person_id": "x"}, None, state, CFG, when)
        state = d.state
        owners.append(d.owner_id)
    assert owners == ["a", "b", "a", "c"]


def test_operations_are_checked() -> None:
    with pytest.raises(RevOpsError, match="start and an end after it"):
        operation("a", "ooo", "ops", tue(8), starts_at=tue(12), ends_at=tue(10))
    with pytest.raises(RevOpsError, match="capacity needs a daily or a weekly cap"):
        operation("a", "capacity", "ops", tue(8))


def test_cli_pause_ooo_capacity_by_name_and_audited(tmp_path: Path) -> None:
    from revops.cli import app

    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
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
    cfg = tmp_path / "revops.yaml"
    cfg.write_text((Path(__file__).parents[2] / "examples" / "revops.yaml").read_text())
    args = ["-c", str(cfg), "-w", url]
    runner = CliRunner()

    def run(*cmd: str) -> tuple[int, str]:
        result = runner.invoke(app, [*cmd, *args], env={"COLUMNS": "200"})
        return result.exit_code, result.output

    code, out = run("route", "pause", "santiago torres", "--reason", "sick")
    assert code == 0, out
    assert "Santiago Torres (u1): pause recorded" in out
    code, out = run("route", "pause", "Ana Torres")
    assert code == 1
    assert "2 users are called 'Ana Torres'" in out
    assert "Ana Torres <u2@co.com> u2; Ana Torres <u3@co.com> u3" in out
    code, out = run("route", "capacity", "u2@co.com", "--daily", "5")
    assert code == 0, out
    code, out = run("route", "ooo", "u3", "--from", "2025-06-10T10:00", "--until", "2025-06-09")
    assert code == 1
    assert "out of office needs a start and an end after it" in out
    with Warehouse.connect(url) as wh:
        ops = wh.to_arrow(wh.table("rep_operations").order_by("recorded_at")).to_pylist()
        assert [(o["user_id"], o["operation"], o["daily_cap"]) for o in ops] == [
            ("u1", "pause", None),
            ("u2", "capacity", 5),
        ]
        actions = wh.to_arrow(wh.table("audit_log").select("action", "subject")).to_pylist()
        assert {(a["action"], a["subject"]) for a in actions} >= {
            ("reps.pause", "u1"),
            ("reps.capacity", "u2"),
        }
        assert wh.count("config_versions") == 0
    # the shipped model's pools name CRM ids this warehouse does not have: validate -w, plan
    # and apply all refuse it, each unknown id with its line and key
    text = cfg.read_text().splitlines()
    first = 1 + text.index("        - {user_id: 0055g00N00000GzAEI, weight: 2}")
    ooo = 1 + next(
        i for i, line in enumerate(text) if "{user_id: 0055g00N00000H1AEI, start" in line
    )
    member = (
        f"{cfg}:{first}: routing.pools[0] (na_sdr).members[0].user_id: "
        "unknown user '0055g00N00000GzAEI' (pool na_sdr)"
    )
    away = f"{cfg}:{ooo}: routing.out_of_office[0].user_id: unknown user '0055g00N00000H1AEI'"
    for cmd in (
        ["config", "validate", str(cfg), "-w", url],
        ["plan", str(cfg), *args],
        ["apply", str(cfg), "--approved-by", "Ana", "--reason", "pools", *args],
    ):
        result = runner.invoke(app, cmd, env={"COLUMNS": "400"})
        assert result.exit_code == 1, (cmd, result.output)
        assert "routing names users the warehouse does not know:" in result.output
        assert member in result.output, cmd
        assert away in result.output, cmd
    with Warehouse.connect(url) as wh:
        assert wh.count("config_versions") == 0
