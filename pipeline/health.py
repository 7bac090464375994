"""Per-camera judgement: baseline and reference, the fault judges, one cause, hysteresis.

Each camera learns what its own healthy picture looks like (texture per cell, sharpness,
spectra, how much the picture changes between samples, and the view's detail), so that a
plain wall is not `blocked` and a fence or blinds are not `ripple`. Faults are judged against
that (pipeline.judges), some also on absolute evidence that needs none (a black lens cap, a
picture repeated exactly). When several judges hold, the one cause a crew acts on wins
(`_one_cause`); pipeline.hysteresis then raises and clears each fault once.

The parts, in the order a sample passes them:
    pipeline.measures   measures on one sample's features
    pipeline.baseline   the adapting baseline and the fixed reference view
    pipeline.judges     one judge per fault -> Verdict
    pipeline.hysteresis raise once, clear once -> StateChange
All measures are ratios to the camera's own baseline or are brightness-normalised, because
the same camera sees noon sun and a car park lit by two lamps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contract import StateChange
from pipeline import judges as J
from pipeline import measures as M
from pipeline.baseline import Baseline, Reference
from pipeline.detect import Features
from pipeline.hysteresis import Hysteresis
from pipeline.judges import Context, Verdict
from pipeline.settings import FaultTiming, HealthSettings

__all__ = ["CameraHealth", "FaultTiming", "HealthSettings", "Verdict", "STATE_VERSION"]

#: Bumped whenever the saved state's meaning changes; an older state is then ignored (the
#: camera learns again) rather than misread.
STATE_VERSION = 2

#: Shared by every camera: the registration's window and regions are the same for all.
_REGISTER = M.Registration()
_ROTATION = M.RotationRegistration()


class CameraHealth:
    """The state of one camera: baseline, reference, pending and raised faults."""

    def __init__(self, camera: str, settings: HealthSettings | None = None) -> None:
        self.camera = camera
        self.settings = settings or HealthSettings()
        self.baseline = Baseline()
        self.reference: Reference | None = None
        self.hysteresis = Hysteresis(camera, self.settings)
        self._ripple = J.RippleJudge()
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._ctx: Context | None = None  # the last sample's measures, for adapt()

    # -- public --------------------------------------------------------------------------
    def reset_baseline(self) -> None:
        """Learn the healthy picture again, reference included: a crew confirmed the view
        after a repair or a deliberate re-aim."""
        self.baseline = Baseline()
        self.reference = None
        self._t_first = None

    @property
    def raised(self) -> list[str]:
        """Faults currently raised on this camera."""
        return self.hysteresis.raised

    def update(self, t: float, f: Features, thumb: np.ndarray | None = None,
               fresh: bool = False) -> list[StateChange]:
        """Judge one sample at time `t` (seconds); return the faults raised or cleared now.

        `fresh` says the sample has no previous picture (first, or after a reconnect): its
        change since the last sample means nothing."""
        if self._t_first is None:
            self._t_first = t
        first_sample = fresh or self._t_last is None
        dt = 0.0 if self._t_last is None else min(max(t - self._t_last, 0.0),
                                                  self.settings.max_gap)
        self._t_last = t
        verdicts = self.judge(f, first_sample)
        changes = self.hysteresis.step(t, verdicts, lambda: thumb)
        self._learn(t, f, dt, any(v.holds for v in verdicts.values()))
        return changes

    def state(self) -> dict[str, Any]:
        """What the agent keeps on disk so that a restart neither clears a raised fault nor
        learns a faulty picture as healthy: baseline, reference and the raised faults."""
        return {"version": STATE_VERSION, "camera": self.camera,
                "baseline": self.baseline.state(),
                "reference": None if self.reference is None else self.reference.state(),
                "raised": self.hysteresis.state()}

    def restore(self, state: dict[str, Any]) -> bool:
        """Take up a saved `state()`; False (and nothing changed) if it is of another
        version or camera. The first sample after it has no previous picture (`fresh`)."""
        if state.get("version") != STATE_VERSION or state.get("camera") != self.camera:
            return False
        self.baseline = Baseline.from_state(state["baseline"])
        ref = state.get("reference")
        self.reference = None if ref is None else Reference.from_state(ref)
        self.hysteresis.restore(state.get("raised", {}))
        self._t_first = self._t_last = None
        if self.baseline.ready and self.reference is None:
            self.baseline = Baseline()  # cannot judge detail without a reference: relearn
        return True

    # -- judgement ------------------------------------------------------------------------
    def judge(self, f: Features, first_sample: bool = False) -> dict[str, Verdict]:
        """Each enabled fault's verdict on this sample, before hysteresis."""
        s = self.settings
        b = self.baseline
        ref = self.reference
        ctx = self._ctx = Context.measure(f, b, ref, s) if b.ready and ref is not None else None
        dim = ctx is not None and ctx.dim(s)
        cap = J.lens_cap(f)
        out: dict[str, Verdict] = {}
        for fault in s.faults:
            if fault == "blocked":
                v = J.blocked(f, ctx, b, s, cap)
            elif fault == "frozen":
                v = J.NO if first_sample else J.frozen(f, b, s, dim)
            elif fault == "overexposed":
                v = J.overexposed(f, s)
            elif fault == "dark":
                v = J.dark(f, b, s, cap)
            elif ctx is None or ref is None:
                v = J.NO
            elif fault == "blur":
                v = J.NO if dim else J.blur(ctx, b, ref, s)
            elif fault == "ripple":
                v = self._ripple(f, b, s, first_sample, self.hysteresis.active("ripple"),
                                 ctx.calm())
            elif fault == "moved":
                v = J.moved(f, ctx, ref, s, _REGISTER, _ROTATION)
            else:  # pragma: no cover - HealthSettings rejects unknown faults
                v = J.NO
            out[fault] = v
        return _one_cause(out)

    def _learn(self, t: float, f: Features, dt: float, anything_holds: bool) -> None:
        """Learn the healthy picture, or follow it slowly; never while a fault holds."""
        b = self.baseline
        s = self.settings
        if anything_holds:
            return
        if not b.ready:
            assert self._t_first is not None
            half = b.learn(f, s.learn_min_samples, s.learn_seconds, t - self._t_first,
                           s.textured_cell)
            if half is not None:
                self.reference = Reference(half, b.mean.copy(), b.brightness, b.sharp, t,
                                           b.chroma)
        elif not self.raised and self._ctx is not None:
            # Adapt by elapsed time, so the time constant is the same at any sample interval.
            b.adapt(f, min(1.0, dt / s.adapt_seconds), self._ctx.sharpness_abs, self._ctx.bp)


def _held(out: dict[str, Verdict], fault: str) -> bool:
    v = out.get(fault)
    return bool(v and v.holds)


def _one_cause(out: dict[str, Verdict]) -> dict[str, Verdict]:
    """One cause, one alert: the fault a crew acts on silences the ones it causes."""
    def silence(*faults: str) -> None:
        for other in faults:
            if other in out:
                out[other] = J.NO

    # No light: nothing else can be judged, and a dark picture looks soft and still.
    if _held(out, "dark"):
        silence("blocked", "blur", "ripple", "moved", "frozen")
    # Interference over the whole picture moves with its bars and would register as a
    # shifted view: the stripes are the cause.
    if _held(out, "ripple"):
        silence("moved")
    # A camera that points elsewhere shows a view whose detail differs from the baseline's
    # everywhere, which the cover and softness tests would otherwise read as their own.
    if _held(out, "moved"):
        silence("blocked", "blur", "ripple")
    # A covered lens also loses sharpness and shows a still picture: the cover is the cause.
    if _held(out, "blocked"):
        silence("blur", "moved", "ripple", "frozen")
    # A soft picture has lost the fine spectrum the baseline is compared with; what is
    # left of it are the baseline's own peaks, not interference.
    if _held(out, "blur"):
        silence("ripple")
    if _held(out, "frozen"):
        silence("moved")
    return out
