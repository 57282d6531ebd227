"""Authentication (401) and every role against every route (allowed, or 403 and nothing written).

The expected table is written out by hand from the governance issue, not read from
`access.roles`, so a change to the role table that breaks the API contract fails here:
creating leads is marketing work (marketing_ops, revops_admin); accepting and rejecting is for
any ops role; a manual routing override is revops_admin's alone; everyone may read.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Api, lead

from revops.access import revoke_key

ROLES = ("viewer", "marketing_ops", "sales_ops", "revops_admin")
ALLOWED = {
    "create": {"marketing_ops", "revops_admin"},
    "accept": {"marketing_ops", "sales_ops", "revops_admin"},
    "reject": {"marketing_ops", "sales_ops", "revops_admin"},
    "assign": {"revops_admin"},
    "get": set(ROLES),
    "breaches": set(ROLES),
}


def call(api: Api, route: str, person_id: str, role: str, n: int) -> Any:
    h = api.headers(role)
    c = api.client
    if route == "create":
        return c.post("/leads", json=lead(f"fresh{n}@globex.com"), headers=h)
    if route == "accept":
        return c.post(f"/leads/{person_id}/accept", headers=h)
    if route == "reject":
        return c.post(f"/leads/{person_id}/reject", json={"reason": "not_a_fit"}, headers=h)
    if route == "assign":
        body = {"owner_id": "b", "reason": "territory swap"}
        return c.post(f"/leads/{person_id}/assign", json=body, headers=h)
    if route == "get":
        return c.get(f"/leads/{person_id}", headers=h)
    return c.get("/sla/breaches", headers=h)


@pytest.mark.parametrize("route", list(ALLOWED))
def test_every_role_against_every_route(api: Api, route: str) -> None:
    """Each role acts on a lead of its own, so one role's accept cannot spoil the next's."""
    for n, role in enumerate(ROLES):
        seeded = api.client.post("/leads", json=lead(f"seed{n}@globex.com"), headers=api.headers())
        person_id = seeded.json()["person_id"]
        audit_before = api.wh.count("audit_log")
        r = call(api, route, person_id, role, n)
        if role in ALLOWED[route]:
            assert 200 <= r.status_code < 300, (route, role, r.text)
        else:
            assert r.status_code == 403, (route, role, r.text)
            assert f"has role {role}" in r.json()["detail"]
            assert api.wh.count("audit_log") == audit_before


def test_missing_malformed_unknown_wrong_and_revoked_keys_are_401(api: Api) -> None:
    c = api.client
    body = lead("k@globex.com")
    missing = c.post("/leads", json=body)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "missing API key" in missing.json()["detail"]
    admin = api.keys["revops_admin"]
    _, key_id, secret = admin.split("_", 2)
    for token in ("nonsense", "rvk_zz_zz", f"rvk_{key_id}_{secret[::-1]}", "rvk_a-b_c"):
        r = c.post("/leads", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    assert c.get("/sla/breaches").status_code == 401
    assert c.get("/leads/p1").status_code == 401

    viewer = api.keys["viewer"]
    revoke_key(api.wh, viewer.split("_")[1], "test")
    assert c.get("/leads/p1", headers={"X-API-Key": viewer}).status_code == 401
    assert c.get("/leads/p1", headers={"X-API-Key": api.keys["sales_ops"]}).status_code == 200
    assert api.wh.count("persons") == 1


def test_openapi_declares_both_key_schemes_and_every_route_uses_them(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path == "/health":
                assert "security" not in op
            else:
                assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], (path, method)
