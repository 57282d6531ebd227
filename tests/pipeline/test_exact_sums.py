"""Pipeline money figures are exact sums: the same to the bit whatever order the warehouse
reads the deals in (its threads add a float SUM's parts in the order they finish, which the
tests cannot force, so the order of the rows stands in for it), and within one rounding of the
exact sum of the amounts, where a float SUM drifts by more.

Amounts are whole quarters of a dollar, exact in a double and in the DECIMAL the sums cast to:
small ones, and big ones (up to 2^60 dollars) cancelled by negative ones, past which a float
sum loses the small ones."""

from __future__ import annotations

import math
from datetime import date, datetime
from fractions import Fraction

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config.pipeline import PipelineConfig
from revops.pipeline.analytics import PipelineTables, open_pipeline, win_rates
from revops.warehouse import Batch, Warehouse

STAGES = PipelineConfig()
AS_OF = date(2026, 3, 31)
_QUARTERS = st.integers(-4 * 10**15, 4 * 10**15)


def _load(wh: Warehouse, quarters: list[int], won: list[bool]) -> None:
    n = len(quarters)
    ids = [f"o{i:03d}" for i in range(n)]
    amounts = [q / 4 for q in quarters]
    stage = ["Closed Won" if w else "Discovery" for w in won]
    wh.write_many(
        [
            Batch(
                "opportunities",
                pa.table(
                    {
                        "opportunity_id": ids,
                        "owner_id": ["u1"] * n,
                        "stage": stage,
                        "amount": amounts,
                        "created_date": [date(2026, 1, 1)] * n,
                        "close_date": [date(2026, 6, 30)] * n,
                    }
                ),
            ),
            Batch(
                "opportunity_stage_history",
                pa.table(
                    {
                        "history_id": [f"h{i:03d}" for i in range(n)],
                        "opportunity_id": ids,
                        "stage": stage,
                        "changed_at": [datetime(2026, 2, 1, 9)] * n,
                        "amount": amounts,
                        "close_date": [date(2026, 6, 30)] * n,
                    }
                ),
            ),
        ]
    )


def _figures(quarters: list[int], won: list[bool]) -> list[float | None]:
    """Won, closed and open value; None where there is none (NaN would not compare)."""
    with Warehouse.connect(":memory:") as wh:
        _load(wh, quarters, won)
        t = PipelineTables.read(wh.table)
        wins = wh.execute(win_rates(t, STAGES, AS_OF)).iloc[0]
        opened = wh.execute(open_pipeline(t, STAGES, AS_OF)).iloc[0]
        values = [wins.won_value, wins.closed_value, opened.open_value]
        return [None if v != v else float(v) for v in values]


def _exact(quarters: list[int], won: list[bool], want: bool) -> float | None:
    chosen = [q for q, w in zip(quarters, won, strict=True) if w == want]
    return float(Fraction(sum(chosen), 4)) if chosen else None


# 2^55 to 2^60 dollars in steps of $256: exact in a double, whose step there is $8 to $256
_BIG = st.tuples(st.integers(2**47, 2**52 - 1).map(lambda k: 4 * 256 * k), st.booleans())
_SMALL = st.tuples(st.integers(-400, 400), st.booleans())


@given(
    big=st.lists(_BIG, max_size=10),
    small=st.lists(_SMALL, min_size=1, max_size=10),
    data=st.data(),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_money_sums_do_not_depend_on_row_order(
    big: list[tuple[int, bool]], small: list[tuple[int, bool]], data: st.DataObject
) -> None:
    """Big deals cancelled by as big negative ones (credits, corrections), and small ones: a
    float sum in an unlucky order loses the small ones."""
    deals = data.draw(st.permutations([*big, *[(-q, w) for q, w in big], *small]))
    shuffled = data.draw(st.permutations(deals))
    quarters, won = [q for q, _ in deals], [w for _, w in deals]
    first = _figures(quarters, won)
    assert first == _figures([q for q, _ in shuffled], [w for _, w in shuffled])
    # closed = won here (the others stay open); a sum over no deal is missing, as before
    exact = [_exact(quarters, won, True)] * 2 + [_exact(quarters, won, False)]
    for got, want in zip(first, exact, strict=True):
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert math.isclose(got, want, rel_tol=2**-52, abs_tol=0.0)
