"""Duplicate rules at entry: a new row that matches a stored record is allowed with an alert, or
blocked, as Salesforce duplicate rules do.

New rows are compared only with stored records that share a blocking key with them, so the check
costs a join, not a scan, and only the pairs whose equal fields could carry them to a rule's
threshold leave that join, inside the database, to be string-compared (`_reaching`): blocking
keys shared by many records give millions of pairs that differ on everything but the key; and
when the fit puts the threshold beyond every pair's reach (`_can_reach`), the stored records
are not even read. The model (m, u, λ) is not refitted per load: the stored fit
(`stored_fit`) is reused, so a load's decisions depend on its rows and the stored records
only, not on a fit that moved with every record. A fit is made (on a bounded random sample
of stored plus incoming records, the population the rows are about to join) when a table's
first records arrive, when none is stored or it is stale. Fitting on arrival is kept: a
first screened load that fits instead pays the fit and reads every stored record, and its
fit, on stored plus incoming records, is another model (bench/ingest.py's 100k rows into
51k: 2,647 rows blocked, 0 with the fit made on arrival).

Rows of one load are screened as if the file were entered one row at a time: a row is compared
with the stored records and with the rows before it in the file, on the same fit, keys and
equality bound, and an earlier row it matches is its `matched_id`. A blocked row never enters
the table, so it is no match target for the rows after it (their quarantine reasons and
alerts would name a record that is not there); an allowed or unmatched earlier row is loaded
with the file and is one. Inside the file a key is skipped when more than `max_block_size`
new rows share it, as a key shared by that many stored records is. A table's first load is
not screened (there is nothing stored to be a duplicate of and it is what the model is fitted
on): `revops quality dedupe` finds its pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import DedupeSettings, DuplicateRule
from revops.config.models import OperatingModel
from revops.identity import fellegi_sunter as fs
from revops.identity import stored_fit
from revops.identity.blocking import IntArray, block_keys, candidate_pairs, coded, cross_pairs
from revops.identity.compare import comparison_matrix
from revops.identity.dedupe import Prepared, fit_tally, prepare, read_records, subset
from revops.identity.pair_tally import pair_tally
from revops.warehouse import Warehouse
from revops.warehouse import table as table_def
from revops.warehouse.clock import utc_now

if TYPE_CHECKING:
    from revops.ingest.raw import RawData

TableName = Literal["persons", "accounts"]

CHECK_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("matched_id", pa.string()),
        ("probability", pa.float64()),
        ("rule", pa.string()),
        ("action", pa.string()),
    ]
)


def _applies(rule: DuplicateRule, preset: str | None, source: str | None) -> bool:
    """A rule naming `salesforce` covers every Salesforce object (`salesforce.Lead`) too."""
    system = preset.partition(".")[0] if preset else None
    named = preset in rule.sources or system in rule.sources
    return not rule.sources or named or source in rule.sources


def check_new_records(
    wh: Warehouse,
    model: OperatingModel,
    table: TableName,
    records: pa.Table,
    *,
    preset: str | None = None,
    now: datetime | None = None,
    defer: list[pa.Table] | None = None,
) -> pa.Table:
    """One row per incoming record: its best match, and the rule and action that fire.

    `records` has the table's columns (its primary key, or `id`), in file order. A record's
    match targets are the stored records and the records before it that are not blocked
    (module docstring); ties go to the stored record, then to the earlier row. `matched_id`,
    `rule` and `action` are null when no rule fires. `probability` is the best match's among
    the pairs that could reach the lowest rule threshold (see `_reaching`), or null when there
    is none: only those pairs are scored, which is what keeps a load into a full warehouse
    cheap.
    The stored fit scores the pairs; when there is none or it is stale, one is fitted and
    stored (stamped `now`), which is the only write this check makes (into `defer` when
    given: see `stored_fit.save`).
    """
    settings = model.dedupe.settings(table)
    n_new = records.num_rows
    rules = [r for r in model.dedupe.rules if r.table == table]
    incoming = _incoming(records, table, settings)
    new_ids = incoming.column("id")
    best_p = np.full(n_new, np.nan)
    best_id = np.full(n_new, None, dtype=object)
    covers = _covers(rules, preset, records)
    n_old = wh.count(table) if rules and n_new else 0
    floor = min((r.threshold for r in rules), default=1.0)
    fit = stored_fit.latest(wh, table) if n_old else None
    reason = stored_fit.stale(fit, settings, n_old)
    params = fit.params if fit is not None and reason is None else None
    if n_old and (params is None or _can_reach(params, floor)):
        stored = read_records(wh, model, table)
        prep = prepare(pa.concat_tables([stored, incoming.cast(stored.schema)]), settings)
        if params is None:  # stale or missing: fit on the population the rows join
            params = _refit(wh, table, settings, prep, reason, now=now or utc_now(), defer=defer)
        if params is not None and _can_reach(params, floor):
            left, right = _reaching(prep, settings, params, floor, n_old)
            ids = prep.ids
            other = ~np.asarray(  # a row updating this very record is not its duplicate
                pc.equal(ids.take(pa.array(left)), ids.take(pa.array(right))).to_numpy(False),
                bool,
            )
            left, right = left[other], right[other]
            if len(left):
                kinds = [c.kind for c in settings.comparisons]
                levels = comparison_matrix(prep.encoded, kinds, left, right)
                prob = fs.probabilities(fs.match_weights(levels, params))
                rows, at = _first_come(rules, covers, left, right, prob, n_old)
                best_p[rows] = prob[at]
                best_id[rows] = ids.take(pa.array(left[at])).to_numpy(False)
    out_rule, out_action, out_match = _fire(rules, covers, best_p, best_id)
    probability = pa.array(best_p, pa.float64(), from_pandas=True)  # NaN: no match, null
    return pa.table(
        [new_ids, pa.array(out_match, pa.string()), probability, out_rule, out_action],
        schema=CHECK_SCHEMA,
    )


def _first_come(
    rules: list[DuplicateRule],
    covers: np.ndarray,
    left: IntArray,
    right: IntArray,
    prob: np.ndarray,
    n_old: int,
) -> tuple[IntArray, IntArray]:
    """Per new row that has a pair, the pair of its best match target, in file order: the new
    rows (as positions among the new rows) and the positions of their pairs.

    A pair's target is a stored record (`left < n_old`) or an earlier new row; the latter
    counts only when that row is not blocked, and whether it is depends on its own best
    target, so rows with an earlier new row among their pairs are settled one by one in file
    order. The others (most rows) take their best stored match at once."""
    new = right - n_old
    order = np.lexsort((-prob, new))  # per new row, most probable first; ties: smaller left
    starts = np.flatnonzero(np.r_[True, new[order][1:] != new[order][:-1]])
    at = order[starts]
    rows = new[at]
    inner = np.zeros(len(rows), dtype=np.bool_)
    np.logical_or.at(inner, np.searchsorted(rows, new[left >= n_old]), True)
    if not inner.any():
        return rows, at
    blocks = np.array([r.action == "block" for r in rules] + [False])  # [-1]: no rule fired
    best = np.full(covers.shape[1], np.nan)
    best[rows] = prob[at]
    blocked = blocks[_rule_index(rules, covers, best)]
    ends = np.r_[starts[1:], len(order)]
    for g in np.flatnonzero(inner).tolist():  # ascending: earlier rows are settled first
        j = int(rows[g])
        targets = order[starts[g] : ends[g]]
        free = (left[targets] < n_old) | ~blocked[np.maximum(left[targets] - n_old, 0)]
        at[g] = targets[free.argmax()] if free.any() else -1
        best[j] = prob[at[g]] if at[g] >= 0 else np.nan
        blocked[j] = blocks[_first_rule(rules, covers[:, j], float(best[j]))]
    keep = at >= 0
    return rows[keep], at[keep]


def _incoming(records: pa.Table, table: TableName, settings: DedupeSettings) -> pa.Table:
    """`records` as `id` (the primary key, as text) plus the fields the settings read; a field
    the load does not bring is missing (null)."""
    pk = table_def(table).primary_key[0]
    id_col = pk if pk in records.column_names else "id"
    n = records.num_rows
    return pa.table(
        {"id": pc.cast(records.column(id_col), pa.string()).combine_chunks()}
        | {
            f: records.column(f) if f in records.column_names else pa.nulls(n, pa.string())
            for f in settings.fields
        }
    )


def _refit(
    wh: Warehouse,
    table: TableName,
    settings: DedupeSettings,
    prep: Prepared,
    reason: str | None,
    *,
    now: datetime,
    defer: list[pa.Table] | None = None,
) -> fs.FellegiSunterParams | None:
    """A fit made now on `prep` (the stored records, then the incoming ones) because the stored
    one is stale or missing (`reason`), and stored; None when the sample has no candidate
    pair to learn from."""
    params = _fit(prep, settings)
    if params is not None:
        n = len(prep.ids)
        stored_fit.save(
            wh, table, params, settings, records=n, reason=reason or "", now=now, defer=defer
        )
    return params


def fit_on_arrival(
    wh: Warehouse,
    model: OperatingModel,
    table: TableName,
    records: pa.Table,
    *,
    now: datetime,
    defer: list[pa.Table] | None = None,
) -> stored_fit.StoredFit | None:
    """A table's first records (a load into an empty table): fit and store the model on them
    when it has duplicate rules and no usable fit, so the next load screens without fitting.
    Only the sample is normalized, so a million-row first load pays for FIT_RECORDS."""
    settings = model.dedupe.settings(table)
    if not any(r.table == table for r in model.dedupe.rules) or records.num_rows < MIN_RECORDS:
        return None
    reason = stored_fit.stale(stored_fit.latest(wh, table), settings, 0)
    if reason is None:
        return None
    incoming = _incoming(records, table, settings)
    return _fit_and_save(wh, table, settings, incoming, reason, now, defer)


def refit(
    wh: Warehouse, model: OperatingModel, table: TableName, *, now: datetime
) -> stored_fit.StoredFit | None:
    """Fit the model on the stored records now (`revops quality model --refit`) and store it;
    None when no two sampled records share a blocking key."""
    settings = model.dedupe.settings(table)
    return _fit_and_save(wh, table, settings, read_records(wh, model, table), "requested", now)


def _fit_and_save(
    wh: Warehouse,
    table: TableName,
    settings: DedupeSettings,
    records: pa.Table,
    reason: str,
    now: datetime,
    defer: list[pa.Table] | None = None,
) -> stored_fit.StoredFit | None:
    n = records.num_rows
    rows = _sample(n, settings)
    sample = records if rows is None else records.take(pa.array(rows))
    params = _fit(prepare(sample, settings), settings)  # normalizing is per value: the same
    if params is None:
        return None
    return stored_fit.save(
        wh, table, params, settings, records=n, reason=reason, now=now, defer=defer
    )


def _need(params: fs.FellegiSunterParams, floor: float) -> float:
    """The match weight (sum of the fields' weights) a pair needs for probability `floor`, less
    a margin: float sums differ in the last bits by summation order, so pairs at the edge stay."""
    lam = params.lambda_
    return float(np.log2(floor / (1 - floor)) - np.log2(lam / (1 - lam))) - 1e-6


def _can_reach(params: fs.FellegiSunterParams, floor: float) -> bool:
    """Whether any pair at all could reach probability `floor`: each field adds at most its
    best weight (or nothing, when a value is missing). When even the best sum falls short (a
    fit on records without duplicates puts the bar above every pattern), no pair can fire a
    rule, so the stored records need not be read, normalized nor joined (`_reaching` would
    drop every pair it found); the check's answer is the same, at no cost."""
    if not 0 < floor < 1:
        return True
    best = sum(max(0.0, *comp.weights) for comp in params.comparisons)
    return bool(best >= _need(params, floor) - 1e-6)


def _needed(params: fs.FellegiSunterParams, floor: float) -> list[int]:
    """The compared fields (positions) on which a pair must agree to reach probability `floor`:
    with any other level of that field (at most its best non-exact weight, or nothing when a
    value is missing) even the best of every other field falls short. `_reaching` joins on
    them with the blocking key, so a coarse key's pairs that differ there are never formed."""
    if not 0 < floor < 1:
        return []
    best = [max(0.0, *comp.weights) for comp in params.comparisons]
    other = [max(0.0, *comp.weights[:-1]) for comp in params.comparisons]
    need, total = _need(params, floor), sum(best)
    return [f for f in range(len(best)) if total - best[f] + other[f] < need - 1e-6]


def _reaching(
    prep: Prepared,
    settings: DedupeSettings,
    params: fs.FellegiSunterParams,
    floor: float,
    n_old: int,
) -> tuple[IntArray, IntArray]:
    """The distinct pairs (stored, new) and (earlier new, later new) sharing a blocking key
    whose match probability could reach `floor`, judged by equality alone, as positions in
    `prep` (the first `n_old` are the stored records, then the new ones in file order),
    ordered by left then right position.

    Each compared field adds its exact weight when the two values are equal, nothing when one
    is missing, and otherwise at most the best weight of its other levels (what the string
    comparison could still find). A pair whose sum stays below `floor` cannot reach any rule's
    threshold whatever the comparison finds, so the join drops it before the costly
    comparison, inside the database: most pairs a blocking key produces differ on everything
    but that key. Field codes are the records' dictionary codes (-1 for missing), so equal
    codes are equal normalized values."""
    keys = coded(block_keys(prep.fields, settings.blocking))  # codes shared by both sides
    for f, (codes, _) in enumerate(prep.encoded):
        keys = keys.append_column(f"c{f}", pa.array(codes))
    where, bind = "", {}
    if 0 < floor < 1:
        bind["need"] = _need(params, floor)
        terms = []
        for f, comp in enumerate(params.comparisons):
            w = comp.weights
            bind[f"eq{f}"], bind[f"ne{f}"] = float(w[-1]), float(max(w[:-1]))
            terms.append(
                f"CASE WHEN l.c{f} < 0 OR r.c{f} < 0 THEN 0.0 "
                f"WHEN l.c{f} = r.c{f} THEN $eq{f} ELSE $ne{f} END"
            )
        where = f"{' + '.join(terms)} >= $need"
    equal = tuple(f"c{f}" for f in _needed(params, floor))
    new = keys.slice(n_old)
    left, right, _ = cross_pairs(
        keys.slice(0, n_old), new, settings.max_block_size, where=where, params=bind, equal=equal
    )
    inner_left, inner_right, _ = candidate_pairs(
        new, settings.max_block_size, where=where, params=bind, equal=equal
    )
    return np.r_[left, inner_left], np.r_[right, inner_right]


def _covers(rules: list[DuplicateRule], preset: str | None, records: pa.Table) -> np.ndarray:
    """Which rule covers which record (rules × records): all of them when the rule names the
    load's preset or has no sources, else those whose `source` it names."""
    n = records.num_rows
    source = records.column("source") if "source" in records.column_names else None
    covers = np.zeros((len(rules), n), dtype=np.bool_)
    for i, r in enumerate(rules):
        if _applies(r, preset, None):
            covers[i] = True
        elif source is not None:
            hit = pc.is_in(source, value_set=pa.array(list(r.sources), source.type))
            covers[i] = np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), np.bool_)
    return covers


def _rule_index(rules: list[DuplicateRule], covers: np.ndarray, best_p: np.ndarray) -> IntArray:
    """Per record the position of the first rule that covers it and whose threshold its best
    match probability reaches, or -1 (a missing probability reaches none)."""
    out = np.full(len(best_p), -1, dtype=np.int64)
    p = np.nan_to_num(best_p, nan=-1.0)
    for i in reversed(range(len(rules))):  # the first rule that fires overwrites later ones
        out[covers[i] & (p >= rules[i].threshold)] = i
    return out


def _first_rule(rules: list[DuplicateRule], covers: np.ndarray, p: float) -> int:
    """`_rule_index` of one record (`covers`: which rules cover it) whose best match has
    probability `p` (NaN: none): the row-by-row settling calls it once per row, where the
    array form's overhead was most of the cost."""
    if np.isnan(p):
        return -1
    for i, (rule, covered) in enumerate(zip(rules, covers.tolist(), strict=True)):
        if covered and p >= rule.threshold:
            return i
    return -1


def _fire(
    rules: list[DuplicateRule], covers: np.ndarray, best_p: np.ndarray, best_id: np.ndarray
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Per record the first rule that covers it and whose threshold its best match reaches:
    that rule's name and action and the match, or nulls."""
    fired = _rule_index(rules, covers, best_p)
    names = np.array([r.name for r in rules] + [None], dtype=object)
    actions = np.array([r.action for r in rules] + [None], dtype=object)
    match = best_id.copy()
    match[fired < 0] = None
    return (
        pa.array(names[fired], pa.string()),
        pa.array(actions[fired], pa.string()),
        pa.array(match, pa.string()),
    )


FIT_RECORDS = 20_000
# A first load smaller than this fits nothing: the next load fits on stored plus incoming
MIN_RECORDS = 1_000


def _sample(n: int, settings: DedupeSettings) -> IntArray | None:
    """Sorted positions of a seeded random FIT_RECORDS of `n` records, or None for all."""
    if n <= FIT_RECORDS:
        return None
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(n, FIT_RECORDS, replace=False))


def _fit(prep: Prepared, settings: DedupeSettings) -> fs.FellegiSunterParams | None:
    """m, u and λ fitted on a seeded random sample of at most FIT_RECORDS of the records.

    Fitting on everything stored made every load as slow as a full dedupe (a 100k-row load
    into the demo took 13-15x as long as into an empty warehouse). A uniform sample keeps the
    estimates: m and u are per-pair rates, and λ, the chance that a random pair matches, is
    the same in a random sample of records as in the whole population. The sample is taken
    from the records already normalized (normalization is per value, so this is the sample
    normalized again, without the cost)."""
    rows = _sample(len(prep.ids), settings)
    if rows is not None:
        prep = subset(prep, settings, rows)
    pairs = pair_tally(prep.encoded, settings, block_keys(prep.fields, settings.blocking))
    if pairs.pairs == 0:  # nothing in the sample shares a block: nothing to learn from
        return None
    return fit_tally(prep, settings, pairs)


@dataclass(frozen=True)
class Screened:
    """A load after its duplicate rules: rows to write, rows to quarantine, alerts to record."""

    good: pa.Table
    quarantine: pa.Table
    alerts: pa.Table


def screen_load(
    wh: Warehouse,
    model: OperatingModel,
    table_name: str,
    preset: str | None,
    raw: RawData,
    bad_rows: np.ndarray,
    good: pa.Table,
    quarantine: pa.Table,
    *,
    load_id: str,
    file: str,
    now: datetime,
    defer: list[pa.Table] | None = None,
) -> Screened:
    """Apply the duplicate rules to a validated load; blocked rows join the quarantine rows.
    A fit made on the way goes into `defer` when given (see `stored_fit.save`)."""
    table: TableName = "persons" if table_name == "persons" else "accounts"
    check = check_new_records(wh, model, table, good, preset=preset, now=now, defer=defer)
    action = check.column("action")
    blocked = pc.fill_null(pc.equal(action, "block"), False)
    allowed = pc.fill_null(pc.equal(action, "allow"), False)
    kept = np.ones(raw.data.num_rows, dtype=np.bool_)  # setdiff1d sorts: slow at 1M rows
    kept[bad_rows] = False
    positions = np.flatnonzero(kept)
    blocked_idx = np.flatnonzero(blocked.to_numpy(zero_copy_only=False))
    if len(blocked_idx):
        hits = check.take(pa.array(blocked_idx))
        reasons = [
            f"duplicate of {m} (rule {r}, p={p:.2f})"
            for m, r, p in zip(
                hits["matched_id"].to_pylist(),
                hits["rule"].to_pylist(),
                hits["probability"].to_pylist(),
                strict=True,
            )
        ]
        n = len(blocked_idx)
        extra = pa.table(
            {
                "load_id": [load_id] * n,
                "target_table": [table] * n,
                "file": [file] * n,
                "row_number": pa.array(raw.row_numbers[positions[blocked_idx]], pa.int64()),
                "field": [table_def(table).primary_key[0]] * n,
                "reason": reasons,
                "raw": raw.raw_json(positions[blocked_idx]),
                "quarantined_at": pa.array([now] * n, pa.timestamp("us")),
            },
            schema=quarantine.schema,
        )
        quarantine = pa.concat_tables([quarantine, extra]).sort_by("row_number")
        good = good.filter(pc.invert(blocked))
    alerts = check.filter(allowed)
    n = alerts.num_rows
    alerts = pa.table(
        {
            "alert_id": [f"{load_id}-{i}" for i in range(n)],
            "load_id": [load_id] * n,
            "target_table": [table] * n,
            "record_id": alerts["record_id"],
            "matched_id": alerts["matched_id"],
            "rule": alerts["rule"],
            "probability": alerts["probability"],
            "created_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    return Screened(good, quarantine, alerts)
