"""`revops route run` and `revops route explain` with the example operating model.

One NA SDR (0055g00N00000GzAEI, "Rep", New York) exists; the others in the example's na_sdr
pool are unknown here and skipped. Persons were created (as MQLs, no history) on 2025-06-01.
`--since 2025-06-02` finds nobody; `--since 2025-06-01` at Wednesday 14:00 UTC (10:00 in New
York) routes the three MQLs and never the Nurture or Disqualified person:
  us  (country US)       → Rep via territories → pool na_sdr
  stu (title "Student")  → queue nurture
  zz  (country ZZ)       → no rule matches → fallback queue lead_triage
A plain `route run` right after starts from the stored watermark and routes nobody.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from revops.cli import app
from revops.warehouse import Warehouse

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
SDR = "0055g00N00000GzAEI"
runner = CliRunner()


def test_route_run_then_explain(tmp_path: Path) -> None:
    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
        wh.write(
            "users",
            pa.Table.from_pylist(
                [
                    {
                        "user_id": SDR,
                        "name": "Rep",
                        "team": "NA SDR",
                        "role": "sdr",
                        "is_active": True,
                        "timezone": "America/New_York",
                    }
                ]
            ),
        )
        wh.write(
            "persons",
            pa.Table.from_pylist(
                [
                    {"person_id": pid, "email": f"{pid}@x.com", "created_at": datetime(2025, 6, 1)}
                    | {"lifecycle_stage": stage}
                    | extra
                    for pid, stage, extra in (
                        ("us", "MQL", {"country": "US", "title": None}),
                        ("stu", "MQL", {"country": None, "title": "Student"}),
                        ("zz", "MQL", {"country": "ZZ", "title": None}),
                        ("nur", "Nurture", {"country": "US", "title": None}),
                        ("dq", "Disqualified", {"country": "US", "title": None}),
                    )
                ]
            ),
        )
    args = ["-c", str(EXAMPLE), "-w", url]
    env = {"COLUMNS": "200"}
    later = ["route", "run", "--since", "2025-06-02", "--at", "2025-06-04T14:00", *args]
    result = runner.invoke(app, later, env=env)
    assert result.exit_code == 0, result.output
    assert "routed 0 persons" in result.output  # all three were created on 2025-06-01
    history = ["route", "run", "--since", "2025-06-01", "--at", "2025-06-04T14:00", *args]
    result = runner.invoke(app, history, env=env)
    assert result.exit_code == 0, result.output
    assert "routed 3 persons who became MQL after 2025-06-01 00:00" in result.output
    for who in ("Rep", "queue:nurture", "queue:lead_triage"):
        assert who in result.output
    again = runner.invoke(app, ["route", "run", "--at", "2025-06-04T14:05", *args], env=env)
    assert again.exit_code == 0, again.output
    assert "routed 0 persons who became MQL after 2025-06-04 14:00" in again.output

    result = runner.invoke(app, ["route", "explain", "us", *args], env=env)
    assert result.exit_code == 0, result.output
    assert f"us → {SDR} by rule territories" in result.output
    assert "students_to_nurture" in result.output
    assert "title contains 'student' failed (got None)" in result.output

    result = runner.invoke(app, ["route", "explain", "nobody", *args], env=env)
    assert result.exit_code == 1
    assert "no routing decision for person 'nobody'" in result.output
