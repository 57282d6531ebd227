"""Quoting for the few statements revops writes as SQL text rather than through Ibis.

Identifiers and string literals are quoted the way DuckDB, PostgreSQL and Spark SQL all read
them (doubled quote characters inside), so a table named with a quote, or a login or path
holding an apostrophe, is data and never SQL. A leaf module, so the warehouse, its stage and
the engines can all import it without a cycle.
"""

from __future__ import annotations


def ident(name: str) -> str:
    """`name` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` as a single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
