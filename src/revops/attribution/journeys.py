"""Journeys: the touches before each conversion (and each non-conversion), inside a lookback.

Conversion events, per type (`ConversionType`):

* `mql`, `sql`: an entity's first entry into the MQL (SQL) lifecycle stage (lifecycle_history);
  no revenue. Non-conversions: entities with touches that never entered the stage, ending at
  their last touch.
* `opportunity`: each opportunity of the configured `opportunity_types`, at the end of its
  created_date, with its amount as revenue (pipeline). Non-conversions: entities with touches
  and no such opportunity, ending at their last touch.
* `closed_won`: each won opportunity of those types at the end of its close_date, with its
  amount (revenue). Non-conversions: the lost ones, at their close date.

The entity is the person (`level: person`) or the account (`level: account`: the touches of all
persons of the account, for account-based attribution). A journey holds the entity's touches
with `converted_at - lookback <= occurred_at <= converted_at`, in time order.

Milestones, for the U/W-shaped and full-path models: the lead-creation touch is the last touch
at or before the lead's creation (persons.created_at; for an account, its first person's); the
opportunity-creation touch is the last touch at or before the end of the opportunity's
created_date. A journey without a touch at or before the milestone has none (see rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.config.attribution import AttributionConfig, ConversionType
from revops.warehouse import Warehouse

DAY = pd.Timedelta(days=1)
END_OF_DAY = DAY - pd.Timedelta(microseconds=1)


@dataclass(frozen=True)
class Inputs:
    """The four tables journeys are built from, as plain frames."""

    touchpoints: pd.DataFrame  # touchpoint_id person_id occurred_at channel campaign_id
    persons: pd.DataFrame  # person_id account_id created_at
    lifecycle: pd.DataFrame  # person_id to_stage changed_at
    opportunities: pd.DataFrame  # opportunity_id account_id person_id amount created_date …


def load_inputs(wh: Warehouse) -> Inputs:
    """Read the columns journeys need (the only I/O of journey building)."""

    def frame(table: str, cols: list[str]) -> pd.DataFrame:
        # in the order of the selected columns (ids first): the same data, the same journeys
        df: pd.DataFrame = wh.to_arrow(wh.table(table).select(cols).order_by(cols)).to_pandas()
        return df

    return Inputs(
        frame(
            "touchpoints", ["touchpoint_id", "person_id", "occurred_at", "channel", "campaign_id"]
        ),
        frame("persons", ["person_id", "account_id", "created_at"]),
        frame("lifecycle_history", ["person_id", "to_stage", "changed_at"]),
        frame(
            "opportunities",
            [
                "opportunity_id",
                "account_id",
                "person_id",
                "amount",
                "created_date",
                "close_date",
                "is_closed",
                "is_won",
                "opportunity_type",
            ],
        ),
    )


def _entity_touches(inp: Inputs, cfg: AttributionConfig) -> pd.DataFrame:
    t = inp.touchpoints.merge(inp.persons[["person_id", "account_id"]], on="person_id", how="left")
    t["entity_id"] = t["person_id"] if cfg.level == "person" else t["account_id"]
    t["occurred_at"] = pd.to_datetime(t["occurred_at"])
    return t.dropna(subset=["entity_id"])


def _lead_times(inp: Inputs, cfg: AttributionConfig) -> pd.Series:
    p = inp.persons.assign(created_at=pd.to_datetime(inp.persons["created_at"]))
    key = "person_id" if cfg.level == "person" else "account_id"
    return p.dropna(subset=[key]).groupby(key)["created_at"].min()


def conversions(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> pd.DataFrame:
    """One row per conversion and non-conversion: conversion_id entity_id converted_at
    converted revenue opp_at."""
    return _conversions(inp, conversion, cfg, _entity_touches(inp, cfg))


def _conversions(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, touches: pd.DataFrame
) -> pd.DataFrame:
    """`conversions`, given the entity touches (`_entity_touches`, built once per journey)."""
    key = "person_id" if cfg.level == "person" else "account_id"
    last_touch = touches.groupby("entity_id")["occurred_at"].max()
    if conversion in ("mql", "sql"):
        stage = conversion.upper()
        lh = inp.lifecycle[inp.lifecycle["to_stage"] == stage].merge(
            inp.persons[["person_id", "account_id"]], on="person_id", how="left"
        )
        first = lh.dropna(subset=[key]).groupby(key)["changed_at"].min()
        conv = pd.DataFrame(
            {"entity_id": first.index, "converted_at": pd.to_datetime(first.to_numpy())}
        )
        conv["conversion_id"] = f"{conversion}:" + conv["entity_id"].astype(str)
        conv["revenue"] = 0.0
        conv["opp_at"] = pd.NaT
    else:
        o = inp.opportunities
        o = o[o["opportunity_type"].isin(cfg.opportunity_types)].dropna(subset=[key])
        if conversion == "closed_won":
            o = o[o["is_closed"].astype(bool)]
            when = pd.to_datetime(o["close_date"]) + END_OF_DAY
        else:
            when = pd.to_datetime(o["created_date"]) + END_OF_DAY
        conv = pd.DataFrame(
            {
                "entity_id": o[key].to_numpy(),
                "converted_at": when.to_numpy(),
                "conversion_id": (f"{conversion}:" + o["opportunity_id"].astype(str)).to_numpy(),
                "revenue": o["amount"].fillna(0.0).astype(float).to_numpy(),
                "opp_at": (pd.to_datetime(o["created_date"]) + END_OF_DAY).to_numpy(),
            }
        )
        if conversion == "closed_won":
            lost = ~o["is_won"].astype(bool).to_numpy()
            conv["converted"] = ~lost
            conv.loc[lost, "revenue"] = 0.0
            conv.loc[lost, "conversion_id"] = conv.loc[lost, "conversion_id"].str.replace(
                "closed_won:", "closed_won:lost:", regex=False
            )
    if "converted" not in conv:
        conv["converted"] = True
        never = last_touch[~last_touch.index.isin(conv["entity_id"])]
        nulls = pd.DataFrame(
            {
                "entity_id": never.index,
                "converted_at": never.to_numpy(),
                "conversion_id": f"{conversion}:none:" + never.index.astype(str),
                "revenue": 0.0,
                "opp_at": pd.NaT,
                "converted": False,
            }
        )
        conv = pd.concat([conv, nulls], ignore_index=True)
    return conv


def build_journeys(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> pd.DataFrame:
    """Touches of every journey, in order: one row per (conversion, touch).

    Columns: conversion_id converted revenue entity_id converted_at touchpoint_id person_id
    account_id channel campaign_id occurred_at days_before pos n is_lead is_opp.
    Conversions with no touch in the lookback have no rows (they cannot be attributed).
    """
    touches = _entity_touches(inp, cfg)
    conv = _conversions(inp, conversion, cfg, touches)
    conv["lead_at"] = conv["entity_id"].map(_lead_times(inp, cfg))
    j = conv.merge(touches, on="entity_id", how="inner")
    lookback = pd.Timedelta(days=cfg.lookback_days.days(conversion))
    inside = (j["occurred_at"] <= j["converted_at"]) & (
        j["occurred_at"] >= j["converted_at"] - lookback
    )
    j = j[inside].sort_values(["conversion_id", "occurred_at", "touchpoint_id"], kind="stable")
    j = j.reset_index(drop=True)
    grp = j.groupby("conversion_id", sort=False)
    j["pos"] = grp.cumcount()
    j["n"] = grp["pos"].transform("size")
    j["days_before"] = (j["converted_at"] - j["occurred_at"]).dt.total_seconds() / 86400.0
    j["is_lead"] = _last_at_or_before(j, "lead_at")
    j["is_opp"] = _last_at_or_before(j, "opp_at")
    return j


def _last_at_or_before(j: pd.DataFrame, column: str) -> np.ndarray:
    """True on each journey's last touch at or before `column` (a milestone time)."""
    before = (j["occurred_at"] <= j[column]).fillna(False).to_numpy(dtype=bool)
    marked = pd.Series(np.where(before, j["pos"].to_numpy(), -1), index=j.index)
    last = marked.groupby(j["conversion_id"], sort=False).transform("max").to_numpy()
    return np.asarray(before & (j["pos"].to_numpy() == last), dtype=bool)
