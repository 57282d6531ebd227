"""The demo company ships a consent ledger with every kind of event, and it loads and filters."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv

from revops.config.privacy import PrivacyConfig
from revops.demo import generate
from revops.ingest import load_file
from revops.privacy import audience, consent_state
from revops.warehouse import Warehouse


def test_demo_consent_ledger_loads_and_filters(tmp_path: Path) -> None:
    files = {f.table: f for f in generate(tmp_path, scale=0.02, seed=3)}
    ledger = pacsv.read_csv(files["consent_ledger"].path).to_pylist()
    kinds = {(r["purpose"], r["status"], r["double_opt_in"]) for r in ledger}
    assert ("marketing", "opt_in", "pending") in kinds
    assert ("marketing", "opt_in", "confirmed") in kinds
    assert ("marketing", "opt_out", "") in kinds  # CSV reads an empty cell as ""
    assert any(r["do_not_contact"] for r in ledger)

    cfg = PrivacyConfig()
    with Warehouse.connect(":memory:") as wh:
        for table in ("persons", "consent_ledger"):
            report = load_file(wh, files[table].path, table, files[table].preset)
            assert report.inserted > 0
        state = wh.execute(consent_state(wh.table("consent_ledger"), cfg))
        mk = state[(state.purpose == "marketing") & (state.channel == "email")]
        assert {"opt_in", "opt_out", "pending"} <= set(mk.status)
        out = audience(wh, "marketing", "email", wh.table("persons"), config=cfg)
        assert not isinstance(out, list)
        chosen = set(wh.to_arrow(out.select("person_id")).column(0).to_pylist())
        opted_out = set(mk[mk.status == "opt_out"].person_id)
        flagged = set(state[state.do_not_contact.notna()].person_id)
        assert chosen
        assert not chosen & (opted_out | flagged)
