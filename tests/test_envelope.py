"""The detection-envelope harness scores rendered cases the way ENVELOPE.md says.

Why: the envelope's figures decide which detector changes land; a harness that misread a
raise, a window or a false alert would decide wrongly without anyone noticing.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from benchmarks import envelope


def _case(**kw):
    base = dict(name="c", family="foliage", fault="blocked", strength=0.5,
                strength_unit="coverage", onset=30.0, due=30.0)
    base.update(kw)
    return SimpleNamespace(**base)


def _ev(fault: str, t: float, state: str = "raised") -> dict:
    return {"fault": fault, "state": state, "t": t}


def test_score_windows_wrong_faults_and_false_alerts() -> None:
    c = _case(due=60.0)  # growing cover: window until due + 10 s
    s = envelope.score(c, "sweep", [_ev("frozen", 10.0), _ev("blur", 40.0),
                                    _ev("blocked", 68.0)])
    assert s["hit"] is True and s["latency"] == 38.0 and s["latency_due"] == 8.0
    assert s["wrong"] == ["blur"] and s["false"] == [("frozen", 10.0)]
    late = envelope.score(_case(), "sweep", [_ev("blocked", 51.0)])
    assert late["hit"] is False and late["late"] == 21.0
    assert envelope.score(_case(), "slow", [_ev("blocked", 3000.0)])["hit"] is True
    healthy = envelope.score(_case(fault=None, onset=None, due=None), "sweep",
                             [_ev("ripple", 5.0), _ev("ripple", 9.0, "cleared")])
    assert healthy["hit"] is None and healthy["false"] == [("ripple", 5.0)]
    assert abs(envelope.poisson_upper(0, 300.0) - 3.0 / 300) < 0.001


def test_harness_scores_rendered_frozen_cases(tmp_path: Path) -> None:
    rep = envelope.run(["tuning"], ["sweep"], quick=True, jobs=1, encode=False,
                       families={"frozen_still"}, out=tmp_path, progress=False)
    cases = rep["cases"]
    assert cases and all(c["family"] == "frozen_still" for c in cases)
    for c in cases:
        assert c["samples"] == int(c["duration"] / rep["meta"]["sample_interval"])
        # A still scene frozen for 40 s: the pipeline must have raised it, and the harness
        # must have scored that raise as a hit inside the window.
        assert c["score"]["hit"], c
        assert 0 <= c["score"]["latency"] <= 20
    assert (tmp_path / "envelope.md").read_text().startswith("# Detection envelope")
    assert (tmp_path / "envelope.json").exists()
