"""Process-wide CLI flags set by the main callback; its own module so that the main app does not
import `_common` (and the engines behind it) to print `revops --help`."""

from __future__ import annotations

state: dict[str, bool] = {"debug": False}
