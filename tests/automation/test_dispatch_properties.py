"""The dispatcher's bookkeeping under any sequence of receiver answers (hypothesis), and two
dispatchers racing on one PostgreSQL warehouse.

With a scripted channel (each action's answers in order: ok, a retryable failure or a
permanent one), every action ends delivered exactly when an `ok` comes within its attempt
budget before any permanent failure, dead otherwise; its attempts are the answers consumed;
and each attempt is stored once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from auto_case import at, build_model, mql_history, seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_reset import empty_tables
from receivers import HttpReceiver

from revops.automation import dispatch, inbox, queue
from revops.automation import dispatcher as dispatcher_module
from revops.automation.channels import Outcome
from revops.warehouse import Warehouse

ANSWERS = st.sampled_from(["ok", "retry", "permanent"])


@pytest.fixture(scope="module")
def template() -> Iterator[tuple[Warehouse, list[str]]]:
    """One seeded warehouse with queued actions, copied per example (fast)."""
    wh = Warehouse.connect(":memory:")
    model = build_model()
    seed(wh, model)
    wh.write("lifecycle_history", mql_history(), "append")
    queue(wh, model, at(2, 13))
    ids = sorted(str(a["action_id"]) for a in inbox.actions(wh, status="pending"))
    yield wh, ids
    wh.close()


def expected(script: list[str], budget: int) -> tuple[str, int]:
    """Final status and attempts of an action answered by `script` (then always ok)."""
    for n, answer in enumerate([*script, "ok"][:budget], start=1):
        if answer == "ok":
            return "delivered", n
        if answer == "permanent":
            return "dead", n
    return "dead", budget


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scripts=st.lists(st.lists(ANSWERS, max_size=6), min_size=6, max_size=6))
def test_every_action_ends_as_its_answers_say(
    template: tuple[Warehouse, list[str]], scripts: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, ids = template
    wh = Warehouse.connect(":memory:")
    try:
        actions = source.to_arrow(source.table("automation_actions"))
        wh.write("automation_actions", actions)
        users = source.to_arrow(source.table("users"))
        wh.write("users", users)
        model = build_model()
        budget = model.automations.dispatch.max_attempts
        plan = dict(zip(ids, scripts, strict=True))
        sent: dict[str, int] = dict.fromkeys(ids, 0)

        def scripted(cfg: object, kind: str, target: object, key: str, payload: object) -> Outcome:
            answers = plan[key]
            answer = answers[sent[key]] if sent[key] < len(answers) else "ok"
            sent[key] += 1
            return Outcome(
                answer == "ok", answer == "retry", None, None if answer == "ok" else answer, 1.0
            )

        monkeypatch.setattr(dispatcher_module, "deliver", scripted)
        now = datetime(2025, 6, 2, 13)
        for _ in range(budget + 1):
            now += timedelta(hours=2)  # past any backoff (backoff_seconds is 0 here)
            dispatch(wh, model, "d", clock=lambda now=now: now)
        final = {a["action_id"]: a for a in inbox.actions(wh, limit=100) if a["action_id"] in plan}
        for key, script in plan.items():
            status, attempts = expected(script, budget)
            assert (final[key]["status"], final[key]["attempts"]) == (status, attempts), script
            assert sent[key] == attempts
        stored = wh.sql(
            "SELECT count(*), count(DISTINCT action_id || ':' || attempt) FROM automation_attempts"
        )
        assert stored[0][0] == stored[0][1] == sum(sent.values())
    finally:
        wh.close()


@pytest.mark.postgres
def test_two_dispatchers_on_one_warehouse_never_send_an_action_twice(
    pg_url: str, http_receiver: HttpReceiver, hook_secret: None
) -> None:
    wh = Warehouse.connect(pg_url)
    empty_tables(wh)
    model = build_model(http_receiver.url)
    seed(wh, model)
    wh.write("lifecycle_history", mql_history(), "append")
    queue(wh, model, at(2, 13))
    ids = {str(a["action_id"]) for a in inbox.actions(wh, status="pending")}
    wh.close()
    http_receiver.delay_seconds = 0.1
    reports = []
    barrier = threading.Barrier(2)

    def run_one(name: str) -> None:
        mine = Warehouse.connect(pg_url)
        try:
            barrier.wait()
            reports.append(dispatch(mine, model, name))
        finally:
            mine.close()

    threads = [threading.Thread(target=run_one, args=(f"d{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.leased for r in reports) == [False, True]
    assert set(http_receiver.store) == ids
    assert set(http_receiver.received.values()) == {1}  # no key sent twice
