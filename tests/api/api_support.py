"""The hand-built company for the intake API, on DuckDB and PostgreSQL.

Users a and b (UTC) form the order pool `na`; c (Berlin) the pool `emea`; `own` owns the
enterprise account Acme (acme.de, DE); `gone` has left. Globex (globex.com, US, smb) has no
owner. Rules, top to bottom: students → queue nurture; enterprise accounts → their owner;
territories US → na, DE → emea; anything else → queue triage. SLA: demo requests 15 business
minutes, everything else 480; business hours 09:00–17:00 Monday to Friday.

"Now" is Tuesday 2025-06-10 10:00 UTC unless a test moves the clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from revops.access import ROLES
from revops.config.routing import RoutingConfig
from revops.context import RevOps
from revops.warehouse import Warehouse

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=UTC)

ROUTING = RoutingConfig.model_validate(
    {
        "fallback_queue": "triage",
        "pools": [
            {"name": "na", "members": [{"user_id": "a"}, {"user_id": "b"}]},
            {"name": "emea", "members": [{"user_id": "c"}]},
        ],
        "rules": [
            {
                "name": "students",
                "when": [{"field": "title", "op": "contains", "value": "student"}],
                "queue": "nurture",
            },
            {
                "name": "named_accounts",
                "kind": "account_owner",
                "when": [{"field": "account.segment", "op": "in", "value": ["enterprise"]}],
            },
            {
                "name": "territories",
                "kind": "territory",
                "territories": [
                    {"name": "NA", "countries": ["US"], "pool": "na"},
                    {"name": "EMEA", "countries": ["DE"], "pool": "emea"},
                ],
            },
        ],
        "sla": {
            "default_minutes": 480,
            "targets": [
                {
                    "priority": "high_intent",
                    "minutes": 15,
                    "when": [{"field": "touch_type", "op": "in", "value": ["demo_request"]}],
                }
            ],
        },
    }
)


def seed(wh: Warehouse) -> None:
    users = [
        ("a", "Alice Adams", "UTC", True),
        ("b", "Bob Brown", "UTC", True),
        ("c", "Carla Schmidt", "Europe/Berlin", True),
        ("own", "Olga Owner", "UTC", True),
        ("gone", "Gus Gone", "UTC", False),
    ]
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": n, "team": "SDR", "role": "sdr", "timezone": tz}
                | {"is_active": active}
                for u, n, tz, active in users
            ]
        ),
    )
    wh.write(
        "accounts",
        pa.Table.from_pylist(
            [
                {"account_id": "acme", "name": "Acme GmbH", "domain": "acme.de", "country": "DE"}
                | {"segment": "enterprise", "owner_id": "own", "employees": 5000},
                {"account_id": "globex", "name": "Globex", "domain": "globex.com"}
                | {"country": "US", "segment": "smb", "owner_id": None, "employees": 80},
            ]
        ),
    )
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": "p1", "email": "jane@acme.de", "account_id": "acme"}
                | {"owner_id": "own", "created_at": datetime(2025, 1, 2), "country": "DE"},
            ]
        ),
    )


def _keys() -> tuple[dict[str, str], pa.Table]:
    """One key per role, hashed once per test session (argon2 is slow on purpose).

    Written straight into api_keys in the shape `access.create_key` writes; the tokens are
    verified by the API through the real argon2 check.
    """
    hasher = PasswordHasher()
    tokens = {role: f"rvk_{i:08x}_{secrets.token_urlsafe(32)}" for i, role in enumerate(ROLES)}
    rows = [
        {
            "key_id": token.split("_")[1],
            "name": f"{role}-bot",
            "role": role,
            "key_hash": hasher.hash(token),
            "created_at": datetime(2025, 1, 1),
            "created_by": "test",
        }
        for role, token in tokens.items()
    ]
    return tokens, pa.Table.from_pylist(rows)


TOKENS, KEY_ROWS = _keys()


@dataclass
class Api:
    """A running app over the seeded warehouse, with one key per role."""

    client: TestClient
    ro: RevOps
    keys: dict[str, str]
    now: list[datetime] = field(default_factory=lambda: [NOW])

    @property
    def wh(self) -> Warehouse:
        """The warehouse once every answered lead is applied from the journal: a test reads
        it only then, as the API's own reads do (and never while the applier writes)."""
        self.client.portal.call(self.client.app.state.service.caught_up)  # type: ignore[attr-defined]
        return self.ro.warehouse

    def headers(self, role: str = "revops_admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


def lead(email: str, **more: Any) -> dict[str, Any]:
    """A US VP at a 500-person software company asking for a demo (MQL-ready: see test_intake)."""
    return {
        "email": email,
        "first_name": "Max",
        "last_name": "Muster",
        "company": "Globex",
        "title": "VP Sales",
        "employees": 500,
        "industry": "Software",
        "country": "US",
        "source": "paid_search",
        "form": "demo_request",
        **more,
    }
