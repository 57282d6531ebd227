"""The demo company: deterministic, loadable, consistent, and carrying its planted effects.

Files are read back with pandas/pyarrow only, never through revops ingestion, so these tests
check the generator on its own terms.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from revops.config import load_config
from revops.demo import PLANTED_EFFECTS, DemoFile, generate, planted_count
from revops.demo.writers import demo_mapping, export_columns
from revops.warehouse.schema import table as schema_table

ROOT = Path(__file__).resolve().parents[2]
EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
START = pd.Timestamp("2024-11-01")
END = pd.Timestamp("2026-10-31 23:59:59")


def _read(f: DemoFile) -> pd.DataFrame:
    if f.path.suffix == ".parquet":
        return pq.read_table(f.path).to_pandas()
    if f.path.suffix == ".jsonl":
        return pd.read_json(f.path, lines=True, dtype=False)
    return pd.read_csv(f.path, dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[DemoFile, pd.DataFrame]]:
    files = generate(tmp_path_factory.mktemp("demo"), scale=0.1, seed=7)
    return {f.table: (f, _read(f)) for f in files}


def _frame(demo: dict[str, tuple[DemoFile, pd.DataFrame]], table: str) -> pd.DataFrame:
    return demo[table][1]


def _funnel_persons(demo: dict[str, tuple[DemoFile, pd.DataFrame]]) -> int:
    """Persons the funnel generated: the planted duplicate records (truth/) are extra leads."""
    f, frame = demo["persons"]
    dups = pd.read_csv(f.path.parent / "truth" / "person_duplicates.csv", dtype=str)
    return len(frame) - len(dups) // 2


def _digest(files: list[DemoFile]) -> dict[str, str]:
    return {f.path.name: hashlib.sha256(f.path.read_bytes()).hexdigest() for f in files}


def test_deterministic(tmp_path: Path) -> None:
    one = _digest(generate(tmp_path / "a", scale=0.02, seed=11))
    two = _digest(generate(tmp_path / "b", scale=0.02, seed=11))
    other = _digest(generate(tmp_path / "c", scale=0.02, seed=12))
    assert one == two
    assert all(one[name] != other[name] for name in one if name != "territories.csv")


def test_tiny_scale_still_has_every_table(tmp_path: Path) -> None:
    files = generate(tmp_path, scale=0.01)
    for f in files:
        assert len(_read(f)) > 0, f.table


def test_columns_are_exactly_the_export_columns(demo: dict) -> None:
    for table, (f, frame) in demo.items():
        if f.preset is None:
            expected = list(schema_table(table).column_names)
            if f.path.suffix == ".jsonl":
                keys = set().union(*(json.loads(line) for line in f.path.open()))
                assert keys <= set(expected)
                assert {"event_id", "person_id", "stage"} <= keys
                continue
        else:
            expected = list(export_columns(demo_mapping(f.preset, table)))
        assert list(frame.columns) == expected, table


def _canonical(demo: dict, table: str, column: str) -> pd.Series:
    """A column's values after the preset's value map, as ingestion will see them."""
    f, frame = demo[table]
    if f.preset is None:
        return frame[column]
    mapping = demo_mapping(f.preset, table)
    export = {v: k for k, v in export_columns(mapping).items()}[column]
    values = frame[export].dropna()
    labels = {k.lower(): v for k, v in mapping.values.get(column, {}).items()}
    return values.map(lambda v: labels.get(str(v).lower(), v))


def test_enum_values_pass_the_data_model(demo: dict) -> None:
    for table in demo:
        for col in schema_table(table).columns:
            if col.enum:
                values = set(_canonical(demo, table, col.name).dropna())
                assert values <= set(col.enum), (table, col.name, values - set(col.enum))
    channels = {
        "paid_search",
        "organic_search",
        "paid_social",
        "email",
        "events",
        "webinar",
        "partner",
        "referral",
        "direct",
        "outbound",
    }
    for table, col in [
        ("persons", "source"),
        ("touchpoints", "channel"),
        ("campaigns", "channel"),
        ("opportunities", "lead_source"),
    ]:
        assert set(_canonical(demo, table, col).dropna()) <= channels, (table, col)


def test_required_fields_and_emails(demo: dict) -> None:
    for table, (f, frame) in demo.items():
        mapping = demo_mapping(f.preset, table) if f.preset else None
        names = {v: k for k, v in export_columns(mapping).items()} if mapping else {}
        for col in schema_table(table).columns:
            name = names.get(col.name, col.name)
            if col.required and name in frame:
                missing = int(frame[name].isna().sum())
                assert missing == 0, (table, col.name)
    users = _frame(demo, "users")
    assert users["Email"].str.match(EMAIL).all()


def test_dirty_persons_are_the_planted_ones(demo: dict) -> None:
    persons = _frame(demo, "persons")
    bad_email = ~persons["Email"].str.match(EMAIL)
    created = pd.to_datetime(persons["Create Date"], format="%Y-%m-%d %H:%M", errors="coerce")
    bad_date = created.isna()
    expected = planted_count("dirty_persons", _funnel_persons(demo))
    assert int((bad_email | bad_date).sum()) == expected
    assert abs(int(bad_email.sum()) - int(bad_date.sum())) <= 1
    # nobody else refers to them
    dirty_ids = set(persons.loc[bad_email | bad_date, "Record ID"])
    assert not dirty_ids & set(_frame(demo, "touchpoints")["leadId"])
    assert not dirty_ids & set(_frame(demo, "lifecycle_events")["person_id"])
    clean = created[~bad_date]
    assert clean.min() >= START
    assert clean.max() <= END


def test_referential_integrity(demo: dict) -> None:
    users = set(_frame(demo, "users")["Id"])
    accounts = set(_frame(demo, "accounts")["Id"])
    persons = set(_frame(demo, "persons")["Record ID"])
    campaigns = set(_frame(demo, "campaigns")["Id"])
    opps = _frame(demo, "opportunities")
    opp_ids = set(opps["Id"])
    territories = set(_frame(demo, "territories")["territory_id"])

    def within(values: pd.Series, known: set[str]) -> bool:
        return set(values.dropna()) <= known

    a = _frame(demo, "accounts")
    assert within(a["OwnerId"], users)
    assert within(a["ParentId"], accounts)
    assert within(a["Territory__c"], territories)
    u = _frame(demo, "users")
    assert within(u["ManagerId"], users)
    assert within(u["Territory__c"], territories)
    p = _frame(demo, "persons")
    assert within(p["Associated Company ID"], accounts)
    assert within(p["Contact owner ID"], users)
    assert within(p["Original Source Campaign"], campaigns)
    assert within(opps["AccountId"], accounts)
    assert within(opps["OwnerId"], users)
    assert within(opps["ContactId"], persons)
    assert within(opps["CampaignId"], campaigns)
    h = _frame(demo, "opportunity_stage_history")
    assert within(h["OpportunityId"], opp_ids)
    assert set(h["OpportunityId"]) == opp_ids
    act = _frame(demo, "activities")
    assert within(act["OwnerId"], users)
    assert within(act["WhoId"], persons)
    assert within(act["AccountId"], accounts)
    assert within(act["WhatId"], opp_ids)
    t = _frame(demo, "touchpoints")
    assert within(t["leadId"], persons)
    assert within(t["campaignId"], campaigns)
    s = _frame(demo, "campaign_spend")
    assert within(s["Program ID"], campaigns)
    assert not s.duplicated(["Program ID", "Cost Date"]).any()
    e = _frame(demo, "lifecycle_events")
    assert within(e["person_id"], persons)
    sub = _frame(demo, "subscriptions")
    assert within(sub["account_id"], accounts)
    won = set(opps.loc[opps["IsWon"].eq("true"), "Id"])
    assert within(sub["opportunity_id"], won)
    for table, key in [
        ("accounts", "Id"),
        ("persons", "Record ID"),
        ("opportunities", "Id"),
        ("touchpoints", "marketoGUID"),
        ("activities", "Id"),
        ("lifecycle_events", "event_id"),
        ("subscriptions", "subscription_id"),
    ]:
        assert _frame(demo, table)[key].is_unique, table


def test_opportunities_and_history_agree(demo: dict) -> None:
    opps = _frame(demo, "opportunities").set_index("Id")
    closed = opps["StageName"].isin(["Closed Won", "Closed Lost"])
    assert (opps["IsClosed"].eq("true") == closed).all()
    assert (opps["IsWon"].eq("true") == opps["StageName"].eq("Closed Won")).all()
    assert (~closed).sum() > 0  # some deals are still open on 2026-10-31
    h = _frame(demo, "opportunity_stage_history")
    h = h.assign(t=pd.to_datetime(h["CreatedDate"])).sort_values(["OpportunityId", "t"])
    last = h.groupby("OpportunityId").tail(1).set_index("OpportunityId")
    assert (last["StageName"] == opps.loc[last.index, "StageName"]).all()
    assert (last["CloseDate"] == opps.loc[last.index, "CloseDate"]).all()
    assert h["t"].max() <= pd.Timestamp(END, tz="UTC")
    # walks regress sometimes and push close dates sometimes
    order = {"Prospecting": 0, "Discovery": 1, "Solution": 2, "Proposal": 3, "Negotiation": 4}
    rank = h["StageName"].map(order)
    regressed = (rank.groupby(h["OpportunityId"]).diff() < 0).sum()
    pushed = (h.groupby("OpportunityId")["CloseDate"].nunique() > 1).sum()
    assert regressed > 0
    assert pushed > 0


def _replay(demo: dict) -> dict[str, int]:
    """Apply the lifecycle map to the events; count rejections by kind."""
    model = load_config(ROOT / "examples" / "revops.yaml").model.lifecycle
    persons = _frame(demo, "persons")
    f = demo["persons"][0]
    assert f.preset is not None
    columns = export_columns(demo_mapping(f.preset, "persons"))
    canon = persons.rename(columns=columns).set_index("person_id")
    filled = canon.notna()
    events = _frame(demo, "lifecycle_events")
    events = events.assign(t=pd.to_datetime(events["occurred_at"])).sort_values(["t", "event_id"])
    state: dict[str, str] = {}
    rejected = {"transition": 0, "missing_company": 0, "other": 0}
    for pid, stage in zip(events["person_id"], events["stage"], strict=True):
        current = state.get(pid)
        required = model.stage(stage).required_fields
        if not model.allowed(current, stage):
            rejected["transition"] += 1
        elif not all(filled.at[pid, field] for field in required):
            missing = [fld for fld in required if not filled.at[pid, fld]]
            rejected["missing_company" if missing == ["company"] else "other"] += 1
        else:
            state[pid] = stage
    return rejected


def test_lifecycle_events_valid_except_planted(demo: dict) -> None:
    n = _funnel_persons(demo)
    rejected = _replay(demo)
    assert rejected["transition"] == planted_count("skipped_stage_events", n)
    assert rejected["missing_company"] == planted_count("mql_missing_company", n)
    assert rejected["other"] == 0
    share = (rejected["transition"] + rejected["missing_company"]) / len(
        _frame(demo, "lifecycle_events")
    )
    assert 0.005 < share < 0.02


def test_opportunity_contacts_have_matching_events(demo: dict) -> None:
    opps = _frame(demo, "opportunities")
    events = _frame(demo, "lifecycle_events")
    nb = opps[opps["ContactId"].notna()]
    opp_event = set(events.loc[events["stage"].eq("Opportunity"), "person_id"])
    customer = set(events.loc[events["stage"].eq("Customer"), "person_id"])
    assert set(nb["ContactId"]) <= opp_event
    assert set(nb.loc[nb["IsWon"].eq("true"), "ContactId"]) <= customer


def test_touchpoints_mostly_precede_conversions(demo: dict) -> None:
    t = _frame(demo, "touchpoints")
    events = _frame(demo, "lifecycle_events")
    sql = events[events["stage"].eq("SQL")].groupby("person_id")["occurred_at"].min()
    t = t[t["leadId"].isin(sql.index)]
    when = pd.to_datetime(t["activityDate"]).dt.tz_localize(None)
    before = when < pd.to_datetime(t["leadId"].map(sql))
    assert before.mean() > 0.6


# ---- planted effects ------------------------------------------------------------------------


def _first_stage(demo: dict) -> pd.DataFrame:
    e = _frame(demo, "lifecycle_events")
    e = e.assign(t=pd.to_datetime(e["occurred_at"]))
    return e.groupby(["person_id", "stage"])["t"].min().unstack()


def test_webinar_mqls_convert_to_sql_about_twice_as_often(demo: dict) -> None:
    first = _first_stage(demo)
    source = _canonical(demo, "persons", "source")
    source.index = _frame(demo, "persons").loc[source.index, "Record ID"]
    mql = first["MQL"].dropna().index
    converted = pd.Series(first["SQL"].reindex(mql).notna().to_numpy(), index=mql)
    by_channel = converted.groupby(source.reindex(mql)).mean()
    assert by_channel["webinar"] >= 1.6 * converted.mean()
    assert by_channel.idxmin() == "paid_social"


def test_paid_social_has_highest_cost_per_lead(demo: dict) -> None:
    spend = _frame(demo, "campaign_spend")
    camps = _frame(demo, "campaigns").set_index("Id")
    channel = _canonical(demo, "campaigns", "channel")
    channel.index = camps.index
    cost = spend["Cost"].astype(float).groupby(spend["Program ID"].map(channel)).sum()
    leads = _canonical(demo, "persons", "source").value_counts()
    cpl = (cost / leads).dropna()
    assert cpl.idxmax() == "paid_social"
    lead_to_mql = _first_stage(demo)["MQL"].notna()
    persons = _frame(demo, "persons").set_index("Record ID")
    src = _canonical(demo, "persons", "source")
    src.index = persons.index
    rate = lead_to_mql.reindex(persons.index, fill_value=False).groupby(src).mean()
    assert rate.idxmin() == "paid_social"


def _new_business(demo: dict) -> pd.DataFrame:
    opps = _frame(demo, "opportunities")
    accounts = _frame(demo, "accounts").set_index("Id")
    users = _frame(demo, "users").set_index("Id")
    nb = opps[opps["Type"].eq("New Business")].copy()
    nb["created"] = pd.to_datetime(nb["CreatedDate"]).dt.tz_localize(None)
    nb["closed"] = pd.to_datetime(nb["CloseDate"])
    nb["amount"] = nb["Amount"].astype(float)
    nb["segment"] = nb["AccountId"].map(accounts["Segment__c"])
    nb["region"] = nb["OwnerId"].map(users["Region__c"])
    nb["owner"] = nb["OwnerId"].map(users["Name"])
    return nb[nb["created"] >= START]


def test_enterprise_deals_are_larger_and_slower(demo: dict) -> None:
    nb = _new_business(demo)
    won = nb[nb["IsWon"].eq("true")]
    ent = won["segment"].eq("Enterprise")
    size = won.loc[ent, "amount"].mean() / won.loc[~ent, "amount"].mean()
    cycle = (won["closed"] - won["created"]).dt.days
    length = cycle[ent].mean() / cycle[~ent].mean()
    assert 3.5 < size < 7.0
    assert 1.5 < length < 2.8


def test_emea_wins_less_and_the_star_rep_wins_more(demo: dict) -> None:
    nb = _new_business(demo)
    closed = nb[nb["IsClosed"].eq("true")]
    won = closed["IsWon"].eq("true")
    by_region = won.groupby(closed["region"]).mean()
    assert by_region["EMEA"] < 0.75 * by_region["NA"]
    by_rep = won.groupby(closed["owner"]).mean()
    assert by_rep["Maya Okafor"] >= 1.4 * won.mean()


def test_embedded_bi_churns_far_more(demo: dict) -> None:
    opps = _frame(demo, "opportunities")
    renewals = opps[opps["Type"].eq("Existing Customer - Renewal") & opps["IsClosed"].eq("true")]
    product = renewals["Name"].str.split(" - ").str[1]
    lost = renewals["IsWon"].eq("false")
    embedded = product.eq("Embedded BI")
    assert lost[embedded].mean() >= 2.5 * lost[~embedded].mean()


def test_fit_raises_conversion(demo: dict) -> None:
    persons = _frame(demo, "persons").set_index("Record ID")
    sql = _first_stage(demo)["SQL"].reindex(persons.index).notna()
    senior = persons["Job Title"].str.contains(r"\bVP\b|Chief|^C[EFTIO]O$", regex=True)
    junior = ~persons["Job Title"].str.contains(r"VP|Chief|Director|Manager|^C[EFTIO]O$")
    assert sql[senior].mean() >= 1.6 * sql[junior].mean()
    employees = pd.to_numeric(persons["Number of Employees"])
    assert sql[employees >= 1_000].mean() >= 2 * sql[employees < 50].mean()


def test_recent_touches_precede_mql(demo: dict) -> None:
    first = _first_stage(demo)
    t = _frame(demo, "touchpoints")
    when = pd.to_datetime(t["activityDate"]).dt.tz_localize(None)
    hits = []
    for day in pd.date_range("2025-03-01", "2026-07-01", freq="2MS"):
        known = first.index[(first["Lead"] < day).to_numpy()]
        mql = first["MQL"].reindex(known)
        open_ = known[~(mql < day).to_numpy()]
        recent = set(t.loc[(when >= day - pd.Timedelta(days=14)) & (when < day), "leadId"])
        is_recent = np.array([p in recent for p in open_])
        m = first["MQL"].reindex(open_)
        converted = ((m >= day) & (m < day + pd.Timedelta(days=30))).to_numpy()
        hits.append(
            (
                converted[is_recent].sum(),
                is_recent.sum(),
                converted[~is_recent].sum(),
                (~is_recent).sum(),
            )
        )
    a, b, c, d = np.array(hits).sum(axis=0)
    assert (a / b) >= 4 * (c / d)


def test_planted_effects_are_documented() -> None:
    names = {e.name for e in PLANTED_EFFECTS}
    assert {
        "webinar_mql_to_sql",
        "paid_social_cpl",
        "enterprise_deals",
        "emea_win_rate",
        "star_rep",
        "embedded_bi_churn",
        "fit_conversion",
        "touch_recency",
        "dirty_persons",
        "skipped_stage_events",
        "mql_missing_company",
    } <= names
    assert all(e.description and e.expected and e.metric for e in PLANTED_EFFECTS)
