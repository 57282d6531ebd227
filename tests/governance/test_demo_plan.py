"""`revops plan` on the demo company: one routing rule and one metric formula changed.

The proposal narrows `named_accounts` (account owners keep only enterprise leads; mid-market
leads fall through to the territory pools) and counts only new-business wins in `won_deals`.
The plan must list re-routed leads (account owner → SDR pool) and each affected metric's monthly
values before and after; the numbers are cross-checked against the stored data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revops.cli import app
from revops.config import load_config
from revops.context import RevOps
from revops.demo import generate
from revops.governance import diff_models, impact

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
runner = CliRunner()
RULE = "      when: [{field: account.segment, op: in, value: [enterprise, mid_market]}]\n"
WON = '    measure: {table: opportunities, agg: count, time: close_date}\n    filter: "is_won"\n'


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, with_own_sdr_pools: Callable[[str, str], str]
) -> tuple[str, Path, Path]:
    """The small demo loaded, the shipped model as current and the proposal beside it, both
    with SDR pools naming this warehouse's SDRs (`plan` refuses unknown user ids)."""
    root = tmp_path_factory.mktemp("demo_plan")
    url = str(root / "wh.duckdb")
    files = generate(root / "demo", scale=0.02, seed=7)
    ro = RevOps.open(EXAMPLE, url)
    try:
        for f in files:
            if f.table in ("users", "accounts", "persons", "opportunities"):
                ro.load(f.path, f.table, f.preset)
    finally:
        ro.close()
    text = EXAMPLE.read_text()
    assert text.count(RULE) == 1
    assert text.count(WON) == 1
    proposal = text.replace(RULE, RULE.replace(", mid_market", "")).replace(
        WON, WON.replace('"is_won"', "\"is_won and opportunity_type == 'new_business'\"")
    )
    current, proposed = root / "current.yaml", root / "proposed.yaml"
    current.write_text(with_own_sdr_pools(text, url))
    proposed.write_text(with_own_sdr_pools(proposal, url))
    return url, current, proposed


def test_plan_lists_rerouted_leads_and_metric_values(demo: tuple[str, Path, Path]) -> None:
    url, current, proposed = demo
    result = runner.invoke(
        app, ["plan", str(proposed), "-c", str(current), "-w", url], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rule named_accounts: when[account.segment].value" in out
    assert "metric won_deals: formula: count(opportunities) where is_won, by close_date" in out
    assert "would route to a different owner" in out
    assert "Re-routed leads by rule: old → new" in out
    assert "named_accounts" in out
    assert "territories" in out
    assert "Metric won_deals" in out
    assert "Metric win_rate" in out
    assert "new formula: count(opportunities) where is_won and opportunity_type" in out


def test_plan_numbers_agree_with_the_data(demo: tuple[str, Path, Path]) -> None:
    url, current, proposed = demo
    old = load_config(current).model
    new = load_config(proposed).model
    ro = RevOps.open(current, url)
    try:
        diff = diff_models(old, new)
        assert not diff.lifecycle_changed
        effect = impact(ro.warehouse, old, new, diff, days=30, months=6)
        opps = ro.warehouse.execute(ro.warehouse.table("opportunities"))
    finally:
        ro.close()
    routing = effect.routing
    assert routing is not None
    assert routing.leads > 0
    by_rule = {(a, b): n for a, b, n in routing.by_rule()}
    # Only mid-market leads leave their account owner, and only for the territory pools or the
    # fallback queue; no lead newly goes to an account owner.
    assert by_rule.get(("named_accounts", "territories"), 0) > 0
    assert all(a != b or a != "named_accounts" for a, b in by_rule)
    assert not any(b == "named_accounts" for _, b in by_rule)

    won = next(m for m in effect.metrics if m.name == "won_deals").values
    assert len(won) == 6
    closed = opps[opps["is_won"]].copy()
    closed["period"] = pd.to_datetime(closed["close_date"]).dt.to_period("M").dt.start_time.dt.date
    every = closed.groupby("period").size()
    new_biz = closed[closed["opportunity_type"] == "new_business"].groupby("period").size()
    for row in won.itertuples(index=False):
        assert row.old == every.get(row.period, 0)
        assert row.new == new_biz.get(row.period, 0)
    assert (won["new"] <= won["old"]).all()
    assert (won["new"] < won["old"]).any()
