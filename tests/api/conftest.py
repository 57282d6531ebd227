"""The `api` fixture: the intake app over the hand-built company of api_support."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from api_support import EXAMPLE, KEY_ROWS, NOW, ROUTING, TOKENS, Api, seed
from fastapi.testclient import TestClient

from revops.api import create_app
from revops.config import load_config
from revops.context import RevOps
from revops.warehouse import Warehouse


@pytest.fixture
def api(warehouse: Warehouse, tmp_path: Path) -> Iterator[Api]:
    seed(warehouse)
    loaded = load_config(EXAMPLE)
    ro = RevOps(
        replace(loaded, model=loaded.model.model_copy(update={"routing": ROUTING})), warehouse
    )
    warehouse.write("api_keys", KEY_ROWS)
    keys = dict(TOKENS)
    now = [NOW]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    app = create_app(ro, clock=clock, journal=tmp_path / "journal", applier="thread")
    with TestClient(app) as client:
        yield Api(client, ro, keys, now)
