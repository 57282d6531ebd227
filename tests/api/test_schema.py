"""Schemathesis against the OpenAPI description: generated requests never get a 5xx.

Every operation is exercised with generated parameters, headers and bodies, both valid
(positive) and invalid (negative) against the schema, with an admin key so requests get past
authentication and into the handlers. The requests go through the test client of the running
app (its lifespan started by the fixture), and the check is schemathesis'
`not_a_server_error`: no status of 500 or above.
"""

from __future__ import annotations

import itertools

import schemathesis
from api_support import Api
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES = 12


def test_no_server_errors_on_any_operation(api: Api) -> None:
    schema = schemathesis.openapi.from_dict(api.client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /leads",
        "GET /leads/{person_id}",
        "POST /leads/{person_id}/accept",
        "POST /leads/{person_id}/reject",
        "POST /leads/{person_id}/assign",
        "GET /sla/breaches",
        "GET /health",
    }
    failures: list[str] = []
    seen: list[str] = []
    for op, mode in itertools.product(operations, GenerationMode):

        @given(case=op.as_strategy(generation_mode=mode), known=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case, known: bool) -> None:
            if known and "person_id" in (case.path_parameters or {}):
                case.path_parameters = {"person_id": "p1"}  # reach past the 404
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            headers = {**(kwargs.get("headers") or {}), **api.headers()}
            r = api.client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=headers,
                json=kwargs.get("json"),
                content=kwargs.get("data"),
            )
            seen.append(f"{case.method} {case.path} {r.status_code}")
            if r.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {r.status_code} {r.text}")

        try:
            exercise()
        except Unsatisfiable:  # nothing to make invalid (e.g. GET /health in negative mode)
            assert mode is GenerationMode.NEGATIVE
    assert not failures, failures[:5]
    assert {s.rsplit(" ", 1)[1] for s in seen} >= {"200", "201", "404", "409", "422"}
