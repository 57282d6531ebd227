"""Subject access (GDPR Art. 15): every row about a person, across every table, as one JSON.

The rows are found by walking the data model (`revops.privacy.subjects`), so the document
covers derived tables, the quarantine and the audit log as well as the CRM tables. Written to a
file it is encrypted when `REVOPS_ENCRYPTION_KEY` is set (`revops.privacy.crypto`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from revops.errors import RevOpsError
from revops.privacy.crypto import write_private
from revops.privacy.subjects import find_subject, rows_about
from revops.warehouse import Warehouse


def export_subject(wh: Warehouse, email: str) -> dict[str, Any]:
    """{"person_ids", "generated_at", "tables": {table: [rows]}}; tables with no rows omitted."""
    subject = find_subject(wh, email)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, expr in rows_about(wh, subject).items():
        rows = wh.to_arrow(expr).to_pylist()
        if rows:
            tables[name] = rows
    if not tables:
        raise RevOpsError("no rows about that email in any table")
    return {
        "person_ids": list(subject.person_ids),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": tables,
    }


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value safe to put in a CSV cell a spreadsheet will open (OWASP CSV injection).

    A cell starting with = + - @ tab or carriage return is read as a formula by Excel, LibreOffice
    and Google Sheets (`=HYPERLINK(...)` leaks data on a click); a leading single quote makes it
    text. Non-text values pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def write_export(document: dict[str, Any], path: Path) -> bool:
    """Write the document to `path` (mode 0600); returns whether it was encrypted."""
    return write_private(Path(path), to_json(document).encode())
