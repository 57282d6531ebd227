"""A fit on candidate pairs streamed and counted by pattern (`pair_tally`) is the fit on all
the pairs held at once (the path `_fit` took before), bit for bit, whatever the batch size."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.dedupe import DedupeSettings
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, candidate_pairs, streamed_pairs
from revops.identity.compare import comparison_matrix, encode, level_labels
from revops.identity.dedupe import Prepared, _random_pairs, fit_tally, prepare
from revops.identity.duplicate_rules import _fit
from revops.identity.pair_tally import count, pair_tally

MODEL = load_config(DEFAULT_CONFIG).model
FIRST = ["ada", "adda", "alan", "allan", "grace", "grase", None]
LAST = ["lovelace", "lovelase", "turing", "hopper", None]
COMPANY = ["Acme Ltd", "Acme Limited", "Acme", "Globex", "Globex Corp", "Initech", None]
DOMAIN = ["acme.com", "acme.co", "globex.com", "initech.io", None]
COUNTRY = ["GB", "US", "DE", None]


def _plain_fit(prep: Prepared, s: DedupeSettings) -> fs.FellegiSunterParams | None:
    """The fit as `_fit` made it before: every candidate pair and its levels held at once,
    each rule's session the pairs sharing its key, EM over the pairs themselves."""
    keys = block_keys(prep.fields, s.blocking)
    left, right, _ = candidate_pairs(keys, s.max_block_size)
    if len(left) == 0:
        return None
    kinds = [c.kind for c in s.comparisons]
    levels = comparison_matrix(prep.encoded, kinds, left, right)
    n = len(prep.ids)
    rl, rr = _random_pairs(n, s.u_sample_pairs, s.seed)
    exact = [fs.exact_u(codes) for codes, _ in prep.encoded]
    n_levels = [len(level_labels(k)) for k in kinds]
    u = fs.estimate_u(comparison_matrix(prep.encoded, kinds, rl, rr), n_levels, exact)
    sessions = []
    for i, rule in enumerate(s.blocking):
        codes, _ = encode(keys.column(f"k{i}").combine_chunks())
        rows = (codes[left] == codes[right]) & (codes[left] >= 0)
        sessions.append(
            (rows, [f for f, c in enumerate(s.comparisons) if c.field not in rule.fields])
        )
    return fs.fit(
        levels,
        sessions,
        u,
        [c.field for c in s.comparisons],
        [level_labels(k) for k in kinds],
        n * (n - 1) // 2,
        max_iterations=s.max_iterations,
        tolerance=s.tolerance,
    )


def _people(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(2, 120))
    pick = lambda values: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))  # noqa: E731
    first, last, company = pick(FIRST), pick(LAST), pick(COMPANY)
    emails = [
        None
        if f is None or draw(st.booleans())
        else f"{f}.{last[i] or 'x'}@{draw(st.sampled_from(DOMAIN[:4]))}"
        for i, f in enumerate(first)
    ]
    phones = [
        draw(st.sampled_from([None, "+44 20 7946 0018", "+44 20 7946 0019", "555"]))
        for _ in range(n)
    ]
    return pa.table(
        {
            "id": [f"p{i}" for i in range(n)],
            "first_name": pa.array(first, pa.string()),
            "last_name": pa.array(last, pa.string()),
            "email": pa.array(emails, pa.string()),
            "phone": pa.array(phones, pa.string()),
            "company": pa.array(company, pa.string()),
        }
    )


def _accounts(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(2, 150))
    pick = lambda values: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))  # noqa: E731
    return pa.table(
        {
            "id": [f"a{i}" for i in range(n)],
            "name": pa.array(pick(COMPANY), pa.string()),
            "domain": pa.array(pick(DOMAIN), pa.string()),
            "country": pa.array(pick(COUNTRY), pa.string()),
        }
    )


@st.composite
def _case(draw: st.DrawFn) -> tuple[pa.Table, DedupeSettings, int]:
    table = draw(st.sampled_from(["persons", "accounts"]))
    records = _people(draw) if table == "persons" else _accounts(draw)
    s = MODEL.dedupe.settings(table)  # type: ignore[arg-type]
    # a small block bound skips some keys, as a placeholder email or a switchboard is skipped
    s = s.model_copy(update={"max_block_size": draw(st.integers(2, 200)), "u_sample_pairs": 1000})
    return records.select(["id", *s.fields]), s, draw(st.integers(1, 50))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_streamed_fit_is_the_fit_on_all_pairs(case: tuple[pa.Table, DedupeSettings, int]) -> None:
    records, s, batch = case
    prep = prepare(records, s)
    keys = block_keys(prep.fields, s.blocking)
    got = list(streamed_pairs(keys, s.max_block_size, batch))
    left, right, _ = candidate_pairs(keys, s.max_block_size)
    pairs = [(a, b) for x, y in got for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    assert sorted(pairs) == list(zip(left.tolist(), right.tolist(), strict=True))
    assert all(len(x) <= batch for x, _ in got)
    tally = pair_tally(prep.encoded, s, keys, batch_rows=batch)
    assert tally.pairs == len(left)
    expected = _plain_fit(prep, s)
    if expected is None:
        assert _fit(prep, s) is None
        return
    assert fit_tally(prep, s, tally).to_json() == expected.to_json()
    assert _fit(prep, s) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1, 3), st.integers(-1, 2), st.booleans()), min_size=1, max_size=60
    ),
    st.integers(1, 7),
)
def test_counted_patterns_are_the_patterns(rows: list[tuple[int, int, bool]], split: int) -> None:
    """`_patterns` of a tally (merged from pieces) is `_patterns` of the pairs themselves."""
    levels = np.array([r[:2] for r in rows], dtype=np.int8).reshape(-1, 2)
    shared = np.array([[r[2]] for r in rows], dtype=np.bool_).reshape(-1, 1)
    pieces = [count(levels[i::split], shared[i::split]) for i in range(split)]
    merged = count(
        np.concatenate([p.levels for p in pieces]),
        np.concatenate([p.shared for p in pieces]),
        np.concatenate([p.counts for p in pieces]),
    )
    assert merged.pairs == len(rows)
    want_p, want_c = fs._patterns(levels)
    got_p, got_c = fs._patterns(merged.levels, merged.counts)
    assert np.array_equal(want_p, got_p)
    assert np.array_equal(want_c, got_c)
    mask: npt.NDArray[np.bool_] = shared[:, 0]
    if not mask.any():  # a session without pairs is skipped (`fs.fit`)
        return
    want_p, want_c = fs._patterns(levels[mask])
    got_p, got_c = fs._patterns(
        merged.levels[merged.shared[:, 0]], merged.counts[merged.shared[:, 0]]
    )
    assert np.array_equal(want_p, got_p)
    assert np.array_equal(want_c, got_c)
