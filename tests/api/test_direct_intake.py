"""`POST /leads`'s direct path (`api.leads._direct`) answers exactly as FastAPI's full path.

The direct path reads `Authorization: Bearer` and a JSON body itself; `X-API-Key` always goes
the full way. So one lead stream sent once with each header, to two apps over the same seeded
company and clock, must get the same answers (apart from the random person and decision ids),
and every refusal the direct path hands over must be FastAPI's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from api_support import EXAMPLE, KEY_ROWS, NOW, ROUTING, TOKENS, lead, seed
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.api import create_app, leads
from revops.api.intake import ascii_masks
from revops.config import load_config
from revops.context import RevOps
from revops.lifecycle.engine import _filled_mask
from revops.warehouse import Warehouse

STREAM: list[dict[str, Any]] = [
    lead("max@globex.com"),  # Globex by domain, US: pool na
    lead("erika@acme.de", country="DE", company="Acme GmbH"),  # enterprise: its owner
    lead("kim@uni.edu", title="Student"),  # the students queue
    lead("ana@example.org", country="Germany", first_name="José", title="CTO"),  # emea
    lead("lee@example.org", country="FR", source="Paid Search"),  # fallback queue, spelled
    lead("odd@example.org", source="carrier-pigeon", form="content_download"),  # unknown
    lead("jane@acme.de", country="DE"),  # an existing person: 200, duplicate
    lead("max@globex.com"),  # and a lead of this stream again
    lead("bo@globex.com", employees=None, industry=None, form=None),  # not MQL-ready
]


@pytest.fixture
def two_apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps over identical seeded DuckDB companies, both at NOW."""
    loaded = load_config(EXAMPLE)
    model = loaded.model.model_copy(update={"routing": ROUTING})
    with ExitStack() as stack:
        clients = []
        for name in ("direct", "full"):
            wh = stack.enter_context(Warehouse.connect(":memory:"))
            seed(wh)
            wh.write("api_keys", KEY_ROWS)
            clock: Callable[[], datetime] = lambda: NOW  # noqa: E731
            app = create_app(
                RevOps(replace(loaded, model=model), wh),
                clock=clock,
                journal=tmp_path / name,
                applier="thread",
            )
            clients.append(stack.enter_context(TestClient(app)))
        yield clients[0], clients[1]


RANDOM = ("person_id", "decision_id", "duplicate_of", "touch_id")  # random ids


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in RANDOM}


def test_the_direct_path_answers_as_fastapi_does(
    two_apps: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, full = two_apps
    token = TOKENS["marketing_ops"]
    taken: list[bool] = []
    real = leads._direct

    async def spy(request: Any) -> Any:
        answer = await real(request)
        taken.append(answer is not None)
        return answer

    monkeypatch.setattr(leads, "_direct", spy)
    for n, body in enumerate(STREAM):
        key = {"Idempotency-Key": f"k{n}"} if n % 2 else {}
        a = direct.post("/leads", json=body, headers={"Authorization": f"Bearer {token}", **key})
        b = full.post("/leads", json=body, headers={"X-API-Key": token, **key})
        assert (a.status_code, _without_ids(a.json())) == (b.status_code, _without_ids(b.json()))
        assert a.status_code in (200, 201), a.json()
    # every Bearer request went the direct way, every X-API-Key one the full way
    assert taken == [True, False] * len(STREAM)
    statuses = [r.status_code for r in [direct.post("/leads", json=STREAM[0], headers={})]]
    assert statuses == [401]
    # a retry with the same key replays the first answer on both paths
    again = direct.post(
        "/leads",
        json=STREAM[1],
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"email": "not-an-email"}, {}),  # invalid body: FastAPI's 422
        ({**lead("x@globex.com"), "extra": 1}, {}),  # an unknown field: 422
        (lead("y@globex.com", country="Atlantis"), {}),  # refused by clean(): 422 on country
        (lead("z@globex.com"), {"Idempotency-Key": "k" * 201}),  # a header too long: 422
        (lead("w@globex.com"), {"Authorization": "Bearer rvk_nope_nope"}),  # unknown key: 401
        (lead("v@globex.com"), {"Authorization": f"Bearer {TOKENS['viewer']}"}),  # 403
        ("[1, 2", {}),  # not JSON: 422
    ],
)
def test_refusals_are_fastapis_own(
    two_apps: tuple[TestClient, TestClient], body: Any, headers: dict[str, str]
) -> None:
    direct, full = two_apps
    token = TOKENS["marketing_ops"]
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
    content = body if isinstance(body, str) else None
    payload = None if isinstance(body, str) else body
    a = direct.post("/leads", json=payload, content=content, headers=sent)
    auth = sent.pop("Authorization").removeprefix("Bearer ")
    b = full.post("/leads", json=payload, content=content, headers={**sent, "X-API-Key": auth})
    assert a.status_code == b.status_code
    assert a.status_code in (401, 403, 422)
    assert a.json() == b.json()


TEXT = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=4),  # every ASCII character
    st.text(alphabet=st.sampled_from(" \t\u00a0\u2003\u3000xé"), max_size=3),  # Unicode blanks
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=5))
def test_ascii_masks_are_the_engines_masks(rows: list[list[str | None]]) -> None:
    columns = [list(c) for c in zip(*rows, strict=True)]
    fields = tuple(f"f{i}" for i in range(len(columns)))
    table = pa.table({f: pa.array(c, pa.string()) for f, c in zip(fields, columns, strict=True)})
    engine = _filled_mask(table, fields).tolist()
    fast = ascii_masks(columns, len(rows))
    ascii_only = all(v is None or v.isascii() for c in columns for v in c)
    assert fast == (engine if ascii_only else None)
