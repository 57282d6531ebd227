"""Blocking: the candidate pairs, as equi-joins on blocking keys executed by DuckDB.

Comparing every pair of a million records is 5·10^11 comparisons; comparing only pairs that
share a key of at least one rule (same email, same surname sound plus company prefix, …) is a
hash join per rule. Keys shared by more than `max_block_size` records (a placeholder email, a
switchboard number) are skipped: such a key identifies no one and would swamp the pair set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import BlockingRule, parse_key
from revops.identity.normalize import block_value

IntArray = npt.NDArray[np.int64]
_SEP = "\x1f"


def rule_keys(fields: Mapping[str, pa.Array], rule: BlockingRule) -> pa.Array:
    """One key per record for `rule`: its key components joined; null if any is null."""
    parts = []
    for key in rule.keys:
        function, field = parse_key(key)
        parts.append(block_value(fields[field], function))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, _SEP)


def block_keys(fields: Mapping[str, pa.Array], rules: tuple[BlockingRule, ...]) -> pa.Table:
    """A table with one key column per rule (`k0`, `k1`, …) and the record position `idx`."""
    n = len(next(iter(fields.values())))
    columns = {"idx": pa.array(np.arange(n, dtype=np.int64))}
    for i, rule in enumerate(rules):
        columns[f"k{i}"] = rule_keys(fields, rule)
    return pa.table(columns)


def _pairs_sql(
    n_rules: int, max_block: int, cross: bool, where: str = "", equal: tuple[str, ...] = ()
) -> str:
    """Per rule a self-join (l.idx < r.idx) or existing×incoming join, all unioned; `where`
    is a further condition on the pair's columns (`l.…`, `r.…`), and `equal` columns the two
    rows must also agree on, joined on with the key."""
    parts = []
    same = "".join(f" AND l.{c} = r.{c}" for c in equal)
    for i in range(n_rules):
        k = f"k{i}"
        left, right = ("e", "n") if cross else ("keys", "keys")
        order = "" if cross else " AND l.idx < r.idx"
        also = f" AND ({where})" if where else ""
        parts.append(
            f"SELECT l.idx AS left_idx, r.idx AS right_idx, {i} AS rule FROM {left} l "
            f"JOIN {right} r ON l.{k} = r.{k}{same}{order} "
            f"WHERE l.{k} IN (SELECT {k} FROM {left} WHERE {k} IS NOT NULL "
            f"GROUP BY {k} HAVING count(*) <= {max_block}){also}"
        )
    return " UNION ALL ".join(parts)


def _distinct_sql(union: str) -> str:
    """Each pair once, with the first rule that produced it, ordered."""
    return (
        f"SELECT left_idx, right_idx, min(rule) AS rule FROM ({union}) "
        "GROUP BY left_idx, right_idx ORDER BY left_idx, right_idx"
    )


def _run(
    sql: str, tables: Mapping[str, pa.Table], params: Mapping[str, float] | None = None
) -> tuple[IntArray, IntArray, IntArray]:
    con = duckdb.connect()
    try:
        for name, data in tables.items():
            con.register(name, data)
        out = con.execute(sql, dict(params or {})).fetch_arrow_table()
    finally:
        con.close()
    return (
        out.column("left_idx").to_numpy().astype(np.int64, copy=False),
        out.column("right_idx").to_numpy().astype(np.int64, copy=False),
        out.column("rule").to_numpy().astype(np.int64, copy=False),
    )


def coded(keys: pa.Table) -> pa.Table:
    """`keys` with each key column replaced by its dictionary codes (null stays null): equal
    codes are equal keys, and integers join faster than the keys' strings."""
    for i, name in enumerate(keys.column_names):
        if name[0] == "k" and name[1:].isdigit():
            codes = pc.dictionary_encode(keys.column(i).combine_chunks()).indices
            keys = keys.set_column(i, name, codes)
    return keys


def _n_rules(keys: pa.Table) -> int:
    return sum(1 for name in keys.column_names if name[0] == "k" and name[1:].isdigit())


def candidate_pairs(
    keys: pa.Table,
    max_block_size: int,
    *,
    where: str = "",
    params: Mapping[str, float] | None = None,
    equal: tuple[str, ...] = (),
) -> tuple[IntArray, IntArray, IntArray]:
    """Every pair (i < j) equal on all keys of some rule: positions and the first such rule,
    ordered. `where`, `params` and `equal` drop pairs inside the join, as for `cross_pairs`."""
    union = _pairs_sql(_n_rules(keys), max_block_size, cross=False, where=where, equal=equal)
    sql = _distinct_sql(union)
    return _run(sql, {"keys": coded(keys)}, params)


def cross_pairs(
    existing: pa.Table,
    incoming: pa.Table,
    max_block_size: int,
    *,
    where: str = "",
    params: Mapping[str, float] | None = None,
    equal: tuple[str, ...] = (),
) -> tuple[IntArray, IntArray, IntArray]:
    """Pairs (stored, new) sharing a key, as positions in the tables' `idx` column, each
    once with the first rule that found it, ordered by stored then new position.

    New rows are not compared with each other here (`candidate_pairs` on the new rows does
    that). A key is skipped when more than `max_block_size` stored records share it. `where`
    (an SQL condition on the two rows' columns, `l.c0 = r.c0`, with `$name` placeholders bound
    from `params`) drops pairs inside the join: duplicate rules at entry keep only the pairs
    that could reach a threshold, so the millions of pairs a coarse key gives never leave the
    database. `equal` names columns a pair must also agree on (`c4`), as join keys: a pair
    that `where` would drop unless they agree is then never formed, which is far cheaper than
    forming and dropping it when a block is coarse.
    """
    union = _pairs_sql(_n_rules(existing), max_block_size, cross=True, where=where, equal=equal)
    return _run(_distinct_sql(union), {"e": existing, "n": incoming}, params)


def _usable(keys: pa.Table, max_block_size: int) -> pa.Table:
    """`coded(keys)` with the codes of keys shared by more than `max_block_size` records made
    null: such keys join nothing, as `_pairs_sql`'s HAVING has them."""
    keys = coded(keys)
    for i, name in enumerate(keys.column_names):
        if name[0] == "k" and name[1:].isdigit():
            codes = keys.column(i).combine_chunks()
            valid = codes.is_valid().to_numpy(zero_copy_only=False)
            values = codes.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            sizes = np.bincount(values[valid], minlength=1)
            small = valid & (sizes[values] <= max_block_size)
            keys = keys.set_column(i, name, pa.array(values, mask=~small))
    return keys


def streamed_pairs(
    keys: pa.Table, max_block_size: int, batch_rows: int
) -> Iterator[tuple[IntArray, IntArray]]:
    """The pairs of `candidate_pairs` (each once, i < j), at most `batch_rows` at a time and in
    no particular order, without ever holding them all: a pair is produced by the first rule
    whose key it shares (later rules' joins skip pairs an earlier key joined), so no DISTINCT
    nor ORDER BY keeps the whole pair set in the database either. A fit needs only their
    pattern counts (`pair_tally`); 20,000 sampled accounts of the 10x demo give ~4M pairs
    (+860 MB of pairs, levels and temporaries at once before)."""
    n = _n_rules(keys)
    if n == 0:
        return
    parts = []
    for i in range(n):
        seen = "".join(f" AND NOT coalesce(l.k{j} = r.k{j}, false)" for j in range(i))
        parts.append(
            f"SELECT l.idx AS left_idx, r.idx AS right_idx FROM keys l "
            f"JOIN keys r ON l.k{i} = r.k{i} AND l.idx < r.idx WHERE true{seen}"
        )
    con = duckdb.connect()
    try:
        con.register("keys", _usable(keys, max_block_size))
        with con.execute(" UNION ALL ".join(parts)).fetch_record_batch(batch_rows) as reader:
            for batch in reader:
                yield (
                    batch.column(0).to_numpy().astype(np.int64, copy=False),
                    batch.column(1).to_numpy().astype(np.int64, copy=False),
                )
    finally:
        con.close()
