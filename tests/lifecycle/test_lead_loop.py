"""The lead loop through a load, on DuckDB and PostgreSQL: a returning Nurture lead's new
touch arrives in a touchpoints file; `score apply` asks the lifecycle for MQL; a full
`lifecycle run` (which recomputes every stage from lifecycle_events) keeps it; `route run`
routes it with an SLA clock, once, and never the Disqualified person.

The shipped operating model, scored as of 2026-03-02 12:00. Rosa (US, VP Sales, 500
employees, Software): Lead on 2026-01-05, Nurture on 2026-01-20. Dan: Lead, then
Disqualified, same profile. The file brings each a demo request on 2026-03-02 09:00:
  fit = mid_market 18 + core_industry 15 + vp 25 + core_market 5 = 63; engagement 25 × 0.5^(3/24/30)
  ≈ 24.93; combined ≈ 87.9 ≥ 60 (and fast-tracked): Rosa, parked and touched since → MQL;
  Dan is Disqualified, not in qualify_from → stays.
Route run at 2026-03-02 14:30 UTC (a Monday; 09:30 in New York, EST) with `--since` the
morning: Rosa (US) → territory NA → pool na_sdr, whose only known member is the New York SDR →
high_intent (a demo request) 15 minutes → 09:45 EST = 14:45 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from revops.config import load_config
from revops.context import RevOps
from revops.lifecycle import run_lifecycle
from revops.routing.store import route_new
from revops.scoring.run import score_all
from revops.warehouse import Warehouse

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
SDR = "0055g00N00000GzAEI"


def seed(wh: Warehouse) -> None:
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": SDR, "name": "Nia York", "team": "NA SDR", "role": "sdr"}
                | {"is_active": True, "timezone": "America/New_York"}
            ]
        ),
    )
    profile = {"company": "Globex", "title": "VP Sales", "country": "US", "employees": 500}
    profile |= {"industry": "Software", "created_at": datetime(2026, 1, 5)}
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [{"person_id": p, "email": f"{p}@globex.com"} | profile for p in ("rosa", "dan")]
        ),
    )
    events = [
        ("rosa", "Lead", datetime(2026, 1, 5)),
        ("rosa", "Nurture", datetime(2026, 1, 20)),
        ("dan", "Lead", datetime(2026, 1, 5)),
        ("dan", "Disqualified", datetime(2026, 1, 20)),
    ]
    wh.write(
        "lifecycle_events",
        pa.Table.from_pylist(
            [
                {"event_id": f"{p}-{s}", "person_id": p, "stage": s, "occurred_at": t}
                | {"source": "crm"}
                for p, s, t in events
            ]
        ),
    )


def stage(wh: Warehouse, pid: str) -> str:
    t = wh.table("persons")
    return str(wh.to_arrow(t.filter(t.person_id == pid)).to_pylist()[0]["lifecycle_stage"])


def test_a_loaded_touch_requalifies_and_routes_a_returning_lead(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    seed(warehouse)
    ro = RevOps(load_config(EXAMPLE), warehouse)
    model = ro.model
    run_lifecycle(warehouse, model.lifecycle)
    assert (stage(warehouse, "rosa"), stage(warehouse, "dan")) == ("Nurture", "Disqualified")
    touches = tmp_path / "touches.csv"
    touches.write_text(
        "touchpoint_id,person_id,occurred_at,channel,touch_type\n"
        "t-rosa,rosa,2026-03-02T09:00:00,paid_search,demo_request\n"
        "t-dan,dan,2026-03-02T09:00:00,paid_search,demo_request\n"
    )
    report = ro.load(touches, "touchpoints")
    assert warehouse.count("touchpoints") == 2, report

    run = score_all(warehouse, model.scoring, None, datetime(2026, 3, 2, 12), model.lifecycle)
    assert run.moves is not None
    assert run.moves.accepted("MQL") == 1
    run_lifecycle(warehouse, model.lifecycle)  # recomputes from lifecycle_events
    assert (stage(warehouse, "rosa"), stage(warehouse, "dan")) == ("MQL", "Disqualified")

    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    routed = route_new(warehouse, model.routing, at, since=datetime(2026, 3, 2))
    assert [(r.person_id, r.decision.owner_id) for r in routed.routed] == [("rosa", SDR)]
    (clock,) = warehouse.to_arrow(warehouse.table("sla_clocks")).to_pylist()
    assert (clock["priority"], clock["due_at"]) == ("high_intent", datetime(2026, 3, 2, 14, 45))
    again = route_new(warehouse, model.routing, datetime(2026, 3, 2, 14, 35, tzinfo=UTC))
    assert again.routed == []
