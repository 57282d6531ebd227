"""Fixtures of the web workspace: the hand-built company (web_fixture.py) served by the real
app, in-process (`client`) or on a real socket for the browser (`server`, one per module)."""

from web_support import client, ro, server

__all__ = ["client", "ro", "server"]
