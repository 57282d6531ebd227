"""A missing tombstone salt file is refused once tombstones exist: a fresh salt would make
every tombstone unmatchable and let erased persons load again with their PII."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from revops.privacy.erase import erase
from revops.privacy.secrets import MissingSecret, salt_path, tombstone_salt
from revops.privacy.tombstones import is_erased
from revops.warehouse import Warehouse

EMAIL = "gone@example.org"


def test_a_lost_salt_file_is_refused_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVOPS_PRIVACY_SALT", raising=False)
    path = tmp_path / "w.duckdb"
    with Warehouse.connect(str(path)) as wh:
        wh.write(
            "persons",
            pa.table({"person_id": ["p1"], "email": [EMAIL], "created_at": [datetime(2025, 1, 1)]}),
        )
        erase(wh, EMAIL, reason="ticket 1", actor="dpo")
        salt = salt_path(wh.url)
        assert salt is not None
        assert salt.exists()
        salt.unlink()  # the warehouse file copied without its salt
        with pytest.raises(MissingSecret, match="1 erasure tombstones"):
            tombstone_salt(wh.url, lambda: wh.count("privacy_tombstones"))
        with pytest.raises(MissingSecret):
            is_erased(wh, EMAIL)
        assert not salt.exists()  # nothing generated silently


def test_a_new_warehouse_still_gets_a_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_PRIVACY_SALT", raising=False)
    url = str(tmp_path / "new.duckdb")
    first = tombstone_salt(url, lambda: 0)
    assert first == tombstone_salt(url, lambda: 0)
    assert len(first) == 64
