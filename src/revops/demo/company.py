"""Assembling Northwind Analytics: run the generators in causal order, then give rows their ids.

The generators work on integer indices; only here do accounts, persons, deals and the rest get
the ids their source systems would have issued (Salesforce 18-character ids, HubSpot record
numbers, Marketo GUIDs), numbered in creation order as a real system numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.demo import (
    consent,
    costs,
    deals,
    funnel,
    marketing,
    people,
    revenue,
    splits,
    success,
)
from revops.demo import identity as identity_truth
from revops.demo._common import (
    CHANNELS,
    END,
    NAT,
    PRODUCTS,
    BoolArray,
    IntArray,
    StrArray,
    business_times,
    choice_idx,
    days,
    numeric_ids,
    sf_ids,
)
from revops.demo.org import build_org
from revops.warehouse.schema import REGIONS, SEGMENTS, TOUCH_TYPES


@dataclass(frozen=True)
class Company:
    """Every table in canonical columns (typed), plus what writers need to dirty persons."""

    tables: dict[str, pd.DataFrame]
    dirty_persons: BoolArray  # aligned with tables["persons"] rows
    planted: dict[str, int]
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)  # <out>/truth/*.csv


def _ids_in_order(prefix: str, order_key: np.ndarray) -> StrArray:
    """Salesforce ids handed out in the order of `order_key` (creation time)."""
    rank = np.empty(len(order_key), dtype=np.int64)
    rank[np.argsort(order_key, kind="stable")] = np.arange(len(order_key))
    return sf_ids(prefix, len(order_key))[rank]


def _lookup(ids: StrArray, index: IntArray) -> np.ndarray:
    """ids[index] with -1 mapped to None."""
    out = np.asarray(ids, dtype=object)[np.maximum(index, 0)]
    out[index < 0] = None
    return out


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Arrow-backed strings: a fraction of the memory of Python str objects."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            arr = pa.array(col.to_numpy(), type=pa.string(), from_pandas=True)
            out[name] = pd.Series(pd.arrays.ArrowStringArray(arr), index=frame.index)
        else:
            out[name] = col
    return pd.DataFrame(out)


def _table(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A frame straight from numpy columns, text converted by Arrow without Python objects."""
    out: dict[str, object] = {}
    for name, values in columns.items():
        if values.dtype.kind in "UO":
            arr = pa.array(values, type=pa.string(), from_pandas=True)
            out[name] = pd.arrays.ArrowStringArray(arr)
        else:
            out[name] = values
    return pd.DataFrame(out)


def _take(values: np.ndarray, index: IntArray) -> pd.arrays.ArrowStringArray:
    """values[index] as Arrow-backed strings, -1 as missing, without Python str objects."""
    arr = pa.array(values, type=pa.string())
    taken = arr.take(pa.array(index, type=pa.int64(), mask=index < 0))
    return pd.arrays.ArrowStringArray(taken)


def build(scale: float, seed: int) -> Company:
    rng = np.random.default_rng(seed)
    org = build_org(rng, scale)
    camps = marketing.build_campaigns(rng, scale)
    accounts = people.build_accounts(rng, max(60, round(5_000 * scale)), org)

    n_persons = max(400, round(50_000 * scale))
    created = business_times(rng, n_persons)
    channel = choice_idx(rng, list(people.CHANNEL_SHARE.values()), n_persons)
    campaign, created = marketing.pick_campaign(rng, camps, channel, created)
    order = np.argsort(created, kind="stable")
    persons = people.build_persons(rng, created[order], channel[order], campaign[order], accounts)
    path = funnel.progress(rng, persons, accounts, org, np.random.default_rng([seed, 5005]))

    legacy = revenue.legacy_book(rng, accounts, org)
    new_biz = deals.new_business(rng, persons, path, accounts, org)
    first = deals.cross_sell(deals.Opps.concat([legacy, new_biz]))
    won = np.flatnonzero(first.outcome == deals.OUTCOME_WON)
    subs, follow_on = revenue.contracts(rng, first.take(won), won, accounts, org, len(first))
    opps = deals.Opps.concat([first, follow_on])

    won_at = np.full(persons.n, NAT)
    lost_at = np.full(persons.n, NAT)
    nb_person = new_biz.person
    is_won = new_biz.outcome == deals.OUTCOME_WON
    is_lost = new_biz.outcome == deals.OUTCOME_LOST
    won_at[nb_person[is_won]] = new_biz.close[is_won]
    lost_at[nb_person[is_lost]] = new_biz.close[is_lost]
    events, planted = funnel.lifecycle_events(
        rng, persons, path, funnel.OppOutcome(won_at, lost_at)
    )
    history = deals.stage_history(rng, opps)
    acts = deals.activities(rng, persons, path, accounts, opps)
    mql = events[events["stage"].eq("MQL")]
    touches = marketing.build_touchpoints(
        rng,
        camps,
        marketing.Milestones(
            created=persons.created,
            channel=persons.channel,
            campaign=persons.campaign,
            fit=persons.fit,
            mql_times=mql["occurred_at"].to_numpy(dtype="datetime64[s]"),
            mql_person=mql["person"].to_numpy(),
            sal=path.sal,
            sql=path.sql,
            webinar_at=path.webinar_at,
            include=~path.dirty,
        ),
    )
    spend, budget = marketing.build_spend(rng, camps, persons.campaign[~path.dirty])

    # ---- ids -----------------------------------------------------------------------------
    opp_owner_of_person = np.full(persons.n, -1, dtype=np.int64)
    opp_owner_of_person[new_biz.person] = new_biz.owner
    account_created = accounts.created_base.copy()
    visible = np.flatnonzero(path.matched)
    np.minimum.at(
        account_created,
        persons.company_account[visible],
        persons.created[visible] - days(rng.uniform(0.01, 3.0, len(visible))),
    )
    np.minimum.at(account_created, opps.account, opps.created - days(0.5))
    account_ids = _ids_in_order("001", account_created)
    user_ids = org.users["user_id"].to_numpy()
    campaign_ids = _ids_in_order("701", camps.start)
    person_ids = numeric_ids(rng, persons.n, 51_000_000, 40)
    opp_ids = _ids_in_order("006", opps.created)

    customer_accounts = np.zeros(accounts.n, dtype=bool)
    customer_accounts[subs["account"].to_numpy()] = True
    csm_of_account = revenue.account_csm(org, accounts, np.arange(accounts.n))
    accounts_df = pd.DataFrame(
        {
            "account_id": account_ids,
            "name": accounts.name,
            "domain": accounts.domain,
            "industry": np.array(people.INDUSTRIES)[accounts.industry],
            "employees": accounts.employees,
            "annual_revenue": accounts.annual_revenue,
            "country": accounts.country,
            "region": np.array(REGIONS)[accounts.region],
            "segment": np.array(SEGMENTS)[accounts.segment],
            "owner_id": user_ids[accounts.owner],
            "territory_id": org.territories["territory_id"].to_numpy()[accounts.territory],
            "parent_account_id": _lookup(account_ids, accounts.parent),
            "created_at": account_created,
            # customers have a CSM (the owner of their renewals); prospects have none
            "csm_id": _lookup(user_ids, np.where(customer_accounts, csm_of_account, -1)),
        }
    ).sort_values("created_at", kind="stable")

    reached_sql = ~np.isnat(path.sql)
    owner = np.where(
        reached_sql,
        np.where(
            opp_owner_of_person >= 0, opp_owner_of_person, accounts.owner[persons.company_account]
        ),
        path.sal_owner,
    )
    account_of = np.where(path.matched, persons.company_account, -1)
    contact = path.matched & (reached_sql | customer_accounts[persons.company_account])
    last_event = events.groupby("person")["occurred_at"].max()
    updated = persons.created.copy()
    updated[last_event.index.to_numpy()] = last_event.to_numpy(dtype="datetime64[s]")
    updated = np.minimum(updated + days(rng.exponential(20.0, persons.n)), END)
    stage_now = events.drop_duplicates("person", keep="last").set_index("person")["stage"]
    persons_df = pd.DataFrame(
        {
            "person_id": person_ids,
            "email": persons.email,
            "first_name": persons.first,
            "last_name": persons.last,
            "company": persons.company_text,
            "title": persons.title,
            "phone": persons.phone,
            "country": accounts.country[persons.company_account],
            "state": persons.state,
            "employees": persons.captured_employees,
            "industry": persons.captured_industry,
            "source": np.array(CHANNELS)[persons.channel],
            "source_campaign_id": _lookup(campaign_ids, persons.campaign),
            "person_type": np.where(contact, "contact", "lead"),
            "account_id": _lookup(account_ids, account_of),
            "owner_id": _lookup(user_ids, owner),
            "lifecycle_stage": pd.Series(np.arange(persons.n)).map(stage_now).to_numpy(),
            "created_at": persons.created,
            "updated_at": updated,
        }
    )

    camp_df = camps.frame.assign(campaign_id=campaign_ids, budget=budget)
    camp_df = camp_df.iloc[np.argsort(camps.start, kind="stable")]
    spend_df = pd.DataFrame(
        {
            "campaign_id": campaign_ids[spend["campaign"].to_numpy(dtype=np.int64)],
            "spend_date": spend["spend_date"].to_numpy(dtype="datetime64[s]"),
            "amount": spend["amount"].to_numpy(dtype=np.float64),
        }
    ).sort_values(["spend_date", "campaign_id"], kind="stable")

    kind = np.array(deals.OPP_TYPES)[opps.kind]
    product = np.array(PRODUCTS)[opps.product]
    short = np.array([nm.rsplit(" ", 1)[0] for nm in accounts.name])[opps.account]
    suffix = np.select([opps.kind == 1, opps.kind == 2], [" - Expansion", " - Renewal"], "")
    final_stage = history.final_stage
    opps_df = pd.DataFrame(
        {
            "opportunity_id": opp_ids,
            "name": np.char.add(np.char.add(np.char.add(short, " - "), product), suffix),
            "account_id": account_ids[opps.account],
            "owner_id": user_ids[opps.owner],
            "person_id": _lookup(person_ids, opps.person),
            "opportunity_type": kind,
            "stage": np.array(deals.STAGE_NAMES)[final_stage],
            # an open deal still in an early stage carries its first estimate, as its last
            # OpportunityHistory row does (a CRM writes a history row on every amount change)
            "amount": history.final_amount,
            "probability": deals.STAGE_PROBABILITY[final_stage],
            "forecast_category": deals.STAGE_FORECAST[final_stage],
            "next_step": deals.next_steps(np.random.default_rng([seed, 6006]), final_stage),
            "lead_source": _lookup(np.array(CHANNELS), opps.source),
            "campaign_id": _lookup(campaign_ids, opps.campaign),
            "created_date": opps.created,
            "close_date": history.final_close,
            "is_closed": final_stage >= 5,
            "is_won": final_stage == 5,
        }
    ).sort_values("created_date", kind="stable")

    hist = history.frame.sort_values(["changed_at", "opp"], kind="stable")
    hist_df = pd.DataFrame(
        {
            "history_id": sf_ids("008", len(hist)),
            "opportunity_id": opp_ids[hist["opp"].to_numpy()],
            "stage": hist["stage"].to_numpy(),
            "changed_at": hist["changed_at"].to_numpy(),
            "amount": hist["amount"].to_numpy(),
            "close_date": hist["close_date"].to_numpy(),
            "forecast_category": hist["forecast_category"].to_numpy(),
            "probability": hist["probability"].to_numpy(),
        }
    )

    is_event = acts["kind"].eq("meeting").to_numpy()
    act_ids = np.empty(len(acts), dtype="<U18")
    act_ids[is_event] = sf_ids("00U", int(is_event.sum()))
    act_ids[~is_event] = sf_ids("00T", int((~is_event).sum()))
    acts_df = _table(
        {
            "activity_id": act_ids,
            "activity_type": acts["kind"].to_numpy(),
            "occurred_at": acts["occurred_at"].to_numpy(),
            "user_id": user_ids[acts["user"].to_numpy()],
            "person_id": _lookup(person_ids, acts["person"].to_numpy()),
            "account_id": _lookup(account_ids, acts["account"].to_numpy()),
            "opportunity_id": _lookup(opp_ids, acts["opp"].to_numpy()),
            "subject": acts["subject"].to_numpy(),
            "outcome": acts["outcome"].to_numpy(),
        }
    )

    t_camp = touches["campaign"].to_numpy()
    t_channel = touches["channel"].to_numpy()
    slug = np.char.replace(np.char.lower(camps.frame["name"].to_numpy().astype(str)), " ", "_")
    utm_source, utm_medium = marketing.utm_codes(rng, t_channel)
    touches_df = pd.DataFrame(
        {
            "touchpoint_id": _take(
                (np.arange(len(touches), dtype=np.int64) + 8_100_000_000).astype(str),
                np.arange(len(touches)),
            ),
            "person_id": _take(person_ids, touches["person"].to_numpy()),
            "occurred_at": touches["occurred_at"].to_numpy(),
            "channel": _take(np.array(CHANNELS), t_channel),
            "touch_type": _take(np.array(TOUCH_TYPES), touches["touch_type"].to_numpy()),
            "utm_source": _take(np.array(marketing.UTM_SOURCES), utm_source),
            "utm_medium": _take(np.array(marketing.UTM_MEDIUMS), utm_medium),
            "utm_campaign": _take(slug, np.where(utm_source >= 0, t_camp, -1)),
            "campaign_id": _take(campaign_ids, t_camp),
        }
    )

    events_df = _table(
        {
            "event_id": np.char.add(
                "LCE-", np.char.zfill(np.arange(1, len(events) + 1).astype(str), 8)
            ),
            "person_id": person_ids[events["person"].to_numpy()],
            "stage": events["stage"].to_numpy(),
            "occurred_at": events["occurred_at"].to_numpy(),
            "source": events["source"].to_numpy(),
        }
    )

    subs = subs.sort_values(["start", "account", "product"], kind="stable")
    subs_df = pd.DataFrame(
        {
            "subscription_id": np.char.add(
                "SUB-", np.char.zfill(np.arange(1, len(subs) + 1).astype(str), 7)
            ),
            "account_id": account_ids[subs["account"].to_numpy()],
            "product": np.array(PRODUCTS)[subs["product"].to_numpy()],
            "mrr": subs["mrr"].to_numpy(),
            "start_date": subs["start"].to_numpy(),
            "end_date": subs["end"].to_numpy(),
            "opportunity_id": opp_ids[subs["opp"].to_numpy()],
        }
    )

    # planted duplicates and unmatched leads, from their own random stream, with their truth
    ident = identity_truth.plant(
        seed, persons_df, accounts_df, path.dirty, account_ids[persons.company_account]
    )
    persons_df, accounts_df = ident.persons, ident.accounts
    planted.update(ident.planted)
    tables = {
        "users": org.users,
        "territories": org.territories,
        "accounts": accounts_df,
        "persons": persons_df,
        "campaigns": camp_df,
        "campaign_spend": spend_df,
        "touchpoints": touches_df,
        "opportunities": opps_df,
        "opportunity_stage_history": hist_df,
        "activities": acts_df,
        "lifecycle_events": events_df,
        "subscriptions": subs_df,
    }
    # customer success signals, from their own random stream (other files stay byte-identical)
    tables.update(success.build(np.random.default_rng([seed, 7007]), subs, account_ids))
    # the go-to-market team's costs (CAC's inputs), from their own random stream too
    tables["sales_costs"] = costs.build(np.random.default_rng([seed, 9009]), org.users, opps_df)
    # consent ledger, from its own random stream too
    tables["consent_ledger"] = consent.build(np.random.default_rng([seed, 8008]), persons_df)
    # deals two AEs co-sold (revenue splits), from their own random stream too
    tables["opportunity_splits"] = splits.build(
        np.random.default_rng([seed, 6006]), org.users, opps_df
    )
    planted["dirty_persons"] = int(path.dirty.sum())
    frames = {k: _compact(v.reset_index(drop=True)) for k, v in tables.items()}
    return Company(frames, ident.dirty, planted, ident.truth)


__all__ = ["Company", "build"]
