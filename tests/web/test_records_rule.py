"""One record rule for CLI, API and pages: a rep reads their own records and their team's,
revops_admin and finance everything, people who are not reps every record but no pay."""

from __future__ import annotations

import pandas as pd

from revops.access import Principal, Role
from revops.access.records import record_visibility, statement_visibility, visible_rows

# vp ← m1 ← (r1, r2)
USERS = pd.DataFrame(
    {
        "user_id": ["vp", "m1", "r1", "r2"],
        "email": ["vp@x.com", "m1@x.com", "r1@x.com", "r2@x.com"],
        "manager_id": [None, "vp", "m1", "m1"],
    }
)


def _records(name: str, role: Role = "viewer") -> set[str] | str:
    vis = record_visibility(Principal(name, role), USERS)
    return "everyone" if vis.everyone else set(vis.reps)


def _pay(name: str, role: Role = "viewer") -> set[str] | str:
    vis = statement_visibility(Principal(name, role), USERS)
    return "everyone" if vis.everyone else set(vis.reps)


def test_who_reads_which_records_and_statements() -> None:
    assert _records("r1@x.com") == {"r1"}
    assert _records("m1@x.com") == {"m1", "r1", "r2"}
    assert _records("r2@x.com", "sales_ops") == {"r2"}  # a rep with an ops role: still a rep
    assert _records("admin@x.com", "revops_admin") == "everyone"
    assert _records("payroll@x.com", "finance") == "everyone"
    assert _records("board@x.com") == "everyone"  # not a rep: every record...
    assert _pay("board@x.com") == set()  # ...but no pay
    assert _pay("r1@x.com") == {"r1"}
    assert _pay("m1@x.com") == {"m1", "r1", "r2"}


def test_visible_rows_keeps_the_owners_records() -> None:
    deals = pd.DataFrame({"id": ["d1", "d2", "d3", "d4"], "_owner": ["r1", "r2", None, "vp"]})
    mine = visible_rows(deals, "_owner", record_visibility(Principal("r1@x.com", "viewer"), USERS))
    assert mine["id"].tolist() == ["d1"]
    team = visible_rows(deals, "_owner", record_visibility(Principal("m1", "viewer"), USERS))
    assert team["id"].tolist() == ["d1", "d2"]
    admin = Principal("a", "revops_admin")
    assert visible_rows(deals, "_owner", record_visibility(admin, USERS)).equals(deals)
