"""The outbox hook's written keys: kept as Arrow text, the same keys the Python sets were.

`written_keys` once turned every written row into a dict and its key into a Python string (a
lifecycle recompute writes a million history rows); the keys now stay columns. The reference
below is that former code, kept to pin the keys and the candidates they let through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.automation import sources
from revops.automation.outbox import _key_text, written_keys
from revops.automation.triggers import SOURCE_KEYS, SOURCES
from revops.warehouse import Batch


def reference_keys(written: Sequence[Batch], rules: Sequence[Any]) -> dict[str, set[str]]:
    """The former `written_keys`: every written row's key, built in Python."""
    out: dict[str, set[str]] = {}
    for rule in rules:
        trig = rule.trigger.type
        columns = SOURCE_KEYS[trig]
        if columns is None or trig in out:
            continue
        keys: set[str] = set()
        for b in written:
            if b.table == SOURCES[trig] and b.data.num_rows:
                data = sources.canonical(b.table, b.data).select(list(columns)).to_pylist()
                keys.update("|".join(_key_text(r[c]) for c in columns) for r in data)
        out[trig] = keys
    return out


def rule(trigger: str) -> Any:
    return SimpleNamespace(trigger=SimpleNamespace(type=trigger))


texts = st.one_of(st.none(), st.text(alphabet="ab|N oe1", max_size=4))
moments = st.one_of(
    st.none(),
    st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3)).map(
        lambda t: t.replace(microsecond=t.microsecond if t.second % 2 else 0)
    ),
)
days = st.one_of(st.none(), st.dates(dt.date(2024, 1, 1), dt.date(2024, 3, 1)))


def history(ids: list[str | None]) -> Batch:
    return Batch("lifecycle_history", pa.table({"transition_id": pa.array(ids, pa.string())}))


def scores(rows: list[tuple[str | None, dt.datetime | None]]) -> Batch:
    data = {
        "person_id": pa.array([r[0] for r in rows], pa.string()),
        "scored_at": pa.array([r[1] for r in rows], pa.timestamp("us")),
    }
    return Batch("lead_scores", pa.table(data))


def health(rows: list[tuple[str | None, dt.date | None]]) -> Batch:
    data = {
        "account_id": pa.array([r[0] for r in rows], pa.string()),
        "month": pa.array([r[1] for r in rows], pa.date32()),
    }
    return Batch("health_scores", pa.table(data))


RULES = [rule(t) for t in ("lifecycle_stage_change", "score_threshold", "health_at_risk")]
RULES += [rule("hygiene_flag"), rule("consent_change")]  # no source key; a source not written


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(texts, max_size=6),
    second=st.lists(texts, max_size=6),
    scored=st.lists(st.tuples(texts, moments), max_size=6),
    months=st.lists(st.tuples(texts, days), max_size=6),
    asked=st.lists(texts.map(lambda t: _key_text(t)), max_size=6),
)
def test_keys_and_lookups_match_the_python_sets(
    first: list[str | None],
    second: list[str | None],
    scored: list[tuple[str | None, dt.datetime | None]],
    months: list[tuple[str | None, dt.date | None]],
    asked: list[str],
) -> None:
    written = [history(first), scores(scored), history(second), health(months)]
    expected = reference_keys(written, RULES)
    keys = written_keys(written, RULES)
    assert {t: set(keys.texts[t].to_pylist()) for t in expected} == expected
    assert set(keys.texts) == set(expected)
    for trig, known in expected.items():
        candidates = [*asked, *sorted(known)[:2]]
        assert keys.among(trig, candidates) == known & set(candidates)
        assert trig in keys
    assert "hygiene_flag" not in keys
