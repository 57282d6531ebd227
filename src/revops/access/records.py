"""Record-level visibility: whose pay statements, deals, accounts, persons and forecasts a
principal may read. The CLI, the API and the web pages all ask this module.

A role says what a principal may do; a pay statement also depends on whose it is. A rep reads
their own statements, a manager those of everyone below them in `users.manager_id`, and the
roles allowed `comp.read_all` (revops_admin, finance) every statement. A principal is a rep
when its name is a `users.user_id` or a `users.email` (CLI users set `REVOPS_USER`; API keys are
named after the user). Every statement read, allowed or refused, is written to the audit log,
so who looked at whose pay is on record.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from revops.access.principal import PermissionDenied, Principal, can
from revops.audit import audit_batch
from revops.warehouse import Warehouse


def rep_id(principal: Principal, users: pd.DataFrame) -> str | None:
    """The users.user_id the principal is, by user id or email (case-insensitive)."""
    name = principal.name.strip().lower()
    for uid, email in zip(users["user_id"].astype(str), users["email"], strict=True):
        if uid.lower() == name or (isinstance(email, str) and email.lower() == name):
            return uid
    return None


def team(manager: str, users: pd.DataFrame) -> set[str]:
    """Everyone below `manager` in the management chain (a cycle stops at the repeat)."""
    reports: dict[str, list[str]] = {}
    for uid, mgr in zip(users["user_id"].astype(str), users["manager_id"], strict=True):
        if isinstance(mgr, str):
            reports.setdefault(mgr, []).append(uid)
    out: set[str] = set()
    todo = list(reports.get(manager, []))
    while todo:
        uid = todo.pop()
        if uid not in out and uid != manager:
            out.add(uid)
            todo.extend(reports.get(uid, []))
    return out


@dataclass(frozen=True)
class Visibility:
    """Whose statements a principal may read: everyone, or the listed reps."""

    everyone: bool
    reps: frozenset[str]
    why: str

    def allows(self, user_id: str) -> bool:
        return self.everyone or user_id in self.reps


def statement_visibility(principal: Principal, users: pd.DataFrame) -> Visibility:
    if can(principal, "comp.read_all"):
        return Visibility(True, frozenset(), f"role {principal.role} reads every statement")
    me = rep_id(principal, users)
    if me is None:
        return Visibility(False, frozenset(), f"{principal.name} is not a user with statements")
    mine = frozenset({me, *team(me, users)})
    why = f"{me} reads their own statements" + (" and their team's" if len(mine) > 1 else "")
    return Visibility(False, mine, why)


def users_frame(wh: Warehouse) -> pd.DataFrame:
    out: pd.DataFrame = wh.execute(wh.table("users").select("user_id", "email", "manager_id"))
    return out


def check_statement_read(wh: Warehouse, principal: Principal, period: str, user_id: str) -> None:
    """Audit the read; raise `PermissionDenied` (after auditing the refusal) unless allowed."""
    vis = statement_visibility(principal, users_frame(wh))
    allowed = vis.allows(user_id)
    action = "comp.statement_read" if allowed else "comp.statement_refused"
    details = {"period": period, "rep": user_id, "why": vis.why}
    wh.write_many([audit_batch(wh, principal.actor, action, f"{period}/{user_id}", details)])
    if not allowed:
        raise PermissionDenied(
            f"{principal.actor} (role {principal.role}) may not read {user_id}'s statement: "
            f"{vis.why}"
        )


def record_visibility(principal: Principal, users: pd.DataFrame) -> Visibility:
    """Whose deals, accounts, persons and forecasts a principal may read, by owner.

    A rep (the principal is a user) reads what they and their team own; revops_admin and
    finance, and people who are not reps (operations staff, viewers), read every record.
    Compensation is stricter (`statement_visibility`): a viewer who is not a rep reads none.
    """
    if can(principal, "comp.read_all"):
        return Visibility(True, frozenset(), f"role {principal.role} reads every record")
    me = rep_id(principal, users)
    if me is None:
        return Visibility(True, frozenset(), f"{principal.name} is not a rep: every record")
    mine = frozenset({me, *team(me, users)})
    why = f"{me} reads their own records" + (" and their team's" if len(mine) > 1 else "")
    return Visibility(False, mine, why)


def visible_rows(frame: pd.DataFrame, owner_column: str, vis: Visibility) -> pd.DataFrame:
    """The rows of `frame` whose `owner_column` the visibility allows (all for everyone)."""
    if vis.everyone:
        return frame
    keep = frame[owner_column].astype(object).map(lambda o: isinstance(o, str) and o in vis.reps)
    return frame[keep.astype(bool)]


def owner_filter(vis: Visibility) -> str | None:
    """The dictionary filter that keeps a figure to what the visibility may read, by owner:
    `owner in ['U1', 'U2']` for a rep (their own and their team's), None for everyone. A
    rep's tiles and breakdowns are their own figures, computed like any other filter."""
    if vis.everyone:
        return None
    return f"owner in {sorted(vis.reps)!r}"
