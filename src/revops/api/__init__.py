"""The real-time intake API (FastAPI): `create_app(ro)`; `revops serve` runs it."""

from revops.api.app import create_app

__all__ = ["create_app"]
