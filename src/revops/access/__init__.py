"""Access control: roles, API keys (argon2), CLI grants, and one `authorize` for every front end."""

from revops.access.grants import cli_principal, grant, grants, require
from revops.access.keys import InvalidKey, KeyVerifier, NewKey, create_key, revoke_key, verify_key
from revops.access.principal import PermissionDenied, Principal, authorize, can
from revops.access.roles import PERMISSIONS, ROLES, Role, allowed_roles

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "InvalidKey",
    "KeyVerifier",
    "NewKey",
    "PermissionDenied",
    "Principal",
    "Role",
    "allowed_roles",
    "authorize",
    "can",
    "cli_principal",
    "create_key",
    "grant",
    "grants",
    "require",
    "revoke_key",
    "verify_key",
]
