"""Per-camera judgement: a learned baseline of the healthy picture, and hysteresis.

Each camera learns what its own healthy picture looks like (texture per cell, sharpness,
spectra, how much the picture changes between samples), so that a plain wall is not `blocked`
and a fence or blinds are not `ripple`. Faults are judged against that baseline, and some
also on absolute evidence that needs none (a black lens cap, a picture that never changes).
A fault is raised once after it has held for `raise_after` seconds and cleared once after it
has been gone for `clear_after` seconds, which is what keeps a passer-by, a gain flicker or
the switch to night vision from reaching anyone's phone.

All measures are ratios to the camera's own baseline or are brightness-normalised, because
the same camera sees noon sun and a car park lit by two lamps.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from contract import DEFAULT_SEVERITY, StateChange
from contract.names import JUDGED_PICTURE_FAULTS as PICTURE_FAULTS  # until dark lands
from pipeline.detect import Features
from pipeline.frames import GRID_H, GRID_W, snapshot_jpeg

CELLS = GRID_H * GRID_W
_EPS = 1e-6
#: How much a ripple's bin may sit below a clear peak of the current spectrum: faint long bars
#: ride on the scene's steep low-frequency slope and barely top their neighbours.
PEAK_SLACK = 0.4
SPECTRA = ("spec_fine", "spec_coarse", "spec_rows", "spec_cols", "spec_drift", "spec_native")


@dataclass(slots=True)
class FaultTiming:
    """How long a fault must hold before it is raised, and be gone before it is cleared."""

    raise_after: float
    clear_after: float


def _timings() -> dict[str, FaultTiming]:
    return {
        # A person close to the lens, an umbrella, a bird: seconds, not six.
        "blocked": FaultTiming(6.0, 8.0),
        "blur": FaultTiming(6.0, 8.0),
        "ripple": FaultTiming(5.0, 8.0),
        "frozen": FaultTiming(6.0, 4.0),
        "overexposed": FaultTiming(10.0, 8.0),
        "moved": FaultTiming(15.0, 10.0),
    }


@dataclass(slots=True)
class HealthSettings:
    """Tunables of the judgement; the defaults are what the agent and `analyze` use."""

    faults: tuple[str, ...] = PICTURE_FAULTS
    timing: dict[str, FaultTiming] = field(default_factory=_timings)
    learn_seconds: float = 6.0          # healthy picture needed before judging against it
    learn_min_samples: int = 4
    adapt_seconds: float = 600.0        # baseline time constant once learned
    miss_tolerance: float = 4.5         # a pending fault survives one missed 2 s sample
    # blocked: a cell is covered when its texture fell below this fraction of its baseline
    covered_ratio: float = 0.35
    blocked_fraction: float = 0.3      # of textured cells; partly covered edge cells keep texture
    textured_cell: float = 0.012        # brightness-normalised texture of an informative cell
    # blur: sharpness (fine/coarse gradient) below this fraction of baseline, or texture
    # everywhere below `blur_texture` with the scene layout intact
    blur_sharpness: float = 0.78
    blur_texture: float = 0.45
    blur_sharpness_confirmed: float = 0.86
    blur_combined: float = 0.72
    layout_kept: float = 0.75
    layout_blur: float = 0.93         # a partly textureless view this similar is blur
    foreign_layout: float = 0.5       # below this the view's layout is gone
    # blocked, not blur: texture lost under a colour the view did not have. Chroma levels
    # (Cb/Cr, 0..255 scale) the mean colour moved, and moved away from grey; white-balance
    # drift stays within a few levels, a thin coat of coloured paint moves it by 10-30.
    tint_shift: float = 8.0
    # ripple: a spectral peak this much (natural log of amplitude) above its surroundings,
    # relative to the baseline spectrum
    ripple_peak: float = 0.85
    ripple_peak_steady: float = 0.5   # ... or this much, on the same bin two samples running
    # Once raised, the same steady peak holds the fault down to this score: faint interference
    # hovers around the raise level, and an alert that clears and re-raises every minute is
    # noise to an operator. A repaired cable drops the peak far below it, so clearing is prompt.
    ripple_peak_hold: float = 0.35
    ripple_profile_margin: float = 0.3  # extra asked of the (noisier) row/column profiles
    # frozen: the largest cell change below this fraction of the usual change, and below
    # `frozen_abs` grey levels
    frozen_rel: float = 0.2
    frozen_abs: float = 0.6
    overexposed_fraction: float = 0.6
    moved_layout: float = 0.35
    snapshots: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(PICTURE_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {list(PICTURE_FAULTS)}")


@dataclass(slots=True)
class _Track:
    active: bool = False
    since: float | None = None      # first sample of the current pending/clearing run
    last_seen: float | None = None  # last sample where the condition held (or not, clearing)
    best: tuple[float, dict[str, Any]] | None = None


@dataclass(slots=True)
class Verdict:
    """One fault's finding on one sample: whether it holds, how sure, and the numbers why."""

    holds: bool
    confidence: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)


class _Baseline:
    """Slowly adapting summary of the camera's healthy picture."""

    def __init__(self) -> None:
        self.samples: list[Features] = []
        self.ready = False
        self.tex = np.zeros(CELLS)
        self.fine = np.zeros(CELLS)
        self.mean = np.zeros(CELLS)
        self.sharp = 0.0
        self.spec: dict[str, np.ndarray] = {}
        self.change = 0.0
        self.g2 = np.zeros(CELLS)
        self.chroma: np.ndarray | None = None

    def learn(self, f: Features, settings: HealthSettings, t_span: float) -> None:
        self.samples.append(f)
        if len(self.samples) >= settings.learn_min_samples and t_span >= settings.learn_seconds:
            s = self.samples
            self.tex = np.median([_texture(x) for x in s], axis=0)
            self.fine = np.median([_fine(x) for x in s], axis=0)
            self.g2 = np.median([x.g2 for x in s], axis=0)
            self.mean = np.median([x.mean for x in s], axis=0)
            self.sharp = float(np.median([_sharpness(x, self.tex, settings) for x in s]))
            self.spec = {k: np.median([getattr(x, k) for x in s], axis=0)
                         for k in SPECTRA}
            # The first sample's difference is against itself; leave it out.
            self.change = float(np.median([_change(x) for x in s[1:]]))
            colours = [x.chroma for x in s if x.chroma is not None]
            self.chroma = (np.median(colours, axis=0) if len(colours) == len(s) else None)
            self.samples = []
            self.ready = True

    def adapt(self, f: Features, alpha: float, sharp: float) -> None:
        self.tex += alpha * (_texture(f) - self.tex)
        self.fine += alpha * (_fine(f) - self.fine)
        self.g2 += alpha * (f.g2 - self.g2)
        self.mean += alpha * (f.mean - self.mean)
        self.sharp += alpha * (sharp - self.sharp)
        for k, v in self.spec.items():
            v += alpha * (getattr(f, k) - v)
        self.change += alpha * (_change(f) - self.change)
        if self.chroma is not None and f.chroma is not None:
            self.chroma = self.chroma + alpha * (f.chroma - self.chroma)


def _texture(f: Features) -> np.ndarray:
    """Gradient energy at half and quarter scale over local brightness: lights dimming to
    night scale both, so the ratio holds; a cover in front of the lens removes the texture."""
    return (f.g2 + f.g4) / (f.mean + 12.0)


def _median(a: np.ndarray) -> float:
    """Median of a small 1-D array: np.median's generic machinery costs ~20x more here, and
    this module runs for every camera every sample."""
    a = np.sort(a, axis=None)
    n = a.size
    return float(a[(n - 1) // 2] + a[n // 2]) / 2.0 if n else float("nan")


def _change(f: Features) -> float:
    """How much the picture changed since the last sample, ignoring the busiest quarter of
    the cells: a camera's own clock overlay keeps ticking on a frozen picture."""
    d = np.sort(f.diff)
    return float(d[(3 * (len(d) - 1)) // 4])


def _fine(f: Features) -> np.ndarray:
    """Fine-scale texture over brightness: what an out-of-focus leaf or hand in front of the
    lens removes even where its own blurred edges keep some coarse texture."""
    return f.g1 / (f.mean + 12.0)


def _sharpness(f: Features, base_tex: np.ndarray, settings: HealthSettings) -> float:
    """Fine over coarse gradient energy, median over cells that have texture: defocus takes
    the fine scale first, while sensor noise (night) only ever raises it."""
    ratio = f.g1 / (f.g2 + 0.05)
    use = base_tex > settings.textured_cell
    if use.sum() < 6:
        use = np.ones(CELLS, dtype=bool)
    return _median(ratio[use])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-3 else 0.0


def _local(d: np.ndarray) -> np.ndarray:
    """How far each bin stands above the median of its neighbourhood."""
    d = d.astype(np.float32)
    # OpenCV's 5-tap median, also for the 1-D profiles (as a 1-row image): measured several
    # times cheaper than NumPy's sliding-window median, which was half of this module's cost.
    return d - cv2.medianBlur(d if d.ndim == 2 else d[None, :], 5).reshape(d.shape)


def _peak(now: np.ndarray, base: np.ndarray, allowed: np.ndarray
          ) -> tuple[float, tuple[int, ...]]:
    """Strongest new narrow peak: a bin that rose against the baseline more than its
    neighbours did, and that stands out as a peak in the picture now. Both are needed: a
    fence is a peak that did not rise, and a covered lens flattens the spectrum so that every
    dip of the old one looks like a relative rise. `allowed` holds the flat indices of the
    bins worth looking at (not the lowest frequencies)."""
    score = np.minimum(_local(now - base), _local(now) + PEAK_SLACK).ravel()[allowed]
    best = int(np.argmax(score))
    idx = np.unravel_index(int(allowed[best]), now.shape)
    return float(score[best]), tuple(int(i) for i in idx)


def _low_freq_mask(shape: tuple[int, ...], radius: float) -> np.ndarray:
    if len(shape) == 1:
        # Profiles only look for long bars (periods of 24 px and more); shorter stripes are
        # the Welch spectra's job, and a profile's fine end is dominated by people walking.
        k = np.arange(shape[0])
        return (k <= radius) | (k > 8 * (shape[0] - 1) / 48)
    u, v = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(u, v) <= radius


class CameraHealth:
    """The state of one camera: baseline, pending and raised faults."""

    def __init__(self, camera: str, settings: HealthSettings | None = None) -> None:
        self.camera = camera
        self.settings = settings or HealthSettings()
        self.baseline = _Baseline()
        self.tracks = {f: _Track() for f in self.settings.faults}
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._masks: dict[str, np.ndarray] = {}
        self._last_peak: tuple[str, tuple[int, ...]] | None = None
        self._ctx: dict[str, Any] | None = None  # the last sample's measures, for adapt()

    # -- public --------------------------------------------------------------------------
    def reset_baseline(self) -> None:
        """Learn the healthy picture again, e.g. after a repair or a deliberate re-aim."""
        self.baseline = _Baseline()
        self._t_first = None

    @property
    def raised(self) -> list[str]:
        """Faults currently raised on this camera."""
        return [f for f, tr in self.tracks.items() if tr.active]

    def update(self, t: float, f: Features, thumb: np.ndarray | None = None,
               fresh: bool = False) -> list[StateChange]:
        """Judge one sample at time `t` (seconds); return the faults raised or cleared now.

        `fresh` says the sample has no previous picture (first, or after a reconnect): its
        change since the last sample means nothing."""
        if self._t_first is None:
            self._t_first = t
        first_sample = fresh or self._t_last is None
        dt = 0.0 if self._t_last is None else min(max(t - self._t_last, 0.0), 30.0)
        self._t_last = t
        verdicts = self.judge(f, first_sample)
        changes = self._hysteresis(t, verdicts, thumb)
        b = self.baseline
        if not b.ready:
            if not any(v.holds for v in verdicts.values()):
                b.learn(f, self.settings, t - self._t_first)
        elif not any(v.holds for v in verdicts.values()) and not self.raised:
            # Adapt by elapsed time, so the time constant is the same at any sample interval.
            b.adapt(f, min(1.0, dt / self.settings.adapt_seconds), self._ctx["sharpness_abs"])
        return changes

    # -- judgement ------------------------------------------------------------------------
    def judge(self, f: Features, first_sample: bool = False) -> dict[str, Verdict]:
        """Each enabled fault's verdict on this sample, before hysteresis."""
        out: dict[str, Verdict] = {}
        b = self.baseline
        s = self.settings
        ctx = self._ctx = self._context(f) if b.ready else None
        for fault in s.faults:
            if fault == "blocked":
                out[fault] = self._blocked(f, ctx)
            elif fault == "frozen":
                out[fault] = self._frozen(f, first_sample)
            elif fault == "overexposed":
                out[fault] = self._overexposed(f)
            elif ctx is None:
                out[fault] = Verdict(False)
            elif fault == "blur":
                out[fault] = self._blur(f, ctx)
            elif fault == "ripple":
                out[fault] = self._ripple(f, first_sample)
            elif fault == "moved":
                out[fault] = self._moved(f, ctx)
        # One cause, one alert: a covered lens also loses sharpness and may look moved.
        if out.get("blocked", Verdict(False)).holds:
            for other in ("blur", "moved", "ripple"):
                if other in out:
                    out[other] = Verdict(False)
            # A covered lens shows a still picture: the cover is the cause to act on.
            if "frozen" in out:
                out["frozen"] = Verdict(False)
        # A soft picture has lost the fine spectrum the baseline is compared with; what is
        # left of it are the baseline's own peaks, not interference.
        if out.get("blur", Verdict(False)).holds and "ripple" in out:
            out["ripple"] = Verdict(False)
        if out.get("frozen", Verdict(False)).holds and "moved" in out:
            out["moved"] = Verdict(False)
        return out

    def _context(self, f: Features) -> dict[str, Any]:
        b = self.baseline
        s = self.settings
        tex = _texture(f)
        informative = b.tex > s.textured_cell
        ratio = tex / np.maximum(b.tex, _EPS)
        fine_ratio = _fine(f) / np.maximum(b.fine, _EPS)
        return {
            "sharpness_abs": (sharp := _sharpness(f, b.tex, s)),
            "sharpness": sharp / max(b.sharp, _EPS),
            "fine_ratio": fine_ratio,
            "tex": tex,
            "informative": informative,
            "ratio": ratio,
            "layout": _corr(f.mean, b.mean),
            "texture_layout": _corr(np.log(f.g2 + 0.5), np.log(b.g2 + 0.5)),
        }

    def _blocked(self, f: Features, ctx: dict[str, Any] | None) -> Verdict:
        s = self.settings
        # Absolute evidence, no baseline needed: a lens cap or a bag gives a black, flat view.
        flat_dark = (f.mean < 30) & (f.g2 < 0.8) & (f.g4 < 0.8)
        if flat_dark.mean() >= 0.9 and f.mean.max() < 40 and f.mean.std() < 5:
            return Verdict(True, 0.97, {"covered_fraction": round(float(flat_dark.mean()), 3),
                                        "reason": "black, featureless view (lens cap?)",
                                        "brightness": round(float(f.mean.mean()), 1)})
        if ctx is None:
            return Verdict(False)
        informative = ctx["informative"]
        n_inf = int(informative.sum())
        if n_inf < 6:
            return Verdict(False)
        covered = (np.minimum(ctx["ratio"], ctx["fine_ratio"]) < s.covered_ratio) & informative
        frac = float(covered.sum()) / n_inf
        if frac < s.blocked_fraction:
            # Something out of focus close to the lens that lets light through (leaves, a
            # hand, thin paint): the layout of the view is gone, texture comes and goes, and
            # what replaced it is soft. A camera turned to a new view stays sharp (`moved`).
            if ctx["layout"] < s.foreign_layout and ctx["sharpness"] < s.blur_sharpness_confirmed:
                changed = covered | (np.abs(np.log(ctx["ratio"] + _EPS)) > 1.0) | (
                    np.abs(np.log((f.mean + 12) / (self.baseline.mean + 12))) > 0.35)
                cfrac = float(changed.mean())
                if cfrac >= s.blocked_fraction:
                    return Verdict(True, min(0.95, 0.6 + 0.4 * cfrac), {
                        "covered_fraction": round(cfrac, 3),
                        "layout": round(ctx["layout"], 3),
                        "sharpness_vs_baseline": round(ctx["sharpness"], 3),
                        "reason": "soft foreign object over the view (leaves, hand, paint?)",
                    })
            return Verdict(False, 0.0, {"covered_fraction": round(frac, 3)})
        # Texture gone but the layout of light and dark intact: that is a soft lens (blur),
        # not something in front of it. Anything in front of the lens changes the layout,
        # or, a thin even coat of paint, tints it with its own colour.
        if ctx["layout"] >= (s.layout_kept if frac >= 0.85 else s.layout_blur):
            tint = self._tint(f)
            if tint is None:
                return Verdict(False, 0.0, {"covered_fraction": round(frac, 3),
                                            "layout": round(ctx["layout"], 3),
                                            "blur_like": True})
            return Verdict(True, min(0.95, 0.6 + 0.4 * frac), {
                "covered_fraction": round(frac, 3),
                "layout": round(ctx["layout"], 3),
                "tint_shift": round(tint, 1),
                "reason": "texture lost under a new colour (paint or a coloured film?)",
            })
        conf = min(0.99, 0.6 + 0.4 * (frac - s.blocked_fraction) / (1 - s.blocked_fraction))
        mask = covered.reshape(GRID_H, GRID_W)
        return Verdict(True, conf, {
            "covered_fraction": round(frac, 3),
            "texture_vs_baseline": round(_median(ctx["ratio"][covered]), 3),
            "layout": round(ctx["layout"], 3),
            "covered_cells": ["".join("#" if c else "." for c in row) for row in mask],
        })

    def _tint(self, f: Features) -> float | None:
        """How far (chroma levels) the picture's mean colour moved away from grey since the
        baseline, when it did by more than `tint_shift`; else None.

        Defocus keeps each region's colour; fog and a dirty lens veil the view with its own
        scattered light, which greys it; the IR switch takes the colour away. Only something
        in front of the lens with a colour of its own (paint, a tinted film or bag) moves the
        whole picture towards a new hue."""
        base = self.baseline.chroma
        if base is None or f.chroma is None:
            return None
        shift = float(np.hypot(*(f.chroma - base)))
        away = float(np.hypot(*f.chroma)) - float(np.hypot(*base))
        if shift < self.settings.tint_shift or away < self.settings.tint_shift / 2:
            return None
        return shift

    def _blur(self, f: Features, ctx: dict[str, Any]) -> Verdict:
        s = self.settings
        b = self.baseline
        rel = ctx["sharpness"]
        sharp = rel * b.sharp
        inf = ctx["informative"]
        tex_rel = _median(ctx["ratio"][inf]) if inf.sum() >= 6 else 1.0
        # A clear sharpness drop alone, or a smaller one that texture confirms.
        soft = rel < s.blur_sharpness or (rel < s.blur_sharpness_confirmed
                                          and rel * tex_rel < s.blur_combined)
        washed = tex_rel < s.blur_texture and ctx["layout"] >= s.layout_kept
        if not (soft or washed):
            return Verdict(False, 0.0, {"sharpness_vs_baseline": round(rel, 3)})
        margin = max((s.blur_sharpness - rel) / s.blur_sharpness,
                     (s.blur_texture - tex_rel) / s.blur_texture)
        return Verdict(True, min(0.99, 0.6 + 2 * max(0.0, margin)), {
            "sharpness_vs_baseline": round(rel, 3),
            "texture_vs_baseline": round(tex_rel, 3),
            "sharpness": round(sharp, 3),
            "baseline_sharpness": round(b.sharp, 3),
        })

    def _ripple(self, f: Features, first_sample: bool) -> Verdict:
        s = self.settings
        b = self.baseline
        best = (-np.inf, "", ())
        for key, radius in (("spec_fine", 1.5), ("spec_coarse", 1.5), ("spec_native", 1.5),
                            ("spec_rows", 2.5), ("spec_cols", 2.5), ("spec_drift", 2.5)):
            if key == "spec_drift" and first_sample:
                continue
            now = getattr(f, key)
            allowed = self._masks.get(key)
            if allowed is None:
                allowed = self._masks[key] = np.flatnonzero(~_low_freq_mask(now.shape, radius))
            score, idx = _peak(now, b.spec[key], allowed)
            # Brightness profiles average 3-4 strips, not ~100 patches: their chance peaks
            # run higher, so they must clear a higher bar (scores are compared on one scale).
            if key in ("spec_rows", "spec_cols"):
                score -= s.ripple_profile_margin
            if score > best[0]:
                best = (score, key, idx)
        score, key, idx = best
        # Interference keeps its frequency; a chance peak of the scene wanders. A weaker peak
        # counts when it stands on the same bin of the same band as at the last sample.
        last = self._last_peak
        track = self.tracks.get("ripple")
        floor = s.ripple_peak_hold if track and track.active else s.ripple_peak_steady
        steady = (last is not None and last[0] == key and score >= floor
                  and all(abs(a - b) <= 1 for a, b in zip(idx, last[1], strict=True)))
        self._last_peak = (key, idx) if score >= floor else None
        if score < s.ripple_peak and not steady:
            return Verdict(False, 0.0, {"peak": round(score, 3)})
        return Verdict(True, min(0.99, 0.6 + 0.25 * max(0.0, score - s.ripple_peak_steady)), {
            "peak_log_amplitude": round(score, 3),
            "period_px": _period(key, idx),
            "band": key.removeprefix("spec_"),
        })

    def _frozen(self, f: Features, first_sample: bool) -> Verdict:
        if first_sample:
            return Verdict(False)
        s = self.settings
        change = _change(f)
        usual = self.baseline.change if self.baseline.ready else None
        exact = change < 0.02
        if usual is None:
            still = exact
        else:
            still = change < min(s.frozen_abs, s.frozen_rel * usual) or (exact and usual > 0.1)
        if not still:
            return Verdict(False, 0.0, {"change": round(change, 3)})
        return Verdict(True, 0.95 if exact else 0.8, {
            "change": round(change, 3),
            "usual_change": None if usual is None else round(usual, 3),
        })

    def _overexposed(self, f: Features) -> Verdict:
        s = self.settings
        frac = float((f.sat > 0.6).mean())
        if frac < s.overexposed_fraction:
            return Verdict(False)
        return Verdict(True, min(0.99, 0.6 + frac * 0.4), {"saturated_fraction": round(frac, 3)})

    def _moved(self, f: Features, ctx: dict[str, Any]) -> Verdict:
        s = self.settings
        lay, tlay = ctx["layout"], ctx["texture_layout"]
        inf = ctx["informative"]
        if self.baseline.mean.std() < 8 or inf.sum() < 12:
            return Verdict(False)  # a featureless view has no layout to lose
        tex_rel = _median(np.minimum(ctx["ratio"], ctx["fine_ratio"])[inf])
        if (lay < s.moved_layout and tlay < s.moved_layout and tex_rel > 0.6
                and ctx["sharpness"] >= s.blur_sharpness_confirmed):
            return Verdict(True, 0.7, {"layout_correlation": round(lay, 3),
                                       "texture_layout_correlation": round(tlay, 3)})
        return Verdict(False)

    # -- hysteresis -----------------------------------------------------------------------
    def _hysteresis(self, t: float, verdicts: dict[str, Verdict],
                    thumb: np.ndarray | None) -> list[StateChange]:
        changes: list[StateChange] = []
        s = self.settings
        for fault, v in verdicts.items():
            tr = self.tracks[fault]
            timing = s.timing[fault]
            if not tr.active:
                if v.holds:
                    if tr.since is None or (tr.last_seen is not None
                                            and t - tr.last_seen > s.miss_tolerance):
                        tr.since, tr.best = t, None
                    tr.last_seen = t
                    if tr.best is None or v.confidence >= tr.best[0]:
                        tr.best = (v.confidence, v.evidence)
                    if t - tr.since >= timing.raise_after:
                        tr.active, tr.since, tr.last_seen = True, None, None
                        conf, ev = tr.best
                        ev = dict(ev, held_seconds=round(timing.raise_after, 1))
                        snap = None
                        if s.snapshots and thumb is not None:
                            snap = base64.b64encode(snapshot_jpeg(thumb)).decode("ascii")
                        changes.append(StateChange(self.camera, fault, "raised", t, conf,
                                                   DEFAULT_SEVERITY[fault], ev, snap))
                elif tr.since is not None and tr.last_seen is not None and (
                        t - tr.last_seen > s.miss_tolerance):
                    tr.since, tr.last_seen, tr.best = None, None, None
            else:
                if v.holds:
                    tr.since = None
                    continue
                if tr.since is None:
                    tr.since = t
                if t - tr.since >= timing.clear_after:
                    tr.active, tr.since, tr.best = False, None, None
                    changes.append(StateChange(self.camera, fault, "cleared", t, 1.0,
                                               DEFAULT_SEVERITY[fault],
                                               {"gone_seconds": round(timing.clear_after, 1)}))
        return changes


def _period(key: str, idx: tuple[int, ...]) -> float | None:
    """The stripe period in thumbnail pixels, for the evidence a crew reads."""
    if key in ("spec_fine", "spec_native"):  # spec_native: in the camera's own pixels
        n, scale = 16, 1
    elif key == "spec_coarse":
        n, scale = 32, 2
    elif key in ("spec_rows", "spec_drift"):
        return round(192 / idx[0], 1) if idx[0] else None
    else:
        return round(320 / idx[0], 1) if idx[0] else None  # profiles are at half scale, x2
    r = math.hypot(*idx)
    return round(n * scale / r, 1) if r else None
