"""Operating-model versions: every model ever applied, kept whole, the newest one active.

A version row holds the full YAML text, so any version can be re-read, diffed or restored
exactly, whatever files have changed on disk since. Versions are only ever added: a rollback
re-activates an earlier text as a NEW version that names the one it restores, so the history
reads as what was live when, and an audit of "who changed the MQL threshold in March" never
finds a row edited after the fact. Each version row is written in the same transaction as its
audit-log entry.

The first `apply` on a warehouse without versions first records the model in use until then
as version 0, the baseline (approved by nobody: it predates change control), so that the very
first change can be rolled back like any other. It is skipped when that model is the one
being applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from revops.audit import audit_batch
from revops.config import ConfigError, LoadedConfig
from revops.config.loader import model_of
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

BASELINE_APPROVER = "(baseline)"


@dataclass(frozen=True)
class Version:
    """One row of config_versions."""

    version: int
    yaml: str
    sha256: str
    applied_at: datetime
    applied_by: str
    approved_by: str
    reason: str
    source: str | None
    rolled_back_from: int | None
    restores: int | None

    def config(self) -> LoadedConfig:
        """The version's model, validated by today's code (an old text may no longer be valid)."""
        return load_text(self.yaml, f"config version {self.version}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_text(text: str, source: str) -> LoadedConfig:
    """Validate operating-model YAML held in memory; errors name `source` and the line."""
    return LoadedConfig(model_of(text, source), Path(source), text)


_COLUMNS = (
    "version, yaml, sha256, applied_at, applied_by, approved_by, reason, source, "
    "rolled_back_from, restores"
)


def _row(r: tuple[object, ...]) -> Version:
    def opt_int(v: object) -> int | None:
        return None if v is None else int(str(v))

    return Version(
        int(str(r[0])),
        str(r[1]),
        str(r[2]),
        r[3] if isinstance(r[3], datetime) else datetime.fromisoformat(str(r[3])),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        None if r[7] is None else str(r[7]),
        opt_int(r[8]),
        opt_int(r[9]),
    )


def history(wh: Warehouse) -> list[Version]:
    """Every version, oldest first."""
    return [_row(r) for r in wh.sql(f'SELECT {_COLUMNS} FROM "config_versions" ORDER BY version')]


def active(wh: Warehouse) -> Version | None:
    """The active version (the newest), or None when the warehouse has none."""
    rows = wh.sql(f'SELECT {_COLUMNS} FROM "config_versions" ORDER BY version DESC LIMIT 1')
    return _row(rows[0]) if rows else None


def get(wh: Warehouse, version: int) -> Version:
    rows = wh.sql(f'SELECT {_COLUMNS} FROM "config_versions" WHERE version = {int(version)}')
    if not rows:
        known = ", ".join(str(v.version) for v in history(wh)) or "none yet"
        raise RevOpsError(f"no config version {version}; versions: {known}")
    return _row(rows[0])


def active_config(wh: Warehouse) -> LoadedConfig | None:
    """The active version's model, or None without versions; an active text that today's
    code rejects is an error that says how to get out of it."""
    current = active(wh)
    if current is None:
        return None
    try:
        return current.config()
    except ConfigError as exc:
        raise ConfigError(
            f"the active operating model (version {current.version} in the warehouse) is not "
            f"valid any more; pass --config or apply a corrected file.\n{exc}"
        ) from None


def _write(
    wh: Warehouse,
    v: Version,
    action: str,
    actor: str,
    extra: Mapping[str, object],
) -> Version:
    row = {
        "version": [v.version],
        "yaml": [v.yaml],
        "sha256": [v.sha256],
        "applied_at": [v.applied_at],
        "applied_by": [v.applied_by],
        "approved_by": [v.approved_by],
        "reason": [v.reason],
        "source": [v.source],
        "rolled_back_from": [v.rolled_back_from],
        "restores": [v.restores],
    }
    details = {
        "sha256": v.sha256,
        "approved_by": v.approved_by,
        "reason": v.reason,
        "source": v.source,
        **extra,
    }
    schema = arrow_schema(table("config_versions"))
    wh.write_many(
        [
            Batch("config_versions", pa.table(row, schema=schema), "append"),
            audit_batch(wh, actor, action, f"version {v.version}", details, at=v.applied_at),
        ]
    )
    return v


def _require_text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise RevOpsError(f"{what} is required and may not be blank")
    return text


def apply(
    wh: Warehouse,
    new: LoadedConfig,
    *,
    actor: str,
    approved_by: str,
    reason: str,
    baseline: LoadedConfig | None = None,
) -> Version:
    """Activate `new` as the next version, with who approved it and why.

    `baseline` is the model in use so far; on a warehouse without versions it is recorded first
    as version 0 (see the module docstring). Applying the text already active is refused.
    """
    approver = _require_text(approved_by, "--approved-by")
    why = _require_text(reason, "--reason")
    digest = sha256(new.text)
    current = active(wh)
    if current is not None and current.sha256 == digest:
        raise RevOpsError(
            f"{new.path} is already the active operating model (version {current.version})"
        )
    if current is None and baseline is not None and sha256(baseline.text) != digest:
        current = _write(
            wh,
            Version(
                0,
                baseline.text,
                sha256(baseline.text),
                utc_now(),
                actor,
                BASELINE_APPROVER,
                "the operating model in use before change control",
                str(baseline.path),
                None,
                None,
            ),
            "config.baseline",
            actor,
            {},
        )
    number = 1 if current is None else current.version + 1
    version = Version(
        number, new.text, digest, utc_now(), actor, approver, why, str(new.path), None, None
    )
    previous = {"previous": current.version if current is not None else None}
    return _write(wh, version, "config.applied", actor, previous)


def rollback(
    wh: Warehouse, target: int, *, actor: str, reason: str, approved_by: str | None = None
) -> Version:
    """Re-activate version `target`'s text as a new version (history is never rewritten)."""
    why = _require_text(reason, "--reason")
    restored = get(wh, target)
    current = active(wh)
    assert current is not None  # `get` found a version
    if current.sha256 == restored.sha256:
        raise RevOpsError(
            f"version {target} has the same text as the active version {current.version}; "
            "nothing to roll back"
        )
    restored.config()  # refuse a text today's code rejects, with the loader's message
    version = Version(
        current.version + 1,
        restored.yaml,
        restored.sha256,
        utc_now(),
        actor,
        _require_text(approved_by or actor, "--approved-by"),
        why,
        restored.source,
        current.version,
        target,
    )
    return _write(
        wh, version, "config.rolled_back", actor, {"restores": target, "previous": current.version}
    )
