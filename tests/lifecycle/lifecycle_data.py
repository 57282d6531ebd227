"""Builders for small hand-worked lifecycle cases: events, persons and history as Arrow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from revops.config import load_config
from revops.config.models import Lifecycle
from revops.warehouse import schema
from revops.warehouse.warehouse import arrow_schema

T0 = dt.datetime(2024, 1, 1)
EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
FULL = {"email": "a@x.io", "company": "Acme", "country": "DE", "owner_id": "u1", "account_id": "a1"}


def example_lifecycle() -> Lifecycle:
    return load_config(EXAMPLE).model.lifecycle


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def events(*rows: tuple[str, str, str, float]) -> pa.Table:
    """(event_id, person_id, stage, day offset) rows as lifecycle_events; source 'src-<id>'."""
    return pa.table(
        {
            "event_id": [r[0] for r in rows],
            "person_id": [r[1] for r in rows],
            "stage": [r[2] for r in rows],
            "occurred_at": pa.array([at(r[3]) for r in rows], pa.timestamp("us")),
            "source": [f"src-{r[0]}" for r in rows],
        },
        schema=arrow_schema(schema.table("lifecycle_events")),
    )


def persons(**people: dict[str, Any]) -> pa.Table:
    """person_id → column overrides on top of FULL, as full persons rows."""
    rows = []
    for i, (pid, fields) in enumerate(people.items()):
        row = {
            "person_id": pid,
            **FULL,
            "first_name": f"First {pid}",
            "employees": 10 + i,
            "created_at": at(-1),
            "updated_at": at(-1) + dt.timedelta(hours=i),
        }
        row.update(fields)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=arrow_schema(schema.table("persons")))


def history(*rows: tuple[str, str, str | None, str, float]) -> pa.Table:
    """(transition_id, person_id, from_stage, to_stage, day offset) rows as lifecycle_history."""
    return pa.table(
        {
            "transition_id": [r[0] for r in rows],
            "person_id": [r[1] for r in rows],
            "from_stage": [r[2] for r in rows],
            "to_stage": [r[3] for r in rows],
            "changed_at": pa.array([at(r[4]) for r in rows], pa.timestamp("us")),
            "source": ["test"] * len(rows),
            "skipped": pa.nulls(len(rows), pa.string()),
        },
        schema=arrow_schema(schema.table("lifecycle_history")),
    )


def walk(table: pa.Table) -> list[tuple[str | None, str]]:
    """(from_stage, to_stage) pairs of a history, in decision order."""
    keys = [("person_id", "ascending"), ("changed_at", "ascending"), ("transition_id", "ascending")]
    rows = table.sort_by(keys).to_pylist()
    return [(r["from_stage"], r["to_stage"]) for r in rows]


def reasons(table: pa.Table) -> dict[str, str]:
    """event_id → reason of a rejections table."""
    return {r["event_id"]: r["reason"] for r in table.to_pylist()}
