"""The scorecard and its dictionary metrics, by hand on quality_data's dataset (both backends).

Scored: persons and accounts; persons.email expected unique; match link persons.account_id.
  persons.email   filled 5, valid 2 (P2 case, P3 free mail, P4 syntax), distinct 4 (P1 = P5)
  persons.phone   filled 4, valid 0 (none is E.164)
  persons.country filled 4 (P4 empty), valid 2 (US, CA; USA and gb are not codes)
  persons.state   filled 4, valid 3 (CA-XX fails; USA and an empty country are unchecked)
  persons.source  filled 5, valid 3; persons.person_type (enum) filled 5, valid 5
  accounts.country filled 2, valid 1; accounts.employees filled 3, valid 1
  accounts.region / segment (enums) filled 0, valid 0
  → validity = (2+0+2+3+3+5+1+1) / (5+4+4+4+5+5+2+3) = 17 / 32
  uniqueness (person_id 5/5, email 4/5, account_id 3/3) = 12 / 13; match rate 2 / 5.
"""

from __future__ import annotations

import datetime as dt
import string

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from quality_data import ACCOUNTS, PERSON_COLUMNS, PERSONS, load, model

from revops.metrics import compute
from revops.quality import fix, scorecard
from revops.quality.rules import count_true, counted, filled
from revops.warehouse import Batch, Warehouse, schema
from revops.warehouse.warehouse import arrow_schema


def _completeness_by_hand() -> float:
    """Filled cells over all cells, straight from the rows loaded (an independent count)."""
    persons = schema.table("persons").column_names
    filled = sum(v is not None for row in PERSONS for v in row) + len(PERSONS)  # + created_at
    cells = len(PERSONS) * len(persons)
    accounts = schema.table("accounts").column_names
    filled += sum(v is not None for row in ACCOUNTS for v in row) + 2 * len(ACCOUNTS)
    cells += len(ACCOUNTS) * len(accounts)
    assert set(PERSON_COLUMNS) <= set(persons)
    return filled / cells


def test_field_rates_by_hand(warehouse: Warehouse) -> None:
    load(warehouse)
    df = scorecard.measure(warehouse, model()).set_index(["table_name", "field_name"])
    email = df.loc[("persons", "email")]
    assert (email.rows, email.filled, email.valid, email.distinct_values) == (5, 5, 2, 4)
    assert email.uniqueness == pytest.approx(0.8)
    assert df.loc[("persons", "phone"), "validity"] == 0.0
    assert df.loc[("persons", "state"), "validity"] == pytest.approx(3 / 4)
    assert df.loc[("persons", "account_id"), "match_rate"] == pytest.approx(0.4)
    assert df.loc[("accounts", "employees"), "validity"] == pytest.approx(1 / 3)
    assert df.loc[("persons", "title")].isna()["valid"]  # no rule on titles
    assert df.loc[("persons", "person_id"), "expect_unique"]


def test_snapshots_feed_the_dictionary_metrics_and_the_trend(warehouse: Warehouse) -> None:
    load(warehouse)
    m = model()
    scorecard.take_snapshot(warehouse, m, snapshot_date=dt.date(2025, 3, 1))
    values = {
        name: float(compute(warehouse, m, name, grain=None)["value"].iloc[0])
        for name in ("dq_completeness", "dq_validity", "dq_uniqueness", "dq_match_rate")
    }
    assert values["dq_validity"] == pytest.approx(17 / 32)
    assert values["dq_uniqueness"] == pytest.approx(12 / 13)
    assert values["dq_match_rate"] == pytest.approx(2 / 5)
    assert values["dq_completeness"] == pytest.approx(_completeness_by_hand())

    fix.apply(warehouse, m)  # phones, countries, states, email case, source map, titles
    scorecard.take_snapshot(warehouse, m, snapshot_date=dt.date(2025, 3, 2))
    scorecard.take_snapshot(warehouse, m, snapshot_date=dt.date(2025, 3, 2))  # same day: replaced
    trend = scorecard.trend(warehouse, m)
    assert [str(d)[:10] for d in trend["snapshot_date"]] == ["2025-03-01", "2025-03-02"]
    assert trend["validity"].iloc[0] == pytest.approx(17 / 32)
    # After the fix: email 3/5, phone 3/4, country 4/4, state 3/4 (XX), source 4/5,
    # accounts.country 2/2: (3+3+4+3+4+5+2+1) / 32.
    assert trend["validity"].iloc[1] == pytest.approx(25 / 32)
    daily = compute(warehouse, m, "dq_validity", grain="day")
    assert daily["value"].tolist() == pytest.approx([17 / 32, 25 / 32])
    latest = scorecard.latest(warehouse).set_index(["table_name", "field_name"])
    assert latest.loc[("persons", "seniority"), "completeness"] == pytest.approx(4 / 5)


@pytest.mark.parametrize("tables", [None, ("persons",)])
def test_measure_and_check_is_measure_and_check_apart(
    warehouse: Warehouse, tables: tuple[str, ...] | None
) -> None:
    """One scan per scorecard table gives the same counts and rule results (samples too) as
    the scorecard and the check run apart, also for a rule's table outside the scorecard."""
    from revops.quality.check import check

    load(warehouse)
    only = {"tables": tables, "unique": ["persons.email"], "match": ["persons.account_id"]}
    m = model() if tables is None else model(scorecard=only)
    counts, checked = scorecard.measure_and_check(warehouse, m)
    pd.testing.assert_frame_equal(counts, scorecard.measure(warehouse, m))
    apart = check(warehouse, m)
    assert checked == apart
    assert {v.table for v in apart.results} >= {"persons", "accounts"}
    assert apart.failing  # the test rows break rules, so the samples are compared too


_VALUES = {  # few values per type, so rows repeat them; blanks are set but not filled
    "string": st.sampled_from([None, "", " ", "\t", "a", "A", "a ", " a", "b"]),
    "int": st.sampled_from([None, -1, 0, 0, 7]),
    "float": st.sampled_from([None, 0.0, -0.0, 1.5, 2.0]),
    "bool": st.sampled_from([None, True, False]),
    "date": st.sampled_from([None, dt.date(2025, 1, 1), dt.date(2025, 1, 2)]),
    "timestamp": st.sampled_from([None, dt.datetime(2025, 1, 1, 9), dt.datetime(2025, 1, 1)]),
}


@st.composite
def _rows(draw: st.DrawFn, name: str) -> pa.Table:
    """Rows of table `name` with repeated, missing and blank values in every column, and
    distinct primary keys (some blank, which are not filled)."""
    t = schema.table(name)
    (key,) = t.primary_key
    keys = draw(st.lists(st.sampled_from(["", " ", "k1", "k2", "K1", "k1 "]), unique=True))
    data = {
        c.name: keys if c.name == key else [draw(_VALUES[c.type]) for _ in keys] for c in t.columns
    }
    return pa.table(data, schema=arrow_schema(t))


@pytest.mark.parametrize(
    "any_backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accounts=_rows("accounts"), opportunities=_rows("opportunities"))
def test_distinct_values_are_count_distinct_of_the_filled_values(
    any_warehouse: Warehouse, accounts: pa.Table, opportunities: pa.Table
) -> None:
    """Each field's distinct count (apart, blanks left out when there are none, the enforced
    key's from its filled count) is one COUNT(DISTINCT) of its filled values, for every type
    (accounts and opportunities hold all six)."""
    _distinct_values_hold(any_warehouse, accounts, opportunities)


# The same property on Spark, on fewer companies: what Spark can get wrong is the counts'
# translation to its SQL, which every example runs, while the search for an odd company is
# done above; an example costs seconds there (two table swaps), 25 of them took 100 s of CI.
@pytest.mark.parametrize("any_backend", [pytest.param("spark", marks=pytest.mark.spark)])
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accounts=_rows("accounts"), opportunities=_rows("opportunities"))
def test_distinct_values_on_spark_are_count_distinct_of_the_filled_values(
    any_warehouse: Warehouse, accounts: pa.Table, opportunities: pa.Table
) -> None:
    _distinct_values_hold(any_warehouse, accounts, opportunities)


def _distinct_values_hold(wh: Warehouse, accounts: pa.Table, opportunities: pa.Table) -> None:
    wh.write_many(
        [Batch("accounts", accounts, "replace"), Batch("opportunities", opportunities, "replace")]
    )
    m = model(scorecard={"tables": ["accounts", "opportunities"], "unique": [], "match": []})
    got = scorecard.measure(wh, m).set_index(["table_name", "field_name"])["distinct_values"]
    for name in ("accounts", "opportunities"):
        t = wh.table(name)
        cols = schema.table(name).column_names
        # one query per table (on Spark, one per column took two minutes over the examples)
        plain = wh.to_arrow(t.aggregate(**{c: t[c].nunique(where=filled(t, c)) for c in cols}))
        for col in cols:
            assert got[(name, col)] == int(plain[col][0].as_py() or 0), (name, col)


def _filled_distinct(values: list[object]) -> int:
    """The distinct filled values of a column, read in plain Python: not None and, for text,
    not only whitespace (0.0 and -0.0 are one value, as in SQL)."""
    blank = lambda v: isinstance(v, str) and not v.strip(string.whitespace)  # noqa: E731
    return len({v for v in values if v is not None and not blank(v)})


@pytest.mark.parametrize("backend", ["duckdb"])  # DuckDB's own SQL (HASH, byte order)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(opportunities=_rows("opportunities"), passes=st.integers(1, 7))
def test_a_distinct_count_in_passes_is_the_plain_count(
    warehouse: Warehouse, opportunities: pa.Table, passes: int
) -> None:
    """Split by hash into any number of passes, each column's distinct filled values sum to
    the plain count (opportunities hold all six types, with blanks, nulls and 0.0 / -0.0)."""
    warehouse.write_many([Batch("opportunities", opportunities, "replace")])
    t = warehouse.table("opportunities")
    for col in opportunities.column_names:
        got = scorecard._distinct_count(warehouse, t, col, blanks=True, passes=passes)
        assert got == _filled_distinct(opportunities[col].to_pylist()), (col, passes)


@pytest.mark.parametrize("backend", ["duckdb"])  # DuckDB's own SQL (HASH, byte order)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accounts=_rows("accounts"))
def test_measure_counts_in_passes_where_the_estimate_asks(
    warehouse: Warehouse, accounts: pa.Table
) -> None:
    """With a pass holding at most one value, `measure` estimates every column and counts it
    in as many passes as it has values: the same distinct counts as the plain reading."""
    warehouse.write_many([Batch("accounts", accounts, "replace")])
    m = model(scorecard={"tables": ["accounts"], "unique": [], "match": []})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scorecard, "PASS_VALUES", 1)
        got = scorecard.measure(warehouse, m).set_index("field_name")["distinct_values"]
    for col in accounts.column_names:
        assert got[col] == _filled_distinct(accounts[col].to_pylist()), col


_TEXT = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from([*string.whitespace, "\x1f", "!", "a", "é", "\x00", "~"])),
    st.text(max_size=4),
)


@pytest.mark.parametrize("backend", ["duckdb"])  # DuckDB's own SQL (HASH, byte order)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(_TEXT, max_size=12))
@example(names=[" ", "  ", " \t", "", "!", " !", "\x1f", "\x00", "\x00 ", None])
def test_the_quick_filled_test_on_duckdb_is_filled(
    warehouse: Warehouse, names: list[str | None]
) -> None:
    """The scorecard's filled count on DuckDB (a byte-order test before the TRIM) counts the
    values that are neither null nor only whitespace, read in plain Python."""
    t = ibis.memtable(pa.table({"name": pa.array(names, pa.string())}))
    got = warehouse.execute(count_true(scorecard._filled_on_duckdb(t, "name")))
    want = sum(v is not None and v.strip(string.whitespace) != "" for v in names)
    assert counted(got) == want


def test_rules_on_an_empty_table_find_no_violation(any_warehouse: Warehouse) -> None:
    """A rule over no rows counts 0 violations on every backend: the SUM of no rows is NULL,
    which Spark hands to pandas as NaN (int() of it raised before)."""
    from revops.quality.check import check_table, checks_by_table

    rules = checks_by_table(model(), ["accounts"])["accounts"]
    assert rules  # the test rules judge accounts
    found = check_table(any_warehouse, "accounts", rules)
    assert [v.violations for v in found] == [0] * len(rules)
    assert {v.rows for v in found} == {0}
