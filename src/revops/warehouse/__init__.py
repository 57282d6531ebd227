"""The canonical data model and the warehouse that stores it."""

from revops.warehouse.schema import TABLES, Column, Relation, Table, table
from revops.warehouse.warehouse import Batch, Warehouse, WarehouseError, WriteResult

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
