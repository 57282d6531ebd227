"""Hypothesis: random merge/unmerge sequences never orphan or duplicate a child, and undoing
every merge restores the original tables exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config.identity import MergeConfig
from revops.identity.merge import merge
from revops.identity.mergelog import MergeError, read_log, unmerge
from revops.warehouse import Warehouse

N_PERSONS = 6
CHILDREN = {
    "touchpoints": "touchpoint_id",
    "activities": "activity_id",
    "lifecycle_history": "transition_id",
}
T0 = datetime(2025, 1, 1)


def _seed(wh: Warehouse, owners: list[int]) -> None:
    ids = [f"p{i}" for i in range(N_PERSONS)]
    wh.write(
        "persons",
        pa.table(
            {
                "person_id": ids,
                "email": [f"x{i}@a.com" for i in range(N_PERSONS)],
                "phone": [None if i % 2 else f"+1 {i}" for i in range(N_PERSONS)],
                "employees": [i * 10 for i in range(N_PERSONS)],
                "created_at": [T0 + timedelta(days=i) for i in range(N_PERSONS)],
                "updated_at": [T0 + timedelta(days=10 - i) for i in range(N_PERSONS)],
            }
        ),
        "replace",
    )
    n = len(owners)
    times = [T0] * n
    wh.write(
        "touchpoints",
        pa.table(
            {
                "touchpoint_id": [f"t{k}" for k in range(n)],
                "person_id": [f"p{o}" for o in owners],
                "occurred_at": times,
                "channel": ["web"] * n,
                "touch_type": ["web_visit"] * n,
            }
        ),
        "replace",
    )
    wh.write(
        "activities",
        pa.table(
            {
                "activity_id": [f"a{k}" for k in range(n)],
                "person_id": [f"p{o}" for o in reversed(owners)],
                "occurred_at": times,
                "activity_type": ["call"] * n,
            }
        ),
        "replace",
    )
    wh.write(
        "lifecycle_history",
        pa.table(
            {
                "transition_id": [f"h{k}" for k in range(n)],
                "person_id": [f"p{(o + 1) % N_PERSONS}" for o in owners],
                "to_stage": ["Lead"] * n,
                "changed_at": times,
            }
        ),
        "replace",
    )
    wh.write("merge_log", pa.table({"merge_id": pa.array([], pa.string())}), "replace")


def _state(wh: Warehouse) -> dict[str, list[dict[str, object]]]:
    out = {
        "persons": sorted(
            wh.to_arrow(wh.table("persons")).to_pylist(), key=lambda r: str(r["person_id"])
        )
    }
    for name, key in CHILDREN.items():
        out[name] = sorted(wh.to_arrow(wh.table(name)).to_pylist(), key=lambda r: str(r[key]))
    return out


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("merge"),
            st.integers(0, N_PERSONS - 1),
            st.sets(st.integers(0, N_PERSONS - 1), min_size=1, max_size=3),
        ),
        st.tuples(st.just("unmerge"), st.integers(0, 20), st.just(frozenset())),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(owners=st.lists(st.integers(0, N_PERSONS - 1), min_size=1, max_size=12), steps=ops)
def test_random_merges_keep_children_attached(
    owners: list[int], steps: list[tuple[str, int, frozenset[int]]]
) -> None:
    with Warehouse.connect(":memory:") as wh:
        _seed(wh, owners)
        original = _state(wh)
        cfg = MergeConfig()
        done: list[str] = []
        for op, a, bs in steps:
            live = {r["person_id"] for r in wh.to_arrow(wh.table("persons")).to_pylist()}
            if op == "merge":
                merged = [f"p{b}" for b in sorted(bs) if b != a and f"p{b}" in live]
                if f"p{a}" not in live or not merged:
                    continue
                _, mid = merge(wh, cfg, "persons", f"p{a}", merged)
                assert mid is not None
                done.append(mid)
            elif done:
                mid = done[a % len(done)]
                try:
                    unmerge(wh, mid)
                    done.remove(mid)
                except MergeError:
                    pass  # a later merge depends on it: refused, and nothing changed
            state = _state(wh)
            live = {r["person_id"] for r in state["persons"]}
            for name in CHILDREN:
                assert len(state[name]) == len(original[name])  # nothing lost, nothing doubled
                assert all(r["person_id"] in live for r in state[name])  # attached to a live one
        # undo everything, newest first: the original tables come back exactly
        log = read_log(wh).to_pylist()
        for mid in sorted(
            {r["merge_id"] for r in log if r["undone_at"] is None},
            key=lambda m: -max(r["sequence"] for r in log if r["merge_id"] == m),
        ):
            unmerge(wh, mid)
        assert _state(wh) == original
