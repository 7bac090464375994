"""The event contract of ARCHITECTURE.md."""

from __future__ import annotations

import re
import uuid

from contract import FAULTS, StateChange, iso_utc


def test_wire_form() -> None:
    ch = StateChange("c0417/cam03", "blocked", "raised", 1795761000.12, 0.934, "critical",
                     {"covered_fraction": 0.72})
    d = ch.to_dict(iso_time=True)
    assert d["t"] == "2026-11-27T06:30:00.120Z"
    assert uuid.UUID(d["event_id"]).version == 4
    assert d["confidence"] == 0.934 and d["evidence"] == {"covered_fraction": 0.72}
    assert "snapshot" not in d


def test_iso_is_utc_millis() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso_utc(0.0))


def test_fault_names_cover_the_contract() -> None:
    for f in ("signal_loss", "frozen", "blocked", "blur", "ripple", "dark", "overexposed",
              "color_cast", "noise", "moved"):
        assert f in FAULTS
