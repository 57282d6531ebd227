"""Inputs that made the API answer 500, a known key id with a wrong secret (argon2 per request)
and revoking a key on a running server."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from api_support import Api, lead

from revops.access.keys import FailureLimiter
from revops.api import auth

BAD_BODIES = [
    ('{"email":"a@globex.com","first_name":"\\ud800"}', "first_name"),
    ('{"email":"a\\udfff@globex.com"}', "email"),
    ('{"email":"b@globex.com","employees":NaN}', "employees"),
    ('{"email":"b@globex.com","employees":1e400}', "employees"),
    ('{"email":"b@globex.com","employees":-Infinity}', "employees"),
]


def test_unencodable_input_is_a_422_naming_the_field(api: Api) -> None:
    """These were 500s: FastAPI's 422 echoed the input, which JSON/UTF-8 could not encode."""
    headers = api.headers(**{"Content-Type": "application/json"})
    for body, field in BAD_BODIES:
        r = api.client.post("/leads", content=body, headers=headers)
        assert r.status_code == 422, body
        assert r.json()["detail"][0]["loc"] == ["body", field]
    for path in ["/leads/%00", "/leads/a%00b", "/leads/%0a/accept"]:  # NUL cut the SQL literal
        send = api.client.post if path.endswith("accept") else api.client.get
        assert send(path, headers=api.headers()).status_code == 422, path


def test_wrong_secrets_for_a_known_key_id_are_limited_without_argon2(api: Api) -> None:
    real = api.keys["revops_admin"]
    wrong = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    calls: list[str] = []
    original = auth._hasher

    class Counting:
        def verify(self, h: str, token: str) -> bool:
            calls.append(token)
            return original.verify(h, token)

    first = api.client.post("/leads", json=lead("first@globex.com"), headers=api.headers())
    assert first.status_code == 201  # the right key, verified and cached before the attack
    with mock.patch.object(auth, "_hasher", Counting()):
        codes = [
            api.client.get("/leads/p1", headers={"Authorization": f"Bearer {wrong}"}).status_code
            for _ in range(8)
        ]
        assert codes[:5] == [401] * 5
        assert codes[5:] == [429] * 3
        r = api.client.get("/leads/p1", headers={"Authorization": f"Bearer {wrong}"})
        assert int(r.headers["Retry-After"]) >= 1
        assert len(calls) == 1  # one argon2 check; the same wrong token is remembered as wrong
        # the right secret still works from the cache (the pair's lockout does not touch it)
        ok = api.client.post("/leads", json=lead("ok@globex.com"), headers=api.headers())
        assert ok.status_code == 201


def test_the_limiter_counts_per_key_id_and_address_in_a_sliding_window() -> None:
    lim = FailureLimiter(limit=2, window_seconds=10)
    now = time.monotonic()
    for _ in range(2):
        lim.failed("k1", "10.0.0.1", now)
    assert lim.retry_after("k1", "10.0.0.1", now + 1) == pytest.approx(9)
    assert lim.retry_after("k1", "10.0.0.2", now + 1) is None
    assert lim.retry_after("k2", "10.0.0.1", now + 1) is None
    assert lim.retry_after("k1", "10.0.0.1", now + 10.5) is None


def test_a_key_revoked_through_the_api_stops_working_at_once(api: Api) -> None:
    viewer = api.headers("viewer")
    key_id = api.keys["viewer"].split("_")[1]
    assert api.client.get("/leads/nobody", headers=viewer).status_code == 404  # cached as valid
    assert api.client.delete(f"/keys/{key_id}", headers=viewer).status_code == 403
    r = api.client.delete(f"/keys/{key_id}", headers=api.headers())
    assert r.status_code == 200
    assert r.json() == {"key_id": key_id, "revoked": True}
    assert api.client.get("/leads/nobody", headers=viewer).status_code == 401
    assert api.client.delete("/keys/nosuchkey", headers=api.headers()).status_code == 404
    actions = [a for (a,) in api.wh.sql('SELECT action FROM "audit_log" ORDER BY seq')]
    assert actions[-1] == "access.key_revoked"


def test_a_key_in_use_is_checked_again_in_the_background(api: Api) -> None:
    """Halfway through its time a remembered key is re-read off the request path (that read
    waits behind the applier's writes), and forgotten once the row says it is revoked."""
    import asyncio

    from api_support import KEY_ROWS, TOKENS

    token = TOKENS["revops_admin"]
    row = next(r for r in KEY_ROWS.to_pylist() if token.split("_")[1] == r["key_id"])
    stored: list[Any] = [row["name"], row["role"], row["key_hash"], None]
    reads: list[float] = []
    gate = asyncio.Event()

    async def run_db(fn: Any, *args: Any) -> tuple[Any, ...]:
        reads.append(time.monotonic())
        if len(reads) > 1:
            await gate.wait()  # the applier is busy: the key's row comes late
        return tuple(stored)

    async def scenario() -> list[str]:
        keys = auth.Authenticator(api.ro.warehouse, run_db, ttl_seconds=0.4)
        seen = [(await keys.principal(token)).role]  # first use: read and argon2, awaited
        await asyncio.sleep(0.25)  # past half its time
        seen.append((await asyncio.wait_for(keys.principal(token), 0.05)).role)  # not waiting
        assert len(reads) == 2  # the background re-check started
        stored[3] = "2025-06-10"  # revoked by another process meanwhile
        gate.set()
        await asyncio.sleep(0.05)
        with pytest.raises(auth.InvalidKey):
            await keys.principal(token)
        return seen

    assert asyncio.run(scenario()) == ["revops_admin", "revops_admin"]
