"""User ids the operating model names, checked against the users the warehouse knows.

Pools, rule and territory owners, out-of-office entries and paused users name users by id; a
typo there is a pool member who never gets a lead, or a rule that routes to nobody. Which ids
exist is data (the users table), not config, so the check runs where both are at hand:
`revops config validate -w`, `revops plan` and `revops apply`, with the same message naming
each unknown id by its file, line and key.
"""

from __future__ import annotations

from collections.abc import Collection

from revops.config.loader import LoadedConfig, _describe, _line_of, parse_yaml
from revops.errors import RevOpsError


class UnknownUsers(RevOpsError):
    """The operating model names users the warehouse does not know."""


def unknown_users(loaded: LoadedConfig, known: Collection[str]) -> list[str]:
    """One line per user id the routing names that is not in `known`: file:line: key: id."""
    refs = loaded.model.routing.user_reference_paths()
    missing = [(u, path, label) for u, path, label in refs if u not in known]
    if not missing:
        return []
    data, lines = parse_yaml(loaded.text, str(loaded.path))
    out = []
    for user, path, label in missing:
        loc = ("routing", *path)
        where = f"{loaded.path}:{_line_of(loc, lines)}: {_describe(loc, data)}"
        out.append(f"{where}: unknown user {user!r} ({label})")
    return out


def check_users(loaded: LoadedConfig, known: Collection[str]) -> None:
    """Raise UnknownUsers listing every unknown user id with its line; no users known (an
    empty warehouse) checks nothing, since nothing can be checked yet."""
    if not known:
        return
    problems = unknown_users(loaded, known)
    if problems:
        raise UnknownUsers(
            "routing names users the warehouse does not know:\n" + "\n".join(problems)
        )
