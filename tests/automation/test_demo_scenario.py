"""The seed scenario end to end on the demo warehouse, with the shipped operating model's
automations (examples/revops.yaml) and a real HTTP receiver standing in for Slack.

The demo company's data ends on Saturday 2026-10-31; its lead desk leaves some MQLs with SLA
clocks running. On Monday 2026-11-02 at 17:00 UTC every MQL whose assignment reached 2 business
hours (120 minutes of 09:00–17:00 weekdays in the owner's timezone, holidays off) without a
follow-up in the day before gets a call task for its owner and a chat alert — counted here by
summing each day's overlap with the working window, not by walking the calendar as revops
does. The clocks due in the day before are past their SLA: `route breaches` re-arms them; when
a re-armed clock runs out too, that second breach escalates to the owner's manager. The
revenue run's health scores put accounts at risk: each gets a save task for its customer
success manager (not its AE) and a chat message. A person who opted out of marketing email
enters MQL and gets no nurture enrolment (the action is blocked); one who opted in is enrolled.
A deal won after the last sync goes back to Salesforce with its owner and stage, alone.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import yaml
from receivers import HttpReceiver

from revops.automation import install, queue, run_pass
from revops.automation.writeback import plan, plan_object, record
from revops.config.models import OperatingModel
from revops.privacy.consent import ConsentEvent, consent_batch
from revops.revenue.customers import build_health
from revops.routing.sla_store import detect_breaches
from revops.warehouse import Warehouse

SHIPPED = Path(__file__).parents[2] / "examples" / "revops.yaml"
MONDAY = datetime(2026, 11, 2, 17, 0)


def shipped_model(url: str) -> OperatingModel:
    data = yaml.safe_load(SHIPPED.read_text())
    assert {r["name"] for r in data["automations"]["rules"]} >= {
        "mql_no_followup",
        "second_breach",
        "at_risk_account",
        "mql_nurture",
    }
    for e in data["automations"]["endpoints"]:
        e["url"] = f"{url}/{e['name']}"
    data["automations"]["dispatch"] = {"backoff_seconds": 0, "timeout_seconds": 1}
    return OperatingModel.model_validate(data)


def rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in wh.con.sql(sql).to_pyarrow().to_pylist()]


def events(wh: Warehouse, automation: str) -> set[str]:
    e = wh.table("automation_events")
    got = wh.to_arrow(e.filter(e.automation == automation).select("record_id"))
    return set(got.column(0).to_pylist())


def tasks(wh: Warehouse, automation: str) -> dict[str, str]:
    """record_id → assignee of the tasks `automation` created."""
    found = rows(wh, f"SELECT record_id, assignee_id FROM tasks WHERE automation = '{automation}'")
    return {r["record_id"]: r["assignee_id"] for r in found}


def business_minutes(start: datetime, end: datetime, tz: str, model: OperatingModel) -> float:
    """Minutes of the SLA's working window between two UTC instants, in the zone `tz`."""
    hours, off = model.routing.sla.business_hours, set(model.routing.holidays)
    zone = ZoneInfo(tz)

    def local(at: datetime) -> datetime:
        return at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)

    a, b = local(start), local(end)
    total = 0.0
    day: date = a.date()
    while day <= b.date():
        if day.weekday() in hours.days and day not in off:
            lo = max(a, datetime.combine(day, hours.start))
            hi = min(b, datetime.combine(day, hours.end))
            total += max((hi - lo).total_seconds(), 0) / 60
        day += timedelta(days=1)
    return total


def no_followup(wh: Warehouse, model: OperatingModel, at: datetime) -> dict[str, tuple[str, str]]:
    """decision_id → (person, owner) of the MQLs the shipped rule fires on as of `at`: the
    assignment (its decision's first clock) unanswered, with 120 business minutes reached
    within the 24 hours before `at`."""
    found = rows(
        wh,
        "SELECT c.decision_id, c.person_id, c.owner_id, f.assigned_at, u.timezone "
        "FROM sla_clocks c JOIN persons p USING (person_id) "
        "JOIN (SELECT decision_id, min(started_at) AS assigned_at FROM sla_clocks "
        "GROUP BY decision_id) f USING (decision_id) "
        "LEFT JOIN users u ON u.user_id = c.owner_id "
        "WHERE c.responded_at IS NULL AND c.closed_at IS NULL AND p.lifecycle_stage = 'MQL'",
    )
    since = at - timedelta(hours=24, microseconds=1)
    out = {}
    for r in found:
        tz = r["timezone"] or model.routing.default_timezone
        done = business_minutes(r["assigned_at"], at, tz, model)
        if done >= 120 and business_minutes(r["assigned_at"], since, tz, model) < 120:
            out[r["decision_id"]] = (r["person_id"], r["owner_id"])
    return out


def test_seed_scenario_on_the_demo(
    demo_run: tuple[Path, str], tmp_path: Path, http_receiver: HttpReceiver
) -> None:
    db = tmp_path / "wh.duckdb"
    shutil.copy(demo_run[0] / "revops.duckdb", db)
    model = shipped_model(http_receiver.url)
    now = [MONDAY]
    with Warehouse.connect(db) as wh:
        install(wh, model, clock=lambda: now[0])
        managers = {
            r["user_id"]: r["manager_id"] for r in rows(wh, "SELECT user_id, manager_id FROM users")
        }

        # 1. MQLs with no follow-up 2 business hours after assignment, found in the day before
        quiet = no_followup(wh, model, MONDAY)
        assert quiet, "the demo leaves MQLs unanswered for 2 business hours on Monday"
        # the SLA clocks due in the day before, still running (past their SLA)
        late = rows(
            wh,
            "SELECT c.person_id, c.owner_id, c.decision_id, c.due_at FROM sla_clocks c "
            "JOIN persons p USING (person_id) "
            "WHERE c.responded_at IS NULL AND c.closed_at IS NULL AND p.lifecycle_stage = 'MQL' "
            f"AND c.due_at > TIMESTAMP '{MONDAY - timedelta(hours=24)}' "
            f"AND c.due_at <= TIMESTAMP '{MONDAY}'",
        )
        assert late, "the demo leaves MQLs whose clocks run out on Monday"
        queue(wh, model, MONDAY)
        assert events(wh, "mql_no_followup") == {p for p, _ in quiet.values()}
        assert tasks(wh, "mql_no_followup") == dict(quiet.values())
        # each alert came at 2 business hours, before the lead's SLA ran out
        alerts = rows(
            wh,
            "SELECT occurred_at, CAST(json_extract_string(details, '$.due_at') AS TIMESTAMP) "
            "AS due_at FROM automation_events WHERE automation = 'mql_no_followup'",
        )
        assert len(alerts) == len(quiet)
        assert all(a["occurred_at"] < a["due_at"] for a in alerts)
        alerted = dict(quiet)

        # 2. `route breaches` re-arms them; each re-armed clock that runs out is a second
        # breach, escalated to the owner's manager (the re-armed clocks alert no MQL again:
        # the wait counts from the assignment, which already fired)
        detect_breaches(wh, model, MONDAY)
        rearmed = rows(
            wh,
            "SELECT person_id, owner_id, due_at FROM sla_clocks WHERE breach_count = 1 "
            "AND responded_at IS NULL AND closed_at IS NULL "
            f"AND person_id IN ({', '.join(repr(r['person_id']) for r in late)})",
        )
        assert {r["person_id"] for r in rearmed} == {r["person_id"] for r in late}
        for due in sorted({r["due_at"] for r in rearmed}):
            now[0] = due + timedelta(minutes=1)
            alerted |= no_followup(wh, model, now[0])
            queue(wh, model, now[0])
        escalated = tasks(wh, "second_breach")
        assert escalated == {r["person_id"]: managers[r["owner_id"]] for r in rearmed}
        assert all(escalated.values())

        # 3. the revenue run's health scores: accounts entering at-risk in the last 35 days
        now[0] = MONDAY
        build_health(wh, model)
        risky = rows(
            wh,
            "SELECT account_id FROM (SELECT account_id, month, score < 50 AS risky, "
            "lag(score < 50) OVER (PARTITION BY account_id ORDER BY month) AS before "
            "FROM health_scores) WHERE risky AND NOT coalesce(before, FALSE) "
            f"AND month + INTERVAL 1 MONTH > TIMESTAMP '{MONDAY - timedelta(hours=840)}'",
        )
        assert risky, "the demo's health scores put accounts at risk"
        # the save task goes to the account's customer success manager (Salesforce's
        # Customer_Success_Manager__c, loaded as accounts.csm_id), not to its AE
        csm = {
            r["account_id"]: (r["csm_id"], r["role"])
            for r in rows(
                wh,
                "SELECT a.account_id, a.csm_id, u.role FROM accounts a "
                "LEFT JOIN users u ON u.user_id = a.csm_id",
            )
        }
        assert all(csm[r["account_id"]][1] == "csm" for r in risky)
        assert tasks(wh, "at_risk_account") == {
            r["account_id"]: csm[r["account_id"]][0] for r in risky
        }

        # 4. nurture: an opted-out person and an opted-in one enter MQL
        opted = rows(
            wh,
            "SELECT person_id, status FROM consent_ledger WHERE purpose = 'marketing' "
            "AND person_id IN (SELECT person_id FROM persons WHERE lifecycle_stage = 'Lead') "
            "ORDER BY recorded_at DESC, person_id",
        )
        latest: dict[str, str] = {}
        for r in opted:
            latest.setdefault(r["person_id"], r["status"])
        out_id = min(p for p, s in latest.items() if s == "opt_out")
        in_id = min(p for p, s in latest.items() if s == "opt_in")
        confirmed = ConsentEvent(
            in_id, "marketing", "email", "opt_in", recorded_at=MONDAY, double_opt_in="confirmed"
        )
        fresh = [confirmed]
        wh.write_many([consent_batch(fresh, model.privacy)])
        entered = pa.Table.from_pylist(
            [
                {
                    "transition_id": f"scenario-{pid}",
                    "person_id": pid,
                    "from_stage": "Lead",
                    "to_stage": "MQL",
                    "changed_at": MONDAY - timedelta(hours=1),
                    "source": "scenario",
                    "skipped": False,
                }
                for pid in (out_id, in_id)
            ]
        )
        wh.write("lifecycle_history", entered, "append")
        nurture = {
            r["record_id"]: r
            for r in rows(
                wh,
                "SELECT e.record_id, a.status, a.last_error FROM automation_actions a "
                "JOIN automation_events e USING (event_id) WHERE a.kind = 'nurture'",
            )
        }
        members = {r["person_id"] for r in rows(wh, "SELECT person_id FROM nurture_memberships")}
        assert nurture[out_id]["status"] == "blocked"
        assert nurture[out_id]["last_error"] == "no consent for marketing over email"
        assert nurture[in_id]["status"] == "delivered"
        assert in_id in members
        assert out_id not in members
        opted_out = {p for p, s in latest.items() if s == "opt_out"}
        assert not members & opted_out

        # 5. the dispatcher delivers every chat message once to the local receiver
        alerted |= no_followup(wh, model, MONDAY + timedelta(days=3))
        report = run_pass(wh, model, "scenario", clock=lambda: MONDAY + timedelta(days=3))
        assert report.leased
        chats = rows(
            wh, "SELECT action_id, automation, status FROM automation_actions WHERE kind = 'chat'"
        )
        # one alert per unanswered assignment, at whichever evaluation first saw it due
        fired = rows(
            wh,
            "SELECT source_key, record_id FROM automation_events "
            "WHERE automation = 'mql_no_followup' AND detected_at >= "
            f"TIMESTAMP '{MONDAY}'",
        )
        assert {r["source_key"]: r["record_id"] for r in fired} == {
            d: p for d, (p, _) in alerted.items()
        }
        # with those the demo recorded as of its last evening (sent in this pass too)
        (total,) = rows(
            wh, "SELECT count(*) AS n FROM automation_events WHERE automation = 'mql_no_followup'"
        )
        assert Counter(c["automation"] for c in chats) == {
            "mql_no_followup": total["n"],
            "at_risk_account": len(risky),
        }
        assert {c["status"] for c in chats} == {"delivered"}
        assert set(http_receiver.store) == {c["action_id"] for c in chats}
        assert all(http_receiver.store[c["action_id"]]["text"] for c in chats)

        # 6. a deal won after the last sync goes back to Salesforce with its owner and stage
        batches, _ = record(wh, plan(wh, model, "salesforce"), MONDAY)
        wh.write_many(batches)
        (deal,) = rows(
            wh,
            "SELECT opportunity_id, owner_id FROM opportunities WHERE NOT is_closed "
            "ORDER BY opportunity_id LIMIT 1",
        )
        won = {"opportunity_id": deal["opportunity_id"], "stage": "Closed Won"}
        wh.write("opportunities", pa.Table.from_pylist([won | {"is_closed": True, "is_won": True}]))
        p = plan_object(wh, model, "salesforce", "Opportunity")
        assert p.header == ("Id", "OwnerId", "StageName")
        assert p.rows == ((deal["opportunity_id"], deal["owner_id"], "Closed Won"),)
        assert all(not q.rows for q in plan(wh, model, "salesforce") if q.object != "Opportunity")
