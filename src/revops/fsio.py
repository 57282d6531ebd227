"""Durability helpers shared by everything that writes files beside the warehouse.

A rename or a new file is only durable once its folder is synced too, and a file written
through another handle (DuckDB's, say) only once it is synced by path. The journal, the
audit anchor and erasure's file rewrite all need this, so it lives in one place.
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_path(path: Path) -> None:
    """fsync the file or folder at `path` (opened read-only, so any file we may read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
