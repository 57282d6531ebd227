"""Delivery against real receivers that fail on purpose: 5xx, stalls past the timeout, refused
connections, permanent 4xx, SMTP 451. Every action ends delivered (or dead, then retried and
delivered), and each idempotency key is stored once at the receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from auto_case import at, build_model, mql_history, seed
from receivers import HttpReceiver, SmtpReceiver, free_port

from revops.automation import dispatch, inbox, queue
from revops.automation.dispatcher import abandoned, acquire, backoff, holder_id, release
from revops.automation.signing import sign, verify
from revops.config.automation import Dispatch
from revops.config.models import OperatingModel
from revops.warehouse import Warehouse


@pytest.fixture
def duck() -> Iterator[Warehouse]:
    wh = Warehouse.connect(":memory:")
    yield wh
    wh.close()


def prepared(wh: Warehouse, model: OperatingModel, day: int = 2, hour: int = 13) -> list[str]:
    """Seeded company, MQL history, events queued: the outbound action ids."""
    seed(wh, model)
    wh.write("lifecycle_history", mql_history(), "append")
    queue(wh, model, at(day, hour))
    return [a["action_id"] for a in pending(wh)]


def pending(wh: Warehouse) -> list[dict[str, object]]:
    return inbox.actions(wh, status="pending", limit=1000)


def drain(wh: Warehouse, model: OperatingModel, passes: int = 20) -> int:
    """Dispatch passes (time moving on past every backoff) until nothing is pending."""
    now = datetime(2025, 6, 2, 13)
    for n in range(passes):
        if not pending(wh):
            return n
        now += timedelta(hours=1)
        dispatch(wh, model, "d1", clock=lambda now=now: now)
    return passes


def statuses(wh: Warehouse) -> dict[str, str]:
    return {str(a["action_id"]): str(a["status"]) for a in inbox.actions(wh, limit=1000)}


def test_http_failures_are_retried_until_delivered_once(
    duck: Warehouse, http_receiver: HttpReceiver, hook_secret: None
) -> None:
    model = build_model(http_receiver.url)
    ids = prepared(duck, model)
    assert len(ids) == 6  # 3 SLA chats, 1 at-risk chat, 2 nurture webhooks (p1, p2)
    http_receiver.failures = ["500", "503", "stall", "502", "500", "stall", "429"]
    drain(duck, model)
    time.sleep(http_receiver.stall_seconds)  # a stalled handler finishes after the client left
    assert all(statuses(duck)[i] == "delivered" for i in ids)
    assert set(http_receiver.store) == set(ids)  # each key stored once
    assert http_receiver.bad_signatures == 0
    # a stalled request reached the receiver and was answered too late: the retry repeats the
    # key, and the receiver drops the repeat
    assert sum(http_receiver.received.values()) == len(ids) + 2
    errors = [str(r[0]) for r in duck.sql("SELECT error FROM automation_attempts WHERE NOT ok")]
    assert sorted(e.split(" ")[0] for e in errors) == ["HTTP"] * 5 + ["timed"] * 2


def test_refused_connection_then_receiver_starts(duck: Warehouse, hook_secret: None) -> None:
    port = free_port()
    model = build_model(f"http://127.0.0.1:{port}")
    ids = prepared(duck, model)
    dispatch(duck, model, "d1", clock=lambda: at(2, 14))
    assert {statuses(duck)[i] for i in ids} == {"pending"}
    errors = {str(r[0]) for r in duck.sql("SELECT error FROM automation_attempts")}
    assert all(e.startswith("connection failed") for e in errors)
    receiver = HttpReceiver(port=port)
    try:
        drain(duck, model)
        assert set(receiver.store) == set(ids)
        assert set(receiver.received.values()) == {1}
    finally:
        receiver.close()


def test_permanent_errors_go_to_dead_letters_and_retry_delivers(
    duck: Warehouse, http_receiver: HttpReceiver, hook_secret: None
) -> None:
    model = build_model(http_receiver.url)
    ids = prepared(duck, model)
    http_receiver.fail_keys = {ids[0]: "400", ids[1]: "503"}  # permanent; exhausts 4 tries
    drain(duck, model)
    dead = [a["action_id"] for a in inbox.actions(duck, status="dead")]
    assert len(dead) == 2
    assert sorted(a["attempts"] for a in inbox.actions(duck, status="dead")) == [1, 4]
    retried = inbox.retry(duck, "ops", [], at(3, 9))  # every dead action
    assert sorted(retried) == sorted(dead) == sorted(ids[:2])
    http_receiver.fail_keys = {}
    drain(duck, model)
    assert set(statuses(duck).values()) >= {"delivered"}
    assert all(statuses(duck)[i] == "delivered" for i in ids)
    assert set(http_receiver.store) == set(ids)
    audit = {str(r[0]) for r in duck.sql("SELECT action FROM audit_log")}
    assert {"automation.dead", "automation.retried", "automation.delivered"} <= audit


def test_email_over_smtp_with_a_temporary_refusal(
    duck: Warehouse, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver, hook_secret: None
) -> None:
    model = build_model(http_receiver.url, smtp_receiver.port)
    prepared(duck, model)
    # the second breach of each lead (re-armed clocks missed again) emails the manager
    from revops.routing.sla_store import detect_breaches

    detect_breaches(duck, model, at(2, 13))
    queue(duck, model, at(2, 15))
    emails = [a for a in pending(duck) if a["kind"] == "email"]
    assert len(emails) == 3
    smtp_receiver.handler.refuse = 2  # 451 twice
    drain(duck, model)
    keys = {f"<{a['action_id']}@revops>" for a in emails}
    assert set(smtp_receiver.store) == keys
    assert set(smtp_receiver.received.values()) == {1}
    assert {m["to"] for m in smtp_receiver.store.values()} == {"max@co.test"}


def test_backoff_is_exponential_capped_and_seeded() -> None:
    cfg = Dispatch(backoff_seconds=2, max_backoff_seconds=60, seed=7)
    waits = [backoff(cfg, "x", n) for n in range(1, 9)]
    bases = [2, 4, 8, 16, 32, 60, 60, 60]
    assert all(b / 2 <= w < b for w, b in zip(waits, bases, strict=True))
    assert waits == [backoff(cfg, "x", n) for n in range(1, 9)]  # same seed, same waits
    other = Dispatch(backoff_seconds=2, max_backoff_seconds=60, seed=8)
    assert waits != [backoff(other, "x", n) for n in range(1, 9)]


def test_one_lease_holder_at_a_time(warehouse: Warehouse) -> None:
    t0 = datetime(2025, 6, 2, 12)
    assert acquire(warehouse, "a", 30, t0)
    assert not acquire(warehouse, "b", 30, t0 + timedelta(seconds=10))
    assert acquire(warehouse, "a", 30, t0 + timedelta(seconds=20))  # renewal
    assert not acquire(warehouse, "b", 30, t0 + timedelta(seconds=45))  # renewed to :50
    assert acquire(warehouse, "b", 30, t0 + timedelta(seconds=51))  # lapsed
    assert not acquire(warehouse, "a", 30, t0 + timedelta(seconds=52))
    release(warehouse, "b")
    assert acquire(warehouse, "a", 30, t0 + timedelta(seconds=53))


def test_signatures_reject_tampering_and_replays() -> None:
    body = b'{"id":"k"}'
    sig = sign(b"s3cret", 1_000_000, body)
    assert verify(b"s3cret", "1000000", body, sig, now=1_000_100)
    assert not verify(b"s3cret", "1000000", body + b" ", sig, now=1_000_100)
    assert not verify(b"other", "1000000", body, sig, now=1_000_100)
    assert not verify(b"s3cret", "1000000", body, sig, now=1_000_000 + 301)  # replayed late


def test_a_dead_holders_lease_is_taken_over_at_once(warehouse: Warehouse) -> None:
    """A lease whose holder process on this host is gone is free before it lapses; one held by
    a live process, or by a holder on another host, is not."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "print(1)"], stdout=subprocess.DEVNULL)
    child.wait()
    mine = holder_id()
    host, _, started, tail = mine.split(":")
    dead = f"{host}:{child.pid}:{started}:{tail}"
    elsewhere = f"other-host:{child.pid}:{started}:{tail}"
    assert abandoned(dead)
    assert not abandoned(mine)
    assert not abandoned(elsewhere)
    t0 = datetime(2025, 6, 2, 12)
    assert acquire(warehouse, elsewhere, 30, t0)
    assert not acquire(warehouse, mine, 30, t0 + timedelta(seconds=1))  # cannot tell: wait
    release(warehouse, elsewhere)
    assert acquire(warehouse, dead, 30, t0)
    assert acquire(warehouse, mine, 30, t0 + timedelta(seconds=1))  # not 30 s later
    assert not acquire(warehouse, dead, 30, t0 + timedelta(seconds=2))
