"""Blocking is complete and sound: exactly the pairs that share a key of some rule."""

from __future__ import annotations

import itertools

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.dedupe import BlockingRule
from revops.identity.blocking import block_keys, candidate_pairs, cross_pairs
from revops.identity.normalize import normalize

RULES = (
    BlockingRule(name="email", keys=("email",)),
    BlockingRule(name="surname_city", keys=("soundex(last_name)", "prefix3(city)")),
)

_names = st.sampled_from(["smith", "smyth", "jones", "johns", "brown", "braun", None])
_cities = st.sampled_from(["london", "londonderry", "paris", "berlin", None])
_emails = st.sampled_from(["a@x.com", "b@x.com", "c@y.org", None])
records = st.lists(st.tuples(_names, _cities, _emails), min_size=0, max_size=40)


def _fields(rows: list[tuple[str | None, str | None, str | None]]) -> dict[str, pa.Array]:
    return {
        "last_name": normalize(pa.array([r[0] for r in rows], pa.string()), "name"),
        "city": normalize(pa.array([r[1] for r in rows], pa.string()), "name"),
        "email": normalize(pa.array([r[2] for r in rows], pa.string()), "email"),
    }


def _brute_force(keys: pa.Table, left: range, right: range, ordered: bool) -> set[tuple[int, int]]:
    cols = [keys.column(f"k{i}").to_pylist() for i in range(len(RULES))]
    out = set()
    for i, j in itertools.product(left, right):
        if (ordered and i >= j) or i == j:
            continue
        if any(c[i] is not None and c[i] == c[j] for c in cols):
            out.add((i, j))
    return out


@settings(max_examples=60, deadline=None)
@given(records)
def test_self_join_finds_every_pair_sharing_a_key_and_no_other(rows: list) -> None:
    if not rows:
        return
    keys = block_keys(_fields(rows), RULES)
    left, right, rule = candidate_pairs(keys, max_block_size=1000)
    got = set(zip(left.tolist(), right.tolist(), strict=True))
    assert got == _brute_force(keys, range(len(rows)), range(len(rows)), ordered=True)
    assert len(got) == len(left)  # each pair once, whatever number of rules it satisfies
    for i, j, r in zip(left.tolist(), right.tolist(), rule.tolist(), strict=True):
        k = keys.column(f"k{r}").to_pylist()
        assert k[i] == k[j]


@settings(max_examples=40, deadline=None)
@given(records, records)
def test_cross_join_pairs_stored_with_new_records_only(old: list, new: list) -> None:
    if not old or not new:
        return
    keys = block_keys(_fields(old + new), RULES)
    n = len(old)
    left, right, _ = cross_pairs(keys.slice(0, n), keys.slice(n), max_block_size=1000)
    got = set(zip(left.tolist(), right.tolist(), strict=True))
    expected = {
        (i, j)
        for i, j in _brute_force(keys, range(n), range(n, len(old) + len(new)), ordered=False)
    }
    assert got == expected


def test_keys_shared_by_too_many_records_are_skipped() -> None:
    rows = [("smith", "paris", "same@x.com")] * 5 + [("jones", "berlin", "j@x.com")] * 2
    keys = block_keys(_fields(rows), RULES[:1])
    left, right, _ = candidate_pairs(keys, max_block_size=4)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(5, 6)}
