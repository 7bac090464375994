"""Face recognition stays off: no approval, no start; approval, still nothing computed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest

from pipeline.face import FaceRecognitionDisabled, RefusingRecognizer, from_config
from tests.conftest import ROOT


def test_off_by_default() -> None:
    assert from_config(None) is None
    assert from_config({"enabled": False}) is None
    with pytest.raises(FaceRecognitionDisabled, match="legal and policy decision"):
        RefusingRecognizer().recognise(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("section", [
    {"enabled": True},
    {"enabled": True, "approved_by": "Foshan PSB", "decision_ref": "FS-2026-17"},
    {"enabled": True, "approved_by": " ", "decision_ref": "x", "decision_date": "2026-01-01"},
])
def test_enabling_without_a_recorded_approval_fails(section) -> None:
    with pytest.raises(ValueError, match="approved_by|decision_ref|decision_date"):
        from_config(section, where="config/edge.yaml")


def test_bad_date_and_unknown_keys_are_explained() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        from_config({"enabled": True, "approved_by": "a", "decision_ref": "b",
                     "decision_date": "last tuesday"})
    with pytest.raises(ValueError, match="unknown key"):
        from_config({"enabled": True, "approve_by": "a"})


def test_even_approved_nothing_is_computed() -> None:
    rec = from_config({"enabled": True, "approved_by": "Shishan town government",
                       "decision_ref": "SS-2026-042", "decision_date": "2026-11-01"})
    assert rec is not None and rec.approval.date == dt.date(2026, 11, 1)
    with pytest.raises(FaceRecognitionDisabled, match="ships no recogniser"):
        rec.recognise(np.zeros((10, 10), np.uint8))


def test_default_pipeline_never_loads_face_code(clip_dir) -> None:
    """The default install analyses video without importing any face code at all, so it can
    compute, store or send no face data; and its events carry none."""
    code = (
        "import sys, json\n"
        "from edge_agent.analyze import analyze\n"
        "evs = []\n"
        f"fails = analyze([{str(clip_dir / 'blocked_hand.mp4')!r}], on_change=evs.append)\n"
        "assert not fails and evs\n"
        "assert 'pipeline.face' not in sys.modules, 'face code was loaded'\n"
        # Not the camera field: it is the clip's path, and the cache directory's hash can
        # spell 'face' (lenswatch-clips-058face67f2f did).
        "text = json.dumps([{k: v for k, v in e.to_dict().items() if k != 'camera'}\n"
        "                   for e in evs]).lower()\n"
        "assert 'face' not in text, text\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
