"""Merging duplicate records, and undoing merges exactly.

A merge folds one or more records into a survivor: the survivor's fields are recomputed by the
survivorship rules, every child row (touchpoints, activities, opportunities, lifecycle rows;
for accounts: persons, opportunities, subscriptions, …) is re-parented to the survivor, and the
merged records leave the live table. Everything needed to undo it — both before-images and the
primary keys of every re-parented child — goes to `merge_log` in the same `write_many`
transaction, so a merge either lands whole with its log or not at all, and `unmerge` restores
the exact prior state. Child tables are found from the data model's relations, so a table added
later with a foreign key to persons or accounts is re-parented without changes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from revops.config.identity import MergeConfig
from revops.identity.mergelog import MergeError, dumps_row, next_sequence, rows_to_arrow
from revops.identity.survivorship import Row, survive
from revops.warehouse import Warehouse
from revops.warehouse.schema import TABLES
from revops.warehouse.schema import table as schema_table
from revops.warehouse.warehouse import Batch

MERGEABLE = ("persons", "accounts")

__all__ = [
    "MERGEABLE",
    "ChildLink",
    "MergeError",
    "MergePlan",
    "apply_merges",
    "child_links",
    "merge",
    "plan_merges",
]


@dataclass(frozen=True)
class ChildLink:
    """A child table whose `column` points at the merged table, keyed by `key`."""

    table: str
    key: str
    column: str


def child_links(table: str) -> tuple[ChildLink, ...]:
    """Every company-data table with a foreign key to `table` that can be re-parented in place.

    Tables whose primary key contains the foreign key (per-account aggregates such as
    product_usage) cannot be re-pointed by an update and are left out.
    """
    links = []
    for t in TABLES:
        if t.system or len(t.primary_key) != 1:
            continue
        for rel in t.relations:
            if rel.table == table and rel.column not in t.primary_key:
                links.append(ChildLink(t.name, t.primary_key[0], rel.column))
    return tuple(links)


@dataclass(frozen=True)
class MergePlan:
    """What one merge will do; `apply_merges` writes it, the CLI prints it for --dry-run."""

    table: str
    survivor_id: str
    merged_ids: tuple[str, ...]
    survivor_before: Row
    survivor_after: Row
    merged_before: tuple[Row, ...]
    children: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # merged -> tbl -> pks

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, survivor's value before, value after) for every field the merge changes."""
        return [
            (k, v, self.survivor_after.get(k))
            for k, v in self.survivor_before.items()
            if v != self.survivor_after.get(k)
        ]

    def child_counts(self) -> dict[str, int]:
        """Child rows re-parented to the survivor, per child table."""
        counts: dict[str, int] = {}
        for per_table in self.children.values():
            for name, keys in per_table.items():
                counts[name] = counts.get(name, 0) + len(keys)
        return counts


def _check_table(table: str) -> str:
    if table not in MERGEABLE:
        raise MergeError(f"cannot merge {table!r}; mergeable tables: {', '.join(MERGEABLE)}")
    return schema_table(table).primary_key[0]


def _rows(wh: Warehouse, table: str, key: str, ids: Sequence[str]) -> dict[str, Row]:
    t = wh.table(table)
    data = wh.to_arrow(t.filter(t[key].isin(list(ids))))
    return {str(r[key]): r for r in data.to_pylist()}


def plan_merges(
    wh: Warehouse, cfg: MergeConfig, table: str, groups: Sequence[tuple[str, Sequence[str]]]
) -> list[MergePlan]:
    """Plan one merge per (survivor, merged ids) group; groups must not share records."""
    key = _check_table(table)
    seen: set[str] = set()
    for survivor, merged in groups:
        ids = [survivor, *merged]
        if not merged:
            raise MergeError(f"nothing to merge into {survivor}")
        if len(set(ids)) != len(ids) or seen & set(ids):
            raise MergeError(f"record listed twice in the merge of {survivor}")
        seen.update(ids)
    rows = _rows(wh, table, key, sorted(seen))
    missing = sorted(seen - rows.keys())
    if missing:
        raise MergeError(f"{table} not found: {', '.join(missing[:5])}")
    links = child_links(table)
    kids: dict[str, dict[str, list[str]]] = {}
    merged_all = sorted(seen - {s for s, _ in groups})
    for link in links:
        t = wh.table(link.table)
        found = wh.to_arrow(t.filter(t[link.column].isin(merged_all)).select(link.key, link.column))
        for pk, parent in zip(
            found[link.key].to_pylist(), found[link.column].to_pylist(), strict=True
        ):
            if link.table == table and pk in seen:
                continue  # a record of the merge itself, handled by survivorship
            kids.setdefault(parent, {}).setdefault(link.table, []).append(pk)
    spec = getattr(cfg, table)
    self_cols = [link.column for link in links if link.table == table]
    plans = []
    for survivor, merged in groups:
        group = [rows[survivor], *(rows[m] for m in merged)]
        after = survive(group, spec, key)
        for col in self_cols:  # a survivor must not end up its own parent
            if after.get(col) in {survivor, *merged}:
                after[col] = None
        children = {m: {k: sorted(v) for k, v in kids.get(m, {}).items()} for m in merged}
        plans.append(
            MergePlan(
                table, survivor, tuple(merged), rows[survivor], after, tuple(group[1:]), children
            )
        )
    return plans


def apply_merges(
    wh: Warehouse, plans: Sequence[MergePlan], *, actor: str, now: datetime | None = None
) -> list[str]:
    """Write planned merges (one table) in one transaction; returns their merge ids."""
    if not plans:
        return []
    table = plans[0].table
    if any(p.table != table for p in plans):
        raise MergeError("apply_merges takes plans for one table at a time")
    key = _check_table(table)
    when = (now or datetime.now()).replace(microsecond=0)
    seq = next_sequence(wh)
    live = wh.to_arrow(wh.table(table))
    touched = [i for p in plans for i in (p.survivor_id, *p.merged_ids)]
    kept = live.filter(pc.invert(pc.is_in(live[key], pa.array(touched, pa.string()))))
    survivors = rows_to_arrow(table, [p.survivor_after for p in plans])
    batches = [Batch(table, pa.concat_tables([kept, survivors.cast(kept.schema)]), "replace")]
    moves: dict[str, tuple[str, str, list[str], list[str]]] = {}
    log: list[Row] = []
    ids = []
    for i, plan in enumerate(plans):
        merge_id = f"MRG-{when:%Y%m%d%H%M%S}-{seq + i:06d}"
        ids.append(merge_id)
        for before in plan.merged_before:
            merged_id = str(before[key])
            per_table = plan.children.get(merged_id, {})
            for link in child_links(table):
                pks = per_table.get(link.table, [])
                entry = moves.setdefault(link.table, (link.key, link.column, [], []))
                entry[2].extend(pks)
                entry[3].extend([plan.survivor_id] * len(pks))
            log.append(
                {
                    "merge_id": merge_id,
                    "sequence": seq + i,
                    "table_name": table,
                    "survivor_id": plan.survivor_id,
                    "merged_id": merged_id,
                    "merged_before": dumps_row(before),
                    "survivor_before": dumps_row(plan.survivor_before),
                    "children": dumps_row(per_table),
                    "merged_at": when,
                    "actor": actor,
                    "undone_at": None,
                }
            )
    for child, (pk, col, keys, parents) in moves.items():
        if keys:
            data = pa.table({pk: pa.array(keys, pa.string()), col: pa.array(parents, pa.string())})
            batches.append(Batch(child, data, "upsert"))
    batches.append(Batch("merge_log", rows_to_arrow("merge_log", log), "append"))
    wh.write_many(batches)
    return ids


def merge(
    wh: Warehouse,
    cfg: MergeConfig,
    table: str,
    survivor_id: str,
    merged_ids: Sequence[str],
    *,
    actor: str | None = None,
    dry_run: bool = False,
) -> tuple[MergePlan, str | None]:
    """Merge `merged_ids` into `survivor_id`; returns the plan and the merge id (None if dry)."""
    plan = plan_merges(wh, cfg, table, [(survivor_id, list(merged_ids))])[0]
    if dry_run:
        return plan, None
    return plan, apply_merges(wh, [plan], actor=actor or cfg.actor)[0]


def auto_groups(wh: Warehouse, table: str, clusters: pa.Table) -> list[tuple[str, list[str]]]:
    """(survivor, merged ids) per dedupe cluster; the survivor is the record created first
    (the original the duplicates were re-entered from), ties broken by id."""
    key = _check_table(table)
    frame = clusters.select(["cluster_id", "record_id"]).to_pylist()
    members: dict[str, list[str]] = {}
    for row in frame:
        members.setdefault(str(row["cluster_id"]), []).append(str(row["record_id"]))
    ids = [i for group in members.values() for i in group]
    t = wh.table(table)
    created = {
        str(r[key]): r["created_at"]
        for r in wh.to_arrow(t.filter(t[key].isin(ids)).select(key, "created_at")).to_pylist()
    }
    groups = []
    for cid in sorted(members):
        live = sorted(i for i in set(members[cid]) if i in created)
        if len(live) < 2:
            continue
        live.sort(key=lambda i: (created[i] is None, created[i] or datetime.min, i))
        groups.append((live[0], live[1:]))
    return groups
