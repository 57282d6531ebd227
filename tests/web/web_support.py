"""Helpers of the web workspace's tests: the hand-built company (web_fixture.py) bound to a
warehouse, signing in through the form, and the served app (fixtures in conftest.py)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn
import web_fixture as fixture
from fastapi.testclient import TestClient

from revops.api import create_app
from revops.config import DEFAULT_CONFIG, load_config
from revops.context import RevOps
from revops.warehouse import Warehouse


def company(folder: Path) -> RevOps:
    wh = Warehouse.connect(str(folder / "web.duckdb"))
    fixture.seed(wh)
    return RevOps(replace(load_config(DEFAULT_CONFIG), model=fixture.model()), wh)


def sign_in(client: TestClient, email: str, password: str = fixture.PASSWORD) -> int:
    """Sign `client` in through the form; the answer's status (303 when it worked)."""
    page = client.get("/signin")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/signin",
        data={"email": email, "password": password, "token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    return r.status_code


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def ro(tmp_path: Path) -> Iterator[RevOps]:
    out = company(tmp_path)
    try:
        yield out
    finally:
        out.close()


@pytest.fixture
def client(ro: RevOps, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ro, journal=tmp_path / "journal")) as c:
        yield c


@dataclass
class Served:
    url: str
    ro: RevOps
    warehouse: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app over the small company, on a real port of 127.0.0.1, for the module."""
    folder = tmp_path_factory.mktemp("web")
    ro = company(folder)
    port = _free_port()
    config = uvicorn.Config(
        create_app(ro, journal=folder / "journal"),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", ro, folder / "web.duckdb")
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        ro.close()
