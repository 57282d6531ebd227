"""Deduplication: normalize, block, compare, fit Fellegi-Sunter, score, cluster.

`dedupe_frame` is the pure core over an Arrow table; `find_duplicates` reads persons or accounts
from the warehouse and calls it. Only pairs at or above the review threshold are returned, each
with its evidence: the level and weight of every field, so a reviewer sees why two records were
judged one (and the numbers add up to the match weight, less the prior).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import DedupeSettings
from revops.config.models import OperatingModel
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, candidate_pairs
from revops.identity.compare import comparison_matrix, encode, level_labels
from revops.identity.normalize import normalize
from revops.identity.pair_tally import PairTally, count, key_codes, shared_keys
from revops.warehouse import Warehouse
from revops.warehouse import table as table_def

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

PAIR_SCHEMA = pa.schema(
    [
        ("left_id", pa.string()),
        ("right_id", pa.string()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        ("evidence", pa.string()),
    ]
)


@dataclass(frozen=True)
class DedupeResult:
    pairs: pa.Table  # left_id, right_id, match_weight, match_probability, evidence (JSON)
    clusters: pa.Table  # cluster_id, record_id, cluster_size, min_pair_probability
    params: fs.FellegiSunterParams
    auto_merge_threshold: float = 0.95
    review_threshold: float = 0.7
    candidate_pairs: int = 0  # pairs blocking produced and the model scored

    def auto_merge_pairs(self) -> pa.Table:
        p = self.pairs.column("match_probability")
        return self.pairs.filter(pc.greater_equal(p, self.auto_merge_threshold))

    def review_pairs(self) -> pa.Table:
        p = self.pairs.column("match_probability")
        keep = pc.and_(
            pc.greater_equal(p, self.review_threshold), pc.less(p, self.auto_merge_threshold)
        )
        return self.pairs.filter(keep)


@dataclass(frozen=True)
class Prepared:
    """Records made ready to match: ids, normalized fields and their dictionary codes."""

    ids: pa.Array
    fields: dict[str, pa.Array]
    encoded: list[tuple[IntArray, list[str]]]


def prepare(records: pa.Table, settings: DedupeSettings) -> Prepared:
    kinds = {c.field: c.kind for c in settings.comparisons}
    fields: dict[str, pa.Array] = {}
    for name in settings.fields:
        if name not in records.column_names:
            raise KeyError(f"records have no column {name!r} to compare or block on")
        fields[name] = normalize(records.column(name), kinds.get(name, "text"))
    ids = pc.cast(records.column("id").combine_chunks(), pa.string())
    encoded = [encode(fields[c.field]) for c in settings.comparisons]
    return Prepared(ids, fields, encoded)


def subset(prep: Prepared, settings: DedupeSettings, rows: IntArray) -> Prepared:
    """`prepare` of the records at `rows`, from their normalized fields."""
    take = pa.array(rows)
    fields = {name: values.take(take) for name, values in prep.fields.items()}
    encoded = [encode(fields[c.field]) for c in settings.comparisons]
    return Prepared(prep.ids.take(take), fields, encoded)


def _random_pairs(n: int, count: int, seed: int) -> tuple[IntArray, IntArray]:
    """All pairs when there are few, else `count` random pairs of distinct records."""
    if n * (n - 1) // 2 <= count:
        left, right = np.triu_indices(n, k=1)
        return left.astype(np.int64), right.astype(np.int64)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, count, dtype=np.int64)
    right = (left + rng.integers(1, n, count, dtype=np.int64)) % n
    return left, right


def fit_params(prep: Prepared, settings: DedupeSettings) -> fs.FellegiSunterParams:
    """Fit m, u and λ on the records' own candidate pairs (see fellegi_sunter)."""
    left, right, levels, keys = _candidates(prep, settings)
    return fit_candidates(prep, settings, left, right, levels, keys)


def _candidates(
    prep: Prepared, settings: DedupeSettings
) -> tuple[IntArray, IntArray, npt.NDArray[np.int8], pa.Table]:
    keys = block_keys(prep.fields, settings.blocking)
    left, right, _ = candidate_pairs(keys, settings.max_block_size)
    kinds = [c.kind for c in settings.comparisons]
    return left, right, comparison_matrix(prep.encoded, kinds, left, right), keys


def fit_candidates(
    prep: Prepared,
    settings: DedupeSettings,
    left: IntArray,
    right: IntArray,
    levels: npt.NDArray[np.int8],
    keys: pa.Table,
) -> fs.FellegiSunterParams:
    """`fit_tally` of the candidate pairs (`left`, `right`) and their `levels`."""
    codes = key_codes(keys, len(settings.blocking))
    return fit_tally(prep, settings, count(levels, shared_keys(codes, left, right)))


def fit_tally(prep: Prepared, settings: DedupeSettings, pairs: PairTally) -> fs.FellegiSunterParams:
    """m, u and λ fitted on the records `prep` and their candidate pairs, counted by pattern
    (`pair_tally`): u from random record pairs, m by EM per blocking rule on the pairs sharing
    its key, λ over all pairs."""
    n = len(prep.ids)
    comps = settings.comparisons
    kinds = [c.kind for c in comps]
    n_levels = [len(level_labels(k)) for k in kinds]
    rl, rr = _random_pairs(n, settings.u_sample_pairs, settings.seed)
    exact = [fs.exact_u(codes) for codes, _ in prep.encoded]
    u = fs.estimate_u(comparison_matrix(prep.encoded, kinds, rl, rr), n_levels, exact)
    sessions = []
    for i, rule in enumerate(settings.blocking):
        free = [f for f, c in enumerate(comps) if c.field not in rule.fields]
        sessions.append((pairs.shared[:, i], free))
    return fs.fit(
        pairs.levels,
        sessions,
        u,
        [c.field for c in comps],
        [level_labels(k) for k in kinds],
        n * (n - 1) // 2,
        max_iterations=settings.max_iterations,
        tolerance=settings.tolerance,
        counts=pairs.counts,
    )


def evidence(levels: npt.NDArray[np.int8], params: fs.FellegiSunterParams) -> list[str]:
    """Per pair, JSON of each field's level and weight; built once per distinct pattern."""
    if len(levels) == 0:
        return []
    patterns, inverse = np.unique(levels, axis=0, return_inverse=True)
    texts = []
    for row in patterns.tolist():
        doc = {}
        for comp, level in zip(params.comparisons, row, strict=True):
            if level < 0:
                doc[comp.field] = {"level": "null", "weight": 0.0}
            else:
                doc[comp.field] = {
                    "level": comp.labels[level],
                    "weight": round(comp.weights[level], 3),
                }
        texts.append(json.dumps(doc, sort_keys=True))
    return [texts[i] for i in inverse.reshape(-1).tolist()]


def dedupe_frame(records: pa.Table, settings: DedupeSettings) -> DedupeResult:
    """Find duplicate records in `records` (an `id` column plus the settings' fields)."""
    prep = prepare(records, settings)
    left, right, levels, keys = _candidates(prep, settings)
    params = fit_candidates(prep, settings, left, right, levels, keys)
    weight = fs.match_weights(levels, params)
    prob = fs.probabilities(weight)
    keep = np.flatnonzero(prob >= settings.review_threshold)
    keep = keep[np.argsort(-prob[keep], kind="stable")]
    pairs = pa.table(
        {
            "left_id": prep.ids.take(pa.array(left[keep])),
            "right_id": prep.ids.take(pa.array(right[keep])),
            "match_weight": pa.array(weight[keep]),
            "match_probability": pa.array(prob[keep]),
            "evidence": pa.array(evidence(levels[keep], params), pa.string()),
        },
        schema=PAIR_SCHEMA,
    )
    merge = prob >= settings.auto_merge_threshold
    from revops.identity.clusters import cluster_pairs  # scipy: 1 s to import, needed here only

    clusters = cluster_pairs(prep.ids, left[merge], right[merge], prob[merge])
    return DedupeResult(
        pairs,
        clusters,
        params,
        settings.auto_merge_threshold,
        settings.review_threshold,
        len(left),
    )


def read_records(
    wh: Warehouse, model: OperatingModel, table: Literal["persons", "accounts"]
) -> pa.Table:
    """The table's primary key as `id` plus the fields its dedupe settings read, in key order:
    a fit's random sample and the tie between two equally probable matches (the first stored
    wins) are then the same whatever order the database scans the table in."""
    settings = model.dedupe.settings(table)
    pk = table_def(table).primary_key[0]
    expr = wh.table(table).select(pk, *settings.fields).order_by(pk)
    data = wh.to_arrow(expr)
    return data.rename_columns(["id", *settings.fields])


def find_duplicates(
    wh: Warehouse, model: OperatingModel, table: Literal["persons", "accounts"]
) -> DedupeResult:
    """Duplicate persons or accounts in the warehouse, by the operating model's settings."""
    return dedupe_frame(read_records(wh, model, table), model.dedupe.settings(table))
