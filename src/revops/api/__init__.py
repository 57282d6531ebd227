"""The real-time intake API (FastAPI): `create_app(ro)`; `revops serve` runs it.

`create_app` is imported on first use, so a CLI command that only replays a dead server's
journal (`revops.api.recovery`) does not pay for importing FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from revops.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from revops.api.app import create_app

        return create_app
    raise AttributeError(name)
