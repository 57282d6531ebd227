"""The demo's customer-success files: canonical columns, ids that resolve, one invoice and one
usage row per live account-month, deterministic bytes, and churn that was signalled beforehand."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from revops.demo import generate
from revops.warehouse.schema import table as schema_table

SUCCESS = ("product_usage", "support_tickets", "invoices", "champion_changes")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = {}
    for f in generate(tmp_path_factory.mktemp("succ"), scale=0.1, seed=7):
        if f.table in (*SUCCESS, "accounts"):
            out[f.table] = pd.read_csv(f.path, dtype=str, keep_default_na=False, na_values=[""])
        elif f.table == "subscriptions":
            out[f.table] = pq.read_table(f.path).to_pandas()
    return out


def test_columns_are_canonical_and_required_filled(files: dict[str, pd.DataFrame]) -> None:
    for name in SUCCESS:
        spec = schema_table(name)
        frame = files[name]
        assert list(frame.columns) == list(spec.column_names), name
        assert len(frame) > 0, name
        for col in spec.columns:
            if col.required:
                assert frame[col.name].notna().all(), (name, col.name)
            if col.enum:
                assert set(frame[col.name].dropna()) <= set(col.enum), (name, col.name)
        assert not frame.duplicated(list(spec.primary_key)).any(), name


def test_every_row_belongs_to_a_paying_account(files: dict[str, pd.DataFrame]) -> None:
    subs = files["subscriptions"]
    known = set(files["accounts"].iloc[:, 0])  # the Salesforce Id column comes first
    paying = set(subs["account_id"])
    for name in SUCCESS:
        ids = set(files[name]["account_id"])
        assert ids <= known, name
        assert ids <= paying, name
    usage = files["product_usage"]
    invoices = files["invoices"]
    # one invoice per live account-month (due on its 28th), and usage for the same months
    assert len(invoices) == len(usage.merge(
        invoices.assign(month=pd.to_datetime(invoices["due_date"]).dt.strftime("%Y-%m-01")),
        on=["account_id", "month"],
    ))  # fmt: skip
    opened = pd.to_datetime(files["support_tickets"]["opened_at"])
    closed = pd.to_datetime(files["support_tickets"]["closed_at"])
    assert (closed.dropna() >= opened[closed.notna()]).all()


def test_success_files_are_deterministic(tmp_path: Path) -> None:
    def digest(folder: Path, seed: int) -> dict[str, str]:
        return {
            f.table: hashlib.sha256(f.path.read_bytes()).hexdigest()
            for f in generate(folder, scale=0.02, seed=seed)
            if f.table in SUCCESS
        }

    assert digest(tmp_path / "a", 5) == digest(tmp_path / "b", 5)
    assert digest(tmp_path / "a", 5)["invoices"] != digest(tmp_path / "c", 6)["invoices"]


def test_usage_falls_before_churn(files: dict[str, pd.DataFrame]) -> None:
    """Accounts that lose all MRR had shrinking usage in their last three months."""
    usage = files["product_usage"].assign(
        active_users=lambda f: f["active_users"].astype(int),
        month=lambda f: pd.to_datetime(f["month"]),
    )
    last = usage.groupby("account_id")["month"].max()
    gone = last[last < usage["month"].max()].index  # no usage in the final month: churned
    ratios = []
    for acc in gone:
        mine = usage[usage["account_id"] == acc].sort_values("month")["active_users"].to_numpy()
        if len(mine) >= 6:
            ratios.append(mine[-3:].mean() / mine[-6:-3].mean())
    assert len(ratios) >= 5
    assert float(np.median(ratios)) < 0.85
