"""Who is asking, and whether they may: `Principal` and `authorize`.

The API resolves a principal from its API key, the CLI from `REVOPS_API_KEY` or the operating
system user's grant in the warehouse (see `access.grants`). Both then call `authorize`, so the
same role table decides for every front end.
"""

from __future__ import annotations

from dataclasses import dataclass

from revops.access.roles import Role, allowed_roles
from revops.errors import RevOpsError


class PermissionDenied(RevOpsError):
    """The principal's role may not perform the action (HTTP 403 in the API)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated actor: a person, a service behind an API key, or a CLI user."""

    name: str
    role: Role
    key_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.name} (key {self.key_id})" if self.key_id else self.name


def can(principal: Principal, action: str) -> bool:
    return principal.role in allowed_roles(action)


def authorize(principal: Principal, action: str) -> None:
    """Raise `PermissionDenied`, naming role, action and who may, unless the role allows it."""
    if not can(principal, action):
        who = ", ".join(sorted(allowed_roles(action)))
        raise PermissionDenied(
            f"{principal.name} has role {principal.role}, which may not {action} (allowed: {who})"
        )
