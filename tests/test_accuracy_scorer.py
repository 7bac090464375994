"""The accuracy scorer counts hits, latencies and false alerts by the documented rules.

Uses the label-reading fake analyze (tests/fake_analyze_oracle.py) on empty placeholder files,
so no video and no detector is needed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import accuracy  # noqa: E402

FAKE = f"{sys.executable} {ROOT / 'tests' / 'fake_analyze_oracle.py'}"


def _dataset(tmp: Path) -> Path:
    rows = [
        ("blocked_ok.mp4", "blocked", 20.0), ("blocked_coblur.mp4", "blocked", 22.0),
        ("blur_ok.mp4", "blur", 25.0), ("blur_miss.mp4", "blur", 25.0),
        ("ripple_late.mp4", "ripple", 21.0), ("frozen_early.mp4", "frozen", 24.0),
        ("frozen_wrong.mp4", "frozen", 26.0),
        ("neg_quiet.mp4", None, None), ("neg_alert.mp4", None, None),
    ]
    labels = []
    for name, fault, onset in rows:
        (tmp / name).write_bytes(b"")
        labels.append({"file": name, "fault": fault, "onset": onset, "kind": "k",
                       "strength": "medium", "resolution": "640x360", "gop_s": 2.0,
                       "source": "test", "duration_s": 60.0})
    (tmp / "labels.json").write_text(json.dumps(labels))
    return tmp


def test_perfect_detector_scores_full_recall(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    rc = accuracy.main(["--data", str(data), "--analyze-cmd", f"{FAKE} --delay 4"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "| blocked | 2 | 2 | 100% | 4.0 | 4.0 |" in out
    assert "| frozen | 2 | 2 | 100% | 4.0 | 4.0 |" in out
    assert "**False alerts: 0**" in out
    assert "signal_loss" not in out.split("Recall by kind")[0].split("False alerts")[0]
    assert "1 output line(s) were not state-change JSON" in out


def test_mistakes_are_counted_in_the_right_column(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    out_md = tmp_path / "r.md"
    rc = accuracy.main(["--data", str(data), "--analyze-cmd", f"{FAKE} --mistakes",
                        "--out", str(out_md)])
    out = capsys.readouterr().out
    assert rc == 0 and out_md.read_text() == out
    # blur_miss raises nothing; ripple_late raises 25 s after onset (outside the window).
    assert "| blur | 2 | 1 | 50% |" in out
    assert "| ripple | 1 | 0 | 0% | – | – | 1 |" in out
    # frozen_early: frozen raised at 5 s (pre-onset) + hit; frozen_wrong: ripple after onset.
    assert "| frozen | 2 | 2 | 100% | 3.0 | 3.0 | 0 | 1 | 1 | – |" in out
    # co-occurring blur on blocked is reported, not counted.
    assert "| blocked | 2 | 2 | 100% | 3.0 | 3.0 | 0 | 0 | 0 | 1 |" in out
    assert "**False alerts: 3** = 1 on negatives + 1 before onset + 1 wrong fault" in out
    assert "`neg_alert.mp4` (k): blocked@30.0s" in out


def test_missing_command_is_an_error(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    try:
        accuracy.main(["--data", str(data), "--analyze-cmd", "/nonexistent/analyze"])
    except SystemExit as exc:
        assert "cannot run" in str(exc)
    else:
        raise AssertionError("expected SystemExit")


def test_saved_events_rescore_without_running(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    ev = tmp_path / "ev.jsonl"
    accuracy.main(["--data", str(data), "--analyze-cmd", FAKE, "--save-events", str(ev)])
    first = capsys.readouterr().out
    assert accuracy.main(["--data", str(data), "--events", str(ev)]) == 0
    second = capsys.readouterr().out
    assert first.split("\n\nanalyze:")[0] == second.split("\n\nEvents read")[0]
