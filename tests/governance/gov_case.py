"""A small company, worked by hand, and a proposed change to its operating model.

OLD → NEW changes one lifecycle stage, one transition, one routing rule and one metric formula,
and adds one metric:
  lifecycle  MQL requires [title] → [title, country]; new transition Lead → SQL
  routing    rule `big`: employees >= 1000 → employees >= 500 (owner ae1 either way)
  metrics    won: count where is_won → count where is_won and amount >= 1000;
             big_bookings added (sum of amount where is_won and amount >= 1000)

Persons and their lifecycle events (created in January 2025, so never "recent"):
  P1 title, country  Lead, MQL, SQL → SQL under both
  P2 title           Lead, MQL      → old MQL; new: MQL lacks country, rejected → Lead   (moves)
  P3 title           Lead, MQL, SQL → old SQL; new: MQL rejected, then Lead → SQL now allowed
                                      → SQL                                          (same)
  P4 (no title)      Lead, SQL      → old: Lead → SQL not allowed → Lead; new: SQL     (moves)
  P5 no events       → no stage under both
So 2 of the 10 persons change stage: P2 MQL → Lead and P4 Lead → SQL.

Leads (no events; the newest, L4 at 2025-06-20 10:00, anchors the 30-day window, which starts
2025-05-21 10:00, so L0 is out of it). Users u1, u2 form the `order` pool sdr; ae1 owns `big`.
  lead employees  old rule → owner       new rule → owner
  L0  700         (outside the window)
  L1  2000        big → ae1              big → ae1                 same
  L2  700         rest → u1 (pool start)  big → ae1                 re-routed by rule
  L3  100         rest → u2              rest → u1 (pool not moved) re-routed by rotation
  L4  50          rest → u1              rest → u2                 re-routed by rotation
So 3 of 4 recent leads re-route: u1 → ae1, u2 → u1, u1 → u2.

Opportunities (amount, closed, won, close date); the plan's 2-month window is May–June 2025:
  o1 500 won 2025-05-10; o2 5000 won 05-20; o3 2000 lost 05-25; o4 3000 won 06-05;
  o5 100 lost 06-07; o6 9000 won 2025-04-01 (outside the window)
  won           old: May 2 (o1, o2), June 1 (o4);    new: May 1 (o2), June 1 (o4)
  closed        May 3, June 2 (unchanged)
  win_rate      old: May 2/3, June 1/2;              new: May 1/3, June 1/2
  big_bookings  new: May 5000, June 3000; old: none
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from revops.config.models import OperatingModel
from revops.warehouse import Warehouse


def _simple(name: str, agg: str, filt: str, column: str | None = None) -> dict[str, Any]:
    measure: dict[str, Any] = {"table": "opportunities", "agg": agg, "time": "close_date"}
    if column:
        measure["column"] = column
    return {
        "name": name,
        "description": f"{name}, for the governance tests.",
        "owner": "sales_ops",
        "type": "simple",
        "over_time": "flow",
        "measure": measure,
        "filter": filt,
    }


OLD: dict[str, Any] = {
    "company": {"name": "Tiny"},
    "lifecycle": {
        "stages": [
            {"name": "Lead"},
            {"name": "MQL", "required_fields": ["title"]},
            {"name": "SQL"},
            {"name": "Disqualified", "kind": "exit"},
        ],
        "transitions": {"Lead": ["MQL", "Disqualified"], "MQL": ["SQL", "Disqualified"]},
    },
    "metrics": [
        _simple("won", "count", "is_won"),
        _simple("closed", "count", "is_closed"),
        {
            "name": "win_rate",
            "description": "Won over closed.",
            "owner": "sales_ops",
            "type": "ratio",
            "over_time": "flow",
            "numerator": "won",
            "denominator": "closed",
        },
        _simple("bookings", "sum", "is_won", "amount"),
    ],
    "routing": {
        "fallback_queue": "triage",
        "pools": [{"name": "sdr", "members": [{"user_id": "u1"}, {"user_id": "u2"}]}],
        "rules": [
            {
                "name": "big",
                "when": [{"field": "employees", "op": "gte", "value": 1000}],
                "owner": "ae1",
            },
            {"name": "rest", "pool": "sdr"},
        ],
    },
}


def new_dict() -> dict[str, Any]:
    d = copy.deepcopy(OLD)
    d["lifecycle"]["stages"][1]["required_fields"] = ["title", "country"]
    d["lifecycle"]["transitions"]["Lead"] = ["MQL", "SQL", "Disqualified"]
    d["routing"]["rules"][0]["when"][0]["value"] = 500
    d["metrics"][0]["filter"] = "is_won and amount >= 1000"
    d["metrics"].append(_simple("big_bookings", "sum", "is_won and amount >= 1000", "amount"))
    return d


def old_model() -> OperatingModel:
    return OperatingModel.model_validate(OLD)


def new_model() -> OperatingModel:
    return OperatingModel.model_validate(new_dict())


def _person(pid: str, created: datetime, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person_id": pid,
        "email": f"{pid.lower()}@x.com",
        "title": None,
        "country": None,
        "employees": None,
        "created_at": created,
    }
    row.update(extra)
    return row


def seed(wh: Warehouse) -> None:
    jan = datetime(2025, 1, 5, 9)
    persons = [
        _person("P1", jan, title="VP", country="US"),
        _person("P2", jan, title="VP"),
        _person("P3", jan, title="VP"),
        _person("P4", jan),
        _person("P5", jan),
        _person("L0", datetime(2025, 5, 1, 9), employees=700),
        _person("L1", datetime(2025, 6, 17, 9), employees=2000),
        _person("L2", datetime(2025, 6, 18, 9), employees=700),
        _person("L3", datetime(2025, 6, 19, 9), employees=100),
        _person("L4", datetime(2025, 6, 20, 10), employees=50),
    ]
    wh.write("persons", pa.Table.from_pylist(persons))
    steps = {
        "P1": ["Lead", "MQL", "SQL"],
        "P2": ["Lead", "MQL"],
        "P3": ["Lead", "MQL", "SQL"],
        "P4": ["Lead", "SQL"],
    }
    events = [
        {
            "event_id": f"{pid}-{i}",
            "person_id": pid,
            "stage": stage,
            "occurred_at": datetime(2025, 1, 10 + i, 12),
            "source": "test",
        }
        for pid, stages in steps.items()
        for i, stage in enumerate(stages)
    ]
    wh.write("lifecycle_events", pa.Table.from_pylist(events))
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": u, "team": "T", "role": "sdr", "is_active": True}
                for u in ("u1", "u2", "ae1")
            ]
        ),
    )
    opps = [
        ("o1", 500.0, True, date(2025, 5, 10)),
        ("o2", 5000.0, True, date(2025, 5, 20)),
        ("o3", 2000.0, False, date(2025, 5, 25)),
        ("o4", 3000.0, True, date(2025, 6, 5)),
        ("o5", 100.0, False, date(2025, 6, 7)),
        ("o6", 9000.0, True, date(2025, 4, 1)),
    ]
    wh.write(
        "opportunities",
        pa.Table.from_pylist(
            [
                {
                    "opportunity_id": oid,
                    "account_id": "acc1",
                    "owner_id": "ae1",
                    "opportunity_type": "new_business",
                    "stage": "Closed Won" if won else "Closed Lost",
                    "amount": amount,
                    "created_date": date(2025, 3, 1),
                    "close_date": closed,
                    "is_closed": True,
                    "is_won": won,
                }
                for oid, amount, won, closed in opps
            ]
        ),
    )
