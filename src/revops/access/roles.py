"""Roles and what each may do: the one table that decides who can change what.

Five roles, as a RevOps team is organised: marketing_ops owns campaigns, consent and scoring;
sales_ops owns pipeline, forecasts, territories and compensation; revops_admin owns what spans
both (the operating model, routing, access, erasure); finance reads every pay statement (see
`records`: everyone else reads their own and their team's); a viewer reads. Every write in the
CLI and the API names one action below, so a role decision is a one-line change here, reviewed
like any other change to the operating rules.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "marketing_ops", "sales_ops", "revops_admin", "finance"]
ROLES: tuple[Role, ...] = ("viewer", "marketing_ops", "sales_ops", "revops_admin", "finance")

_MARKETING: frozenset[Role] = frozenset({"marketing_ops", "revops_admin"})
_SALES: frozenset[Role] = frozenset({"sales_ops", "revops_admin"})
_OPS: frozenset[Role] = frozenset({"marketing_ops", "sales_ops", "revops_admin"})
_ADMIN: frozenset[Role] = frozenset({"revops_admin"})
_ANYONE: frozenset[Role] = frozenset(ROLES)

PERMISSIONS: dict[str, frozenset[Role]] = {
    # reading
    "read": _ANYONE,
    "audit.read": _ANYONE,
    # data in
    "data.load": _OPS,
    "leads.create": _MARKETING,
    "leads.respond": _OPS,
    "quality.fix": _OPS,
    "identity.merge": _OPS,
    "lifecycle.run": _OPS,
    # marketing ops
    "scoring.write": _MARKETING,
    "attribution.run": _MARKETING,
    "consent.write": _MARKETING,
    "audience.export": _MARKETING,
    # sales ops
    "pipeline.write": _SALES,
    "forecast.write": _SALES,
    "forecast.adjust": _SALES,
    "territory.write": _SALES,
    "quota.write": _SALES,
    "comp.write": _SALES,
    "comp.lock": _ADMIN,
    "comp.read_all": frozenset({"revops_admin", "finance"}),
    "comp.approve": frozenset({"revops_admin", "finance"}),
    "comp.dispute": _ANYONE,  # and only on a statement the principal may read (records)
    "revenue.run": _OPS,
    # revops: what spans both sides
    "routing.run": _OPS,
    "routing.override": _ADMIN,
    "sla.escalate": _OPS,
    "automation.run": _OPS,
    "sync.write": _OPS,
    "tasks.update": _OPS,
    "reps.manage": _SALES,
    "config.plan": _ANYONE,
    "config.apply": _ADMIN,
    "privacy.export": _ADMIN,
    "privacy.erase": _ADMIN,
    "privacy.encrypt": _ADMIN,
    "privacy.pseudonymize": _OPS,
    "access.manage": _ADMIN,
    # the monthly funnel council's notes and action items (web workspace)
    "council.write": _OPS,
}


def allowed_roles(action: str) -> frozenset[Role]:
    """The roles that may perform `action`; an unknown action is a programming error."""
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"unknown action {action!r}; declare it in revops.access.roles") from None
