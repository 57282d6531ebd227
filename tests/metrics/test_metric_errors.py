"""Clear errors: unknown metrics, dimensions a metric does not support, unknown columns, and
broken references between metrics, which are refused when the operating model is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from revops.config import ConfigError, OperatingModel, load_config
from revops.config.loader import parse_yaml, validate
from revops.metrics import compute, formula, metric_sql, supported_dimensions
from revops.metrics.errors import MetricError
from revops.warehouse import Warehouse

CONFIG = Path(__file__).parents[2] / "examples" / "revops.yaml"
MODEL = load_config(CONFIG).model


def _with_metrics(*extra: dict[str, Any]) -> OperatingModel:
    data = MODEL.model_dump(mode="json")
    data["metrics"] = [*data["metrics"], *extra]
    return OperatingModel.model_validate(data)


def _metric(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "description": "test", "owner": "revops", "over_time": "flow", **kw}


def test_unknown_dimension_names_the_metric_and_what_is_available(warehouse: Warehouse) -> None:
    with pytest.raises(MetricError) as err:
        compute(warehouse, MODEL, "marketing_spend", by=["region"])
    assert str(err.value) == (
        "metric 'marketing_spend' cannot use 'region': campaign_spend has no column 'region'; "
        "available: channel, campaign, campaign_id, spend_date, amount, campaign.campaign_id, "
        "campaign.name, campaign.channel, campaign.campaign_type, campaign.status, "
        "campaign.start_date, campaign.end_date, campaign.budget"
    )
    assert "\n" not in str(err.value)
    with pytest.raises(MetricError, match="persons has no column 'colour'; available: channel"):
        compute(warehouse, MODEL, "leads", by=["colour"])
    with pytest.raises(MetricError, match="persons has no column 'colour'"):
        compute(warehouse, MODEL, "leads", where="colour == 'red'")


def test_a_ratio_is_cut_only_by_what_all_its_components_resolve() -> None:
    assert supported_dimensions(MODEL, "leads") == (
        "channel", "campaign", "segment", "region", "owner",
    )  # fmt: skip
    assert "opportunity_type" in supported_dimensions(MODEL, "win_rate")
    model = _with_metrics(
        _metric("spend_per_lead", type="ratio", numerator="marketing_spend",
                denominator="leads", dimensions=["channel", "region"]),
    )  # fmt: skip
    assert supported_dimensions(model, "spend_per_lead") == ("channel",)
    with pytest.raises(
        MetricError,
        match="'spend_per_lead' \\(through 'marketing_spend'\\) cannot use 'region'",
    ):
        metric_sql_for(model, "spend_per_lead", by=["region"])
    # opportunities reach `industry` through two relations (account and person): a bare name is
    # ambiguous and the error says which paths to choose from; the dotted path works.
    with pytest.raises(MetricError, match=r"say account\.industry or person\.industry"):
        metric_sql_for(MODEL, "win_rate", by=["industry"])
    assert "industry" in metric_sql_for(MODEL, "win_rate", by=["account.industry"])
    with pytest.raises(MetricError, match="'period' is a result column"):
        metric_sql_for(MODEL, "leads", by=["period"])


def metric_sql_for(model: OperatingModel, name: str, **kw: Any) -> str:
    wh = Warehouse.connect(":memory:")
    try:
        return metric_sql(wh, model, name, **kw)
    finally:
        wh.close()


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(MetricError, match="unknown metric 'revenue'; known metrics: leads, mqls"):
        formula(MODEL, "revenue")


def test_unknown_column_in_a_filter(warehouse: Warehouse) -> None:
    model = _with_metrics(
        _metric("big_deals", type="simple", filter="amount > 100 and size == 'xl'",
                measure={"table": "opportunities", "agg": "count"}),
    )  # fmt: skip
    with pytest.raises(MetricError) as err:
        compute(warehouse, model, "big_deals")
    msg = str(err.value)
    assert msg.startswith("metric 'big_deals': expression \"amount > 100 and size == 'xl'\"")
    assert "unknown column 'size'; available columns: opportunity_id, name," in msg


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("won_deals / lost_deals", "refers to unknown metric 'lost_deals'"),
        ("sales_velocity * 2", "cycle: sales_velocity -> sales_velocity"),
        ("won_deals.sum()", r"attribute access \(x.y\) is not allowed"),
    ],
)
def test_broken_derived_metrics_are_refused_at_load_time(expr: str, message: str) -> None:
    text = CONFIG.read_text().replace(
        '"open_opportunities * win_rate * avg_deal_size / sales_cycle_days"', repr(expr)
    )
    with pytest.raises(ConfigError, match=message):
        validate(*parse_yaml(text, "revops.yaml"), "revops.yaml")


def test_a_cycle_through_ratios_is_refused() -> None:
    with pytest.raises(ValidationError, match="cycle: a -> b -> a"):
        _with_metrics(
            _metric("a", type="ratio", numerator="b", denominator="leads"),
            _metric("b", type="derived", expr="a * 2"),
        )


def test_formulas_read_as_definitions() -> None:
    assert formula(MODEL, "won_deals") == "count(opportunities) where is_won, by close_date"
    assert formula(MODEL, "win_rate") == "won_deals / closed_deals"
    assert formula(MODEL, "mqls") == (
        "count_distinct(lifecycle_history.person_id) where to_stage == 'MQL', by changed_at"
    )
    assert formula(MODEL, "sales_cycle_days") == (
        "avg(days_between(created_date, close_date) over opportunities) where is_won, by close_date"
    )
    assert formula(MODEL, "sales_velocity") == (
        "open_opportunities * win_rate * avg_deal_size / sales_cycle_days"
    )
    assert formula(MODEL, "lead_to_mql") == (
        "share of person_id in (persons) reaching (lifecycle_history where to_stage == 'MQL') "
        "within 60 days, by created_at"
    )


def test_metric_sql_is_one_statement_in_the_backend_dialect(warehouse: Warehouse) -> None:
    sql = metric_sql(warehouse, MODEL, "sales_velocity", by=["segment"], grain="quarter")
    assert sql.lstrip().upper().startswith(("SELECT", "WITH"))
    assert ";" not in sql
    assert '"opportunities"' in sql
    assert '"accounts"' in sql
    # no dimension asked, no join made
    assert "JOIN" not in metric_sql(warehouse, MODEL, "bookings").upper()
