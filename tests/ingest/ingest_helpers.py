"""Small helpers shared by the ingestion tests: writing files and reading results back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revops.warehouse import Warehouse

CASES = Path(__file__).parents[1] / "cases"

SPEND_HEADER = "campaign_id,spend_date,amount\n"
ACCOUNT_HEADER = "account_id,name,employees,annual_revenue,region,segment,created_at\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def quarantined(wh: Warehouse, load_id: str) -> list[tuple[Any, ...]]:
    """(row_number, field, reason, raw) of one load's quarantine rows, by row number."""
    return wh.sql(
        "SELECT row_number, field, reason, raw FROM quarantine "
        f"WHERE load_id = '{load_id}' ORDER BY row_number"
    )


def column(wh: Warehouse, table: str, name: str, order_by: str) -> list[Any]:
    return [r[0] for r in wh.sql(f'SELECT "{name}" FROM "{table}" ORDER BY "{order_by}"')]


def counts(wh: Warehouse) -> dict[str, int]:
    return {t: wh.count(t) for t in ("accounts", "campaign_spend", "quarantine", "load_log")}
