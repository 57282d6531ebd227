"""Fixtures for automation tests: real receivers on 127.0.0.1 and the webhook secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver(stall_seconds=1.5)
    yield r
    r.close()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver()
    yield r
    r.close()


@pytest.fixture
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "test-webhook-secret")
