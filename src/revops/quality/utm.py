"""The UTM and campaign taxonomy audit: are touchpoints and campaigns tagged the agreed way?

Each of utm_source, utm_medium and channel is classified in the database as ok, `missing`,
`case` (the right word in the wrong case: 'LinkedIn' for 'linkedin', which splits a channel in
two in every report) or `unknown`. Missing UTM parameters are only an issue outside the
untracked channels (direct and organic traffic carry none by nature). Spend is reconciled with
campaigns both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from revops.config.quality import UtmTaxonomy
from revops.errors import RevOpsError
from revops.warehouse import Warehouse

ISSUES = ("missing", "case", "unknown")
FIELDS = ("utm_source", "utm_medium", "channel")


class TaxonomyMissing(RevOpsError):
    """The operating model has no `quality.utm` taxonomy to audit against."""


@dataclass(frozen=True)
class UtmAudit:
    by_campaign: pd.DataFrame  # campaign_id, campaign, touchpoints, missing, case, unknown
    by_month: pd.DataFrame  # month, touchpoints, missing, case, unknown
    values: pd.DataFrame  # field, value, issue, touchpoints
    campaign_channels: pd.DataFrame  # campaign_id, campaign, channel, issue
    campaigns_without_spend: pd.DataFrame  # campaign_id, campaign, channel, status, budget
    spend_without_campaign: pd.DataFrame  # campaign_id, spend_rows, amount


def classify(
    value: ir.StringValue, allowed: tuple[str, ...], *, may_be_missing: ir.BooleanValue
) -> ir.StringValue:
    """'missing', 'case', 'unknown' or null (fine) for each value, against `allowed`."""
    lowered = sorted({a.lower() for a in allowed})
    blank = value.isnull() | (value.strip() == "")
    return ibis.cases(
        (blank & may_be_missing, ibis.null("string")),
        (blank, "missing"),
        (value.isin(list(allowed)), ibis.null("string")),
        (value.strip().lower().isin(lowered), "case"),
        else_="unknown",
    )


def _issues(t: ir.Table, tax: UtmTaxonomy) -> ir.Table:
    untracked = t.channel.isin(list(tax.untracked_channels)).fill_null(False)
    never = ibis.literal(False)
    return t.mutate(
        issue_utm_source=classify(t.utm_source, tax.sources, may_be_missing=untracked),
        issue_utm_medium=classify(t.utm_medium, tax.mediums, may_be_missing=untracked),
        issue_channel=classify(t.channel, tax.channels, may_be_missing=never),
    )


def _tagged(t: ir.Table) -> ir.Table:
    """Touchpoints counted per campaign, month and the three tagged values: a few hundred rows
    for half a million touches, so each value is classified once per group, not once per touch
    (trimming and lower-casing every touch three times was most of the audit's time)."""
    month = t.occurred_at.truncate("M").cast("date")
    return t.group_by([t.campaign_id, month.name("month"), *FIELDS]).aggregate(n=t.count())


def _counts(t: ir.Table) -> dict[str, ir.Value]:
    """Touchpoints and (touchpoint, field) issues of `_tagged` groups with their issues."""
    out: dict[str, ir.Value] = {"touchpoints": t.n.sum()}
    for issue in ISSUES:
        total: ir.IntegerValue = ibis.literal(0)
        for f in FIELDS:
            total = total + ibis.ifelse((t[f"issue_{f}"] == issue).fill_null(False), t.n, 0).sum()
        out[issue] = total
    return out


def _offending_values(tp: ir.Table, field: str) -> ir.Table:
    bad = tp.filter(tp[f"issue_{field}"].notnull())
    return (
        bad.group_by(value=bad[field], issue=bad[f"issue_{field}"])
        .aggregate(touchpoints=bad.n.sum())
        .mutate(field=ibis.literal(field))
        .select("field", "value", "issue", "touchpoints")
    )


def audit(wh: Warehouse, tax: UtmTaxonomy | None) -> UtmAudit:
    """Audit touchpoints and campaigns against `tax`; counts are (touchpoint, field) issues."""
    if tax is None:
        raise TaxonomyMissing("revops.yaml has no quality.utm taxonomy to audit against")
    # the groups fetched once: the by-campaign, by-month and by-value queries below each
    # grouped every touchpoint again (9.3 of the audit's 9.6 s CPU at 10x, 2026-12-06)
    tp = _issues(ibis.memtable(wh.to_arrow(_tagged(wh.table("touchpoints")))), tax)
    campaigns = wh.table("campaigns")
    spend = wh.table("campaign_spend")

    per_campaign = tp.group_by("campaign_id").aggregate(**_counts(tp))
    names = campaigns.select("campaign_id", campaign=campaigns.name)
    by_campaign = per_campaign.left_join(names, "campaign_id").select(
        "campaign_id", "campaign", "touchpoints", *ISSUES
    )
    by_month = tp.group_by("month").aggregate(**_counts(tp)).order_by("month")
    values = ibis.union(*(_offending_values(tp, f) for f in FIELDS)).order_by(
        [ibis.desc("touchpoints"), "field", "value"]
    )
    chan = campaigns.mutate(
        issue=classify(campaigns.channel, tax.channels, may_be_missing=ibis.literal(False))
    )
    campaign_channels = chan.filter(chan.issue.notnull()).select(
        "campaign_id", campaign=chan.name, channel=chan.channel, issue=chan.issue
    )
    unspent = campaigns.anti_join(spend, "campaign_id")
    no_spend = unspent.select(
        "campaign_id",
        campaign=unspent.name,
        channel=unspent.channel,
        status=unspent.status,
        budget=unspent.budget,
    )
    unmatched = spend.anti_join(campaigns, "campaign_id")
    orphan = unmatched.group_by("campaign_id").aggregate(
        spend_rows=unmatched.count(), amount=unmatched.amount.sum()
    )
    run = wh.execute
    return UtmAudit(
        by_campaign=run(by_campaign).sort_values(
            ["unknown", "case", "missing", "touchpoints"], ascending=False, ignore_index=True
        ),
        by_month=run(by_month),
        values=run(values),
        campaign_channels=run(campaign_channels.order_by("campaign_id")),
        campaigns_without_spend=run(no_spend.order_by("campaign_id")),
        spend_without_campaign=run(orphan.order_by("campaign_id")),
    )
