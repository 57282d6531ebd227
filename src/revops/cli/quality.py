"""`revops quality`: the data quality sweep — rules, dedupe, merges and matching.

The group is defined here; the rule commands live in this module, and the identity commands
(dedupe, merge, matching) register themselves on `quality_app` from their own modules.
"""

from __future__ import annotations

import typer

quality_app = typer.Typer(help="Data quality: rules, dedupe, merges, matching.")
