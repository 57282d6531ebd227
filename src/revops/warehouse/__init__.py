"""The canonical data model and the warehouse that stores it.

The data model (`schema`) is imported here at once; the warehouse (`warehouse`, which imports
Ibis, DuckDB and Arrow's file systems: 0.4 s) only when one of its names is first asked for, so
a process that needs the tables' definitions alone (the demo's generator, which writes exports
in a child process while the demo waits for its first file) does not pay for a database.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from revops.warehouse.schema import TABLES, Column, Relation, Table, table

if TYPE_CHECKING:
    from revops.warehouse.warehouse import Batch, Warehouse, WarehouseError, WriteResult

_LAZY = frozenset(("Batch", "Warehouse", "WarehouseError", "WriteResult"))

__all__ = [
    "TABLES",
    "Batch",
    "Column",
    "Relation",
    "Table",
    "Warehouse",
    "WarehouseError",
    "WriteResult",
    "table",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("revops.warehouse.warehouse"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
