"""Users by id, email or name: one resolver for every option that takes a user.

People say "Santiago Torres", CRMs store `0055g00N00000H6AEI`; every command that takes a user
goes through `resolve_user`, so a name works wherever an id does, and a name two users share
is an error listing both rather than a silent pick. Tables show names through `user_names`.
"""

from __future__ import annotations

from dataclasses import dataclass

from revops.errors import RevOpsError
from revops.warehouse import Warehouse


class UnknownUser(RevOpsError):
    """No user, or more than one, answers to the text given."""


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    email: str | None
    is_active: bool


def users(wh: Warehouse) -> list[User]:
    t = wh.table("users").select("user_id", "name", "email", "is_active")
    return [
        User(r["user_id"], r["name"] or r["user_id"], r["email"], bool(r["is_active"]))
        for r in wh.to_arrow(t.order_by("user_id")).to_pylist()
    ]


def user_names(wh: Warehouse) -> dict[str, str]:
    """user_id → name, for tables that should show people, not ids."""
    return {u.user_id: u.name for u in users(wh)}


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def match_user(people: list[User], text: str) -> str:
    """The id of the one user whose id, email or name is `text` (names and emails ignore case
    and extra spaces). Pure, so the rules are testable without a warehouse."""
    exact = [u for u in people if u.user_id == text]
    if exact:
        return exact[0].user_id
    key = _key(text)
    found = [u for u in people if (u.email and _key(u.email) == key) or _key(u.name) == key]
    if len(found) == 1:
        return found[0].user_id
    if found:
        listed = "; ".join(
            f"{u.name} <{u.email or 'no email'}> {u.user_id}"
            + ("" if u.is_active else " (inactive)")
            for u in found
        )
        raise UnknownUser(f"{len(found)} users are called {text!r}: {listed}; give an id or email")
    near = [u.name for u in people if key in _key(u.name)][:5]
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise UnknownUser(f"no user {text!r} (by id, email or name){hint}")


def resolve_user(wh: Warehouse, text: str) -> str:
    """The user id for an id, an email or a unique name (see `match_user`)."""
    return match_user(users(wh), text)
