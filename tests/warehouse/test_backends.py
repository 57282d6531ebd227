"""The shared backend suite: the same hand-worked cases on DuckDB, PostgreSQL and Apache Spark.

Every test takes `any_warehouse` (tests/conftest.py), an empty warehouse on each backend. What a
backend cannot do is a capability flag below, and a test needing it is a strict xfail there with
the reason, so a backend that gains the capability turns the xfail into a failure to update.
Spark tests are kept few and small: every Spark write is a job (see revops.warehouse.spark).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from revops.config import load_config
from revops.config.pipeline import PipelineConfig
from revops.lifecycle import analytics as lifecycle_analytics
from revops.lifecycle import funnel_conversion, funnel_frame, time_in_stage, time_in_stage_frame
from revops.metrics import compute, compute_all
from revops.pipeline import pipeline_as_of
from revops.revenue.waterfall import waterfall
from revops.warehouse import Batch, Warehouse, WarehouseError
from revops.warehouse.pii import PII_KEY_ENV
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

sys.path.insert(0, str(Path(__file__).parents[1] / "attribution"))
from case import load as load_attribution_case

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
MODEL = load_config(EXAMPLE).model


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do that the others can."""

    transactions: bool  # `Warehouse.transaction`: raw statements that commit together
    pii_encryption: bool  # REVOPS_PII_KEY: decryption by Python UDFs inside queries
    enforced_keys: bool  # the database itself refuses a second row with a stored primary key


CAPABILITIES = {
    "duckdb": Capabilities(transactions=True, pii_encryption=True, enforced_keys=True),
    "postgres": Capabilities(transactions=True, pii_encryption=False, enforced_keys=True),
    "spark": Capabilities(transactions=False, pii_encryption=False, enforced_keys=False),
}
REASONS = {
    "transactions": "Spark (Parquet tables) has no transactions; revops writes swap tables",
    "pii_encryption": "decrypting inside queries needs Python UDFs on the connection",
    "enforced_keys": "Spark tables have no primary-key constraint; revops writes enforce keys",
}


def needs(request: pytest.FixtureRequest, backend: str, capability: str) -> None:
    if not getattr(CAPABILITIES[backend], capability):
        reason = f"{backend}: {REASONS[capability]}"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def rows(wh: Warehouse, name: str, *cols: str) -> list[tuple[Any, ...]]:
    t = wh.table(name).select(*cols).order_by(cols[0])
    return [tuple(r.values()) for r in wh.to_arrow(t).to_pylist()]


OPPS = {
    "opportunity_id": ["o1", "o2", "o3"],
    "account_id": ["a1", "a1", "a2"],
    "owner_id": ["u1", "u2", "u1"],
    "opportunity_type": ["new_business", "expansion", "new_business"],
    "stage": ["Closed Won", "Proposal", "Closed Lost"],
    "created_date": [dt.date(2026, 1, 5), dt.date(2026, 2, 1), dt.date(2026, 1, 10)],
    "close_date": [dt.date(2026, 3, 20), dt.date(2026, 5, 31), dt.date(2026, 2, 15)],
    "is_closed": [True, False, True],
    "is_won": [True, False, False],
    "amount": [12_000.0, 8_000.0, 5_000.0],
}


# -- writing ----------------------------------------------------------------------------------
def test_write_modes_count_and_keep_what_the_batch_lacks(any_warehouse: Warehouse) -> None:
    wh = any_warehouse
    first = wh.write("opportunities", pa.table(OPPS))
    assert (first.inserted, first.updated) == (3, 0)
    # o2 moves on and o4 is new; the batch has no owner_id, so o2 keeps u2
    batch = pa.table({"opportunity_id": ["o2", "o4"], "stage": ["Negotiation", "Prospecting"]})
    up = wh.write("opportunities", batch)
    assert (up.inserted, up.updated) == (1, 1)
    assert rows(wh, "opportunities", "opportunity_id", "stage", "owner_id", "amount") == [
        ("o1", "Closed Won", "u1", 12_000.0),
        ("o2", "Negotiation", "u2", 8_000.0),
        ("o3", "Closed Lost", "u1", 5_000.0),
        ("o4", "Prospecting", None, None),
    ]
    # merge: o1 unchanged, o3 changed, o5 new
    merged = wh.write_many(
        [
            Batch(
                "opportunities",
                pa.table(
                    {
                        "opportunity_id": ["o1", "o3", "o5"],
                        "stage": ["Closed Won", "Closed Won", "Prospecting"],
                    }
                ),
                mode="merge",
            )
        ]
    )[0]
    assert (merged.inserted, merged.updated, merged.unchanged) == (1, 1, 1)
    gone = wh.write("opportunities", pa.table({"opportunity_id": ["o4", "o5", "o9"]}), "delete")
    assert gone.updated == 2
    assert [r[0] for r in rows(wh, "opportunities", "opportunity_id")] == ["o1", "o2", "o3"]
    # an append of a stored key fails and changes nothing
    with pytest.raises(WarehouseError, match="nothing was changed"):
        wh.write("opportunities", pa.table({"opportunity_id": ["o1"]}), "append")
    assert wh.count("opportunities") == 3
    replaced = wh.write("opportunities", pa.table({"opportunity_id": ["o7"]}), "replace")
    assert (replaced.inserted, wh.count("opportunities")) == (1, 1)


def test_a_failed_write_of_several_tables_changes_none(any_warehouse: Warehouse) -> None:
    wh = any_warehouse
    wh.write("accounts", pa.table({"account_id": ["a1"], "name": ["Acme"]}))

    def boom(_: list[Any]) -> list[Batch]:
        raise RuntimeError("the log row could not be built")

    with pytest.raises(WarehouseError, match="nothing was changed"):
        wh.write_many(
            [
                Batch("accounts", pa.table({"account_id": ["a1", "a2"], "name": ["Acme 2", "B"]})),
                Batch("opportunities", pa.table(OPPS)),
            ],
            then=boom,
        )
    assert rows(wh, "accounts", "account_id", "name") == [("a1", "Acme")]
    assert wh.count("opportunities") == 0
    assert {t for t in wh.columns() if t.startswith("_revops_")} <= {"_revops_schema"}


def test_rows_computed_in_the_warehouse_replace_the_rows_a_condition_selects(
    any_warehouse: Warehouse, any_backend: str
) -> None:
    """`replace_where`: the stored quotas of Q1 give way to quotas computed from the open
    deals (u2 owns o2, $8k: a quota of twice that) and a literal row; Q2's stay as they were.
    In place on DuckDB and PostgreSQL; read out and written as a batch on Spark."""
    wh = any_warehouse
    wh.write("opportunities", pa.table(OPPS), "replace")
    q1, q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
    quotas = {
        "user_id": ["u1", "u1", "u2"],
        "period_start": [q1, q2, q1],
        "period_end": [dt.date(2026, 3, 31), dt.date(2026, 6, 30), dt.date(2026, 3, 31)],
        "amount": [100.0, 120.0, 90.0],
        "method": ["loaded"] * 3,
    }
    wh.write("quotas", pa.table(quotas), "replace")
    o = wh.table("opportunities")
    computed = (
        o.filter(~o.is_closed)
        .group_by(user_id=o.owner_id)
        .aggregate(amount=(o.amount.sum() * 2).cast("float64"))
        .mutate(
            period_start=ibis.date(2026, 1, 1),
            period_end=ibis.date(2026, 3, 31),
            method=ibis.literal("bottom_up"),
        )
    )
    given = ibis.memtable(
        {"user_id": ["u9"], "period_start": [q1], "period_end": [q1], "amount": [5.0]}
    )
    added = wh.replace_where("quotas", lambda t: t.period_start == q1, [computed, given])
    assert added == 2
    assert sorted(rows(wh, "quotas", "user_id", "period_start", "amount", "method")) == [
        ("u1", q2, 120.0, "loaded"),
        ("u2", q1, 16_000.0, "bottom_up"),
        ("u9", q1, 5.0, None),
    ]
    with pytest.raises(WarehouseError, match="read from it"):
        wh.replace_where("quotas", lambda t: t.user_id == "u1", [wh.table("quotas")])
    if any_backend != "spark":  # a repeated key: the database refuses it, and nothing changes
        with pytest.raises(WarehouseError, match="nothing was changed"):
            wh.replace_where("quotas", lambda t: t.user_id == "u9", [given, given])
        assert wh.count("quotas") == 3
    assert {t for t in wh.columns() if t.startswith("_revops_")} <= {"_revops_schema"}


def test_raw_statements_roll_back_together(
    any_warehouse: Warehouse, any_backend: str, request: pytest.FixtureRequest
) -> None:
    needs(request, any_backend, "transactions")
    wh = any_warehouse

    def insert_then_fail() -> None:
        with wh.transaction() as run:
            run("INSERT INTO \"accounts\" (account_id, name) VALUES ('a1', 'Acme')")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        insert_then_fail()
    assert wh.count("accounts") == 0


def test_the_database_refuses_a_repeated_key(
    any_warehouse: Warehouse, any_backend: str, request: pytest.FixtureRequest
) -> None:
    needs(request, any_backend, "enforced_keys")
    wh = any_warehouse
    wh.write("accounts", pa.table({"account_id": ["a1"]}))
    with pytest.raises(Exception):  # noqa: B017 - each driver has its own error type
        wh.sql("INSERT INTO \"accounts\" (account_id) VALUES ('a1')")


def test_pii_columns_are_encrypted_at_rest(
    any_warehouse: Warehouse,
    any_backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs(request, any_backend, "pii_encryption")
    monkeypatch.setenv(PII_KEY_ENV, "k" * 64)
    url = ":memory:" if any_backend == "duckdb" else any_warehouse.url
    with Warehouse.connect(url) as wh:
        wh.write("persons", pa.table({"person_id": ["p1"], "email": ["ann@example.com"]}))
        assert rows(wh, "persons", "person_id", "email") == [("p1", "ann@example.com")]
        stored = wh.sql('SELECT email FROM "persons"')
        assert stored
        assert stored[0][0] != "ann@example.com"


# -- engines ----------------------------------------------------------------------------------
def test_load_then_metrics_show_through_the_cli(any_warehouse: Warehouse, tmp_path: Path) -> None:
    from revops.cli import app

    csv = tmp_path / "opportunities.csv"
    csv.write_text(
        "opportunity_id,account_id,owner_id,opportunity_type,stage,created_date,close_date,"
        "is_closed,is_won,amount\n"
        "o1,a1,u1,new_business,Closed Won,2026-01-05,2026-03-20,true,true,12000\n"
        "o2,a1,u2,expansion,Proposal,2026-02-01,2026-05-31,false,false,8000\n"
        "o3,a2,u1,new_business,Closed Lost,2026-01-10,2026-02-15,true,false,5000\n"
        "o4,a2,u1,new_business,Proposal,2026-13-01,2026-03-20,false,false,100\n"
    )
    url = any_warehouse.url
    if any_warehouse.backend == "duckdb":  # an in-memory DuckDB is private to its connection
        url = str(tmp_path / "revops.duckdb")
    env = {"COLUMNS": "200"}
    runner = CliRunner()
    loaded = runner.invoke(
        app, ["load", str(csv), "--table", "opportunities", "--warehouse", url], env=env
    )
    assert loaded.exit_code == 0, loaded.output
    assert "1 rows quarantined" in loaded.output  # o4: there is no month 13
    pending = runner.invoke(app, ["quarantine", "list", "--warehouse", url], env=env)
    assert pending.exit_code == 0, pending.output
    assert "created_date" in pending.output
    shown = runner.invoke(
        app,
        ["metrics", "show", "pipeline_created", "--warehouse", url, "--config", str(EXAMPLE)],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    assert "17,000" in shown.output  # January: o1 + o3
    assert "8,000" in shown.output  # February: o2


def test_the_metric_dictionary_agrees_with_duckdb(any_warehouse: Warehouse) -> None:
    wh = any_warehouse
    wh.write("opportunities", pa.table(OPPS))
    created = compute(wh, MODEL, "pipeline_created")
    assert dict(zip(created["period"], created["value"], strict=True)) == {
        dt.date(2026, 1, 1): 17_000.0,
        dt.date(2026, 2, 1): 8_000.0,
    }
    bookings = compute(wh, MODEL, "bookings")
    assert bookings[bookings["value"].notna()][["period", "value"]].values.tolist() == [
        [dt.date(2026, 3, 1), 12_000.0]
    ]
    got = compute_all(wh, MODEL)
    with Warehouse.connect(":memory:") as ref:
        ref.write("opportunities", pa.table(OPPS))
        want = compute_all(ref, MODEL)
    key = ["metric", "period"]
    got, want = (
        got.sort_values(key).reset_index(drop=True),
        want.sort_values(key).reset_index(drop=True),
    )
    assert got[key].values.tolist() == want[key].values.tolist()
    assert got["value"].fillna(-1).tolist() == pytest.approx(want["value"].fillna(-1).tolist())
    assert got["missing"].tolist() == want["missing"].tolist()


def _history(*steps: tuple[str, str, str | None, str, float]) -> pa.Table:
    t0 = dt.datetime(2024, 1, 1)
    return pa.table(
        {
            "transition_id": [s[0] for s in steps],
            "person_id": [s[1] for s in steps],
            "from_stage": [s[2] for s in steps],
            "to_stage": [s[3] for s in steps],
            "changed_at": pa.array(
                [t0 + dt.timedelta(days=s[4]) for s in steps], pa.timestamp("us")
            ),
            "source": ["test"] * len(steps),
            "skipped": pa.nulls(len(steps), pa.string()),
        },
        schema=arrow_schema(table("lifecycle_history")),
    )


def test_lifecycle_analytics(any_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """a: Lead 0 → MQL 2 → SAL 5; b: Lead 0 → MQL 4 → Recycled 10; c: Lead 1 (days). The
    frames the reports read agree, in passes on DuckDB (one a row) and in one elsewhere."""
    wh = any_warehouse
    wh.write(
        "lifecycle_history",
        _history(
            ("a1", "a", None, "Lead", 0),
            ("a2", "a", "Lead", "MQL", 2),
            ("a3", "a", "MQL", "SAL", 5),
            ("b1", "b", None, "Lead", 0),
            ("b2", "b", "Lead", "MQL", 4),
            ("b3", "b", "MQL", "Recycled", 10),
            ("c1", "c", None, "Lead", 1),
        ),
    )
    history = wh.table("lifecycle_history")
    stints = wh.to_arrow(time_in_stage(history).order_by(["person_id", "entered_at"]))
    assert [(r["person_id"], r["stage"], r["days_in_stage"]) for r in stints.to_pylist()] == [
        ("a", "Lead", 2.0),
        ("a", "MQL", 3.0),
        ("a", "SAL", None),
        ("b", "Lead", 4.0),
        ("b", "MQL", 6.0),
        ("b", "Recycled", None),
        ("c", "Lead", None),
    ]
    funnel = wh.to_arrow(funnel_conversion(history, MODEL.lifecycle)).to_pylist()
    reached = {r["stage"]: r["reached"] for r in funnel}
    assert (reached["Lead"], reached["MQL"], reached["SAL"]) == (3, 2, 1)
    monkeypatch.setattr(lifecycle_analytics, "PASS_ROWS", 1)
    frame = funnel_frame(wh, MODEL.lifecycle)
    assert dict(zip(frame["stage"], frame["reached"], strict=True)) == reached
    frame = time_in_stage_frame(wh, MODEL.lifecycle).set_index("stage")
    assert frame.loc[["Lead", "MQL"], "median_days"].tolist() == [3.0, 4.5]
    assert frame.loc[["Lead", "MQL", "SAL"], "still_in_stage"].tolist() == [1, 0, 1]


def test_a_lifecycle_run_queues_its_automation_event(any_warehouse: Warehouse) -> None:
    """p1 asked for Lead 48 h and MQL 24 h before the run, p2 for Lead only: the run writes
    three transitions, moves both persons, and the outbox (evaluated on the pending write laid
    over the stored persons) records one mql_nurture event, for p1, owned by u1."""
    from revops.automation.outbox import install
    from revops.lifecycle import run_lifecycle

    wh = any_warehouse
    now = dt.datetime(2026, 3, 2, 12)
    made = dt.datetime(2026, 2, 1)
    wh.write(
        "persons",
        pa.table(
            {
                "person_id": ["p1", "p2"],
                "email": ["ann@example.com", "bo@example.com"],
                "company": ["Acme", None],  # MQL requires email, company and country
                "country": ["DE", None],
                "owner_id": ["u1", "u2"],
                "created_at": [made, made],
                "updated_at": [made, made],
            }
        ),
    )
    day = dt.timedelta(days=1)
    wh.write(
        "lifecycle_events",
        pa.table(
            {
                "event_id": ["e1", "e2", "e3"],
                "person_id": ["p1", "p1", "p2"],
                "stage": ["Lead", "MQL", "Lead"],
                "occurred_at": [now - 2 * day, now - day, now - day],
            }
        ),
    )
    install(wh, MODEL, clock=lambda: now)
    report = run_lifecycle(wh, MODEL.lifecycle)
    assert (report.accepted, report.rejected, report.persons_updated) == (3, 0, 2)
    assert rows(wh, "persons", "person_id", "lifecycle_stage", "owner_id", "created_at") == [
        ("p1", "MQL", "u1", made),
        ("p2", "Lead", "u2", made),
    ]
    events = rows(wh, "automation_events", "automation", "record_id", "owner_id", "occurred_at")
    assert [e for e in events if e[0] == "mql_nurture"] == [("mql_nurture", "p1", "u1", now - day)]


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_a_batch_of_chunks_some_empty_is_written_whole(any_warehouse: Warehouse, mode: Any) -> None:
    """A batch concatenated from parts, some empty (0, 0, 2, 0 and 1 rows), writes its three
    rows: PySpark 4.0 read an Arrow table only up to an empty chunk after the first."""
    made = dt.datetime(2026, 2, 1)
    part = pa.table({"person_id": ["p1", "p2", "p3"], "created_at": [made] * 3})
    empty = part.slice(0, 0)
    data = pa.concat_tables([empty, empty, part.slice(0, 2), empty, part.slice(2)])
    assert [b.num_rows for b in data.to_batches()] == [0, 0, 2, 0, 1]
    assert any_warehouse.write("persons", data, mode).inserted == 3
    assert rows(any_warehouse, "persons", "person_id") == [("p1",), ("p2",), ("p3",)]


def test_a_lifecycle_run_in_parts_judges_every_event(
    any_warehouse: Warehouse, any_backend: str
) -> None:
    """Three persons judged one per part (as at scale), then the events of no known person:
    p1 Lead then MQL, p2 and p3 Lead are accepted; e5 (a person not stored) and e6 (no
    person) are refused as unknown, as a run in one part refuses them. On Spark the last
    part's query joins without a nested loop: `NOT IN (persons)` planned one over every event
    and every person, which had not finished the 3x demo's lifecycle after 8 minutes."""
    from revops.lifecycle import run_lifecycle
    from revops.lifecycle.run import _parts

    wh = any_warehouse
    made = dt.datetime(2026, 2, 1)
    wh.write(
        "persons",
        pa.table(
            {
                "person_id": ["p1", "p2", "p3"],
                "email": ["ann@example.com", "bo@example.com", "cy@example.com"],
                "company": ["Acme", "Beta", "Core"],  # MQL requires email, company and country
                "country": ["DE", "FR", "IT"],
                "created_at": [made] * 3,
                "updated_at": [made] * 3,
            }
        ),
    )
    day = dt.timedelta(days=1)
    wh.write(
        "lifecycle_events",
        pa.table(
            {
                "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
                "person_id": ["p1", "p1", "p2", "p3", "ghost", None],
                "stage": ["Lead", "MQL", "Lead", "Lead", "Lead", "Lead"],
                "occurred_at": [made + day, made + 2 * day] + [made + day] * 4,
            }
        ),
    )
    if any_backend == "spark":
        stray = list(_parts(wh, MODEL.lifecycle, per_part=1))[-1][0]
        plan = wh.spark.sql(wh.con.compile(stray))._jdf.queryExecution().executedPlan()
        assert "NestedLoop" not in plan.toString()
    report = run_lifecycle(wh, MODEL.lifecycle, per_part=1)
    assert (report.accepted, report.rejected, report.persons_updated) == (4, 2, 3)
    assert rows(wh, "persons", "person_id", "lifecycle_stage") == [
        ("p1", "MQL"),
        ("p2", "Lead"),
        ("p3", "Lead"),
    ]
    assert [r[0] for r in rows(wh, "lifecycle_rejections", "event_id")] == ["e5", "e6"]


def test_pipeline_snapshot_as_of_a_date(any_warehouse: Warehouse) -> None:
    """o1: Prospecting Jan 5 → Discovery Jan 20 (10k) → pushed to Mar 31 on Feb 10; o3 lost
    Feb 15. As of Feb 10 both are open; as of Feb 20 only o1."""
    wh = any_warehouse
    history = pa.table(
        {
            "history_id": ["h1", "h2", "h3", "h7", "h8"],
            "opportunity_id": ["o1", "o1", "o1", "o3", "o3"],
            "stage": ["Prospecting", "Discovery", "Discovery", "Prospecting", "Closed Lost"],
            "changed_at": [
                dt.datetime(2026, 1, 5, 9),
                dt.datetime(2026, 1, 20, 9),
                dt.datetime(2026, 2, 10, 9),
                dt.datetime(2026, 1, 10, 9),
                dt.datetime(2026, 2, 15, 9),
            ],
            "amount": [10_000.0, 10_000.0, 10_000.0, 5_000.0, 5_000.0],
            "close_date": [
                dt.date(2026, 3, 1),
                dt.date(2026, 3, 1),
                dt.date(2026, 3, 31),
                dt.date(2026, 2, 28),
                dt.date(2026, 2, 15),
            ],
        }
    )
    wh.write_many(
        [Batch("opportunities", pa.table(OPPS)), Batch("opportunity_stage_history", history)]
    )
    expr = pipeline_as_of(
        wh.table("opportunity_stage_history"),
        wh.table("opportunities"),
        [dt.date(2026, 2, 10), dt.date(2026, 2, 20)],
        PipelineConfig(),
    )
    got = sorted(
        (str(r["as_of"])[:10], r["opportunity_id"], r["stage"], r["amount"], bool(r["is_open"]))
        for r in wh.to_arrow(expr).to_pylist()
        if r["opportunity_id"] != "o2"
    )
    assert got == [
        ("2026-02-10", "o1", "Discovery", 10_000.0, True),
        ("2026-02-10", "o3", "Prospecting", 5_000.0, True),
        ("2026-02-20", "o1", "Discovery", 10_000.0, True),
        ("2026-02-20", "o3", "Closed Lost", 5_000.0, False),
    ]


def test_revenue_waterfall_reconciles(any_warehouse: Warehouse) -> None:
    """March: a1 new at 100, a2 expands 50 → 80, a3 churns from 40: opening 90×12, closing
    180×12, new +1,200, expansion +360, churn −480."""
    wh = any_warehouse
    mar = dt.date(2026, 3, 1)
    monthly = [
        ("a1", mar, 100.0, 0.0, mar),
        ("a2", mar, 80.0, 50.0, dt.date(2025, 6, 1)),
        ("a3", mar, 0.0, 40.0, dt.date(2025, 1, 1)),
    ]
    wh.write(
        "mrr_monthly",
        pa.table(
            {
                "account_id": [m[0] for m in monthly],
                "month": [m[1] for m in monthly],
                "mrr": [m[2] for m in monthly],
                "arr": [m[2] * 12 for m in monthly],
                "prior_mrr": [m[3] for m in monthly],
                "mrr_12m_ago": [0.0] * 3,
                "retained_mrr_12m": [0.0] * 3,
                "first_month": [m[4] for m in monthly],
            }
        ),
    )
    [row] = wh.to_arrow(waterfall(wh.table("mrr_monthly"))).to_pylist()
    assert (row["opening_arr"], row["closing_arr"]) == (1_080.0, 2_160.0)
    assert (row["new"], row["expansion"], row["contraction"], row["churn"]) == (
        1_200.0,
        360.0,
        0.0,
        -480.0,
    )
    assert (row["reactivation"], row["customers"]) == (0.0, 2)


def test_attribution_path_counts(any_warehouse: Warehouse) -> None:
    """The case of tests/attribution/case.py: MQL journeys P1 paid_search > webinar > email and
    P3 paid_search convert; P2 direct and P4 email do not. The warehouse counts the paths."""
    from revops.attribution.journeys import load_inputs, path_counts

    wh = any_warehouse
    load_attribution_case(wh)
    paths = path_counts(load_inputs(wh), "mql", MODEL.attribution)
    got = {}
    for i in range(len(paths)):
        codes = paths.codes[paths.offsets[i] : paths.offsets[i + 1]]
        path = " > ".join(paths.channels[c] for c in codes)
        got[path] = (float(paths.conversions[i]), float(paths.nulls[i]))
    assert got == {
        "paid_search > webinar > email": (1.0, 0.0),
        "paid_search": (1.0, 0.0),
        "direct": (0.0, 1.0),
        "email": (0.0, 1.0),
    }
    assert paths.channels == ("paid_search", "webinar", "email", "direct")


def test_attribution_fit_counts(any_warehouse: Warehouse) -> None:
    """The same case counted for the data-driven models: channels numbered as the paths number
    them (0 paid_search, 1 webinar, 2 email, 3 direct); the chain's moves from the start (-1)
    and between channels, where each journey ends and whether it converted; the converted
    journeys per channel set (bitmask). The chain and the Shapley values are the paths'."""
    from revops.attribution.counts import fit_counts
    from revops.attribution.journeys import load_inputs, path_counts
    from revops.attribution.markov import markov, markov_counts
    from revops.attribution.shapley import shapley, shapley_counts

    wh = any_warehouse
    load_attribution_case(wh)
    inp = load_inputs(wh)
    counts = fit_counts(inp, "mql", MODEL.attribution)
    assert counts.channels == ("paid_search", "webinar", "email", "direct")
    moved = zip(counts.src, counts.dst, counts.moves, strict=True)
    moves = {(int(a), int(b)): float(n) for a, b, n in moved}
    assert moves == {(-1, 0): 2.0, (0, 1): 1.0, (1, 2): 1.0, (-1, 3): 1.0, (-1, 2): 1.0}
    ends: dict[int, tuple[float, float]] = {}
    for e, c, n in zip(counts.end, counts.end_conversions, counts.end_nulls, strict=True):
        was = ends.get(int(e), (0.0, 0.0))
        ends[int(e)] = (was[0] + float(c), was[1] + float(n))
    assert ends == {0: (1.0, 0.0), 2: (1.0, 1.0), 3: (0.0, 1.0)}
    assert counts.masks.tolist() == [1, 4, 7, 8]
    assert counts.mask_conversions.tolist() == [1.0, 0.0, 1.0, 0.0]
    paths = path_counts(inp, "mql", MODEL.attribution)
    chain, by_paths = markov_counts(counts), markov(paths, 1)
    assert chain.removal_effects.tolist() == by_paths.removal_effects.tolist()
    assert chain.conversions.tolist() == by_paths.conversions.tolist()
    assert shapley_counts(counts).conversions.tolist() == shapley(paths).conversions.tolist()
