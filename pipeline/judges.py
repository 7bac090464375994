"""One judge per fault: does this sample show the fault, how sure, and the numbers why.

A judge sees one sample's features, the per-sample measures against the camera's baseline and
reference (`Context`), and the settings; it returns a `Verdict` and keeps no state of its
own, except `RippleJudge`, which remembers the last peak (interference keeps its frequency).
Which judge wins when several hold (one cause, one alert) is decided in pipeline.health.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pipeline import measures as M
from pipeline.baseline import Baseline, Reference
from pipeline.detect import Features
from pipeline.frames import GRID_H, GRID_W
from pipeline.settings import HealthSettings

#: How much a ripple's bin may sit below a clear peak of the current spectrum: faint long bars
#: ride on the scene's steep low-frequency slope and barely top their neighbours.
PEAK_SLACK = 0.4


@dataclass(slots=True)
class Verdict:
    """One fault's finding on one sample: whether it holds, how sure, and the numbers why."""

    holds: bool
    confidence: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)


NO = Verdict(False)


@dataclass(slots=True)
class Context:
    """One sample measured against the camera's baseline and reference (cell arrays are
    GRID_H * GRID_W long, row-major)."""

    tex: np.ndarray            # brightness-normalised texture now
    ratio: np.ndarray          # texture over the baseline's
    fine_ratio: np.ndarray     # fine-scale texture over the baseline's
    informative: np.ndarray    # cells whose baseline has texture worth judging
    sharpness_abs: float       # fine over coarse gradient energy now
    sharpness: float           # ... over the baseline's
    layout: float              # correlation of cell brightness with the baseline
    texture_layout: float      # correlation of cell texture with the baseline
    brightness: float          # mean luma now, 0..255
    brightness_ref: float      # the baseline's mean luma
    bp: np.ndarray             # band-pass half-scale picture now
    similarity: np.ndarray     # band-pass correlation with the reference view per cell
    softness: np.ndarray       # band-pass energy over the reference's (amplitude, light-normalised)
    visible: np.ndarray        # share of the reference's detail still seen, over the view's
    gain: float                # ... of the best-seen quarter of the view, brightness-normalised
    reliable: np.ndarray       # cells whose reference detail stands well above sensor noise
    lit: np.ndarray            # cells bright enough now to show detail

    @classmethod
    def measure(cls, f: Features, b: Baseline, ref: Reference, s: HealthSettings) -> Context:
        """All per-sample measures the judges share (~0.1 ms)."""
        tex = M.texture(f)
        sharp = M.sharpness(f, b.tex, s.textured_cell)
        bp = M.band_pass(M.half_picture(f))
        # Detail is compared with the reference under light like the reference's (same
        # colour mode, brightness within `reference_light`); under other light (night, the
        # IR picture) with the view's detail as the baseline has lately seen it: a view lit
        # differently shows different detail, which is no cover.
        same_mode = (f.chroma is None or ref.chroma is None
                     or _grey(f.chroma) == _grey(ref.chroma))
        brightness = float(f.mean.mean())
        like_ref = (same_mode and abs(brightness - ref.brightness)
                    <= s.reference_light * ref.brightness)
        if like_ref:
            cmp_bp, cmp_energy, cmp_mean, cmp_bright = ref.bp, ref.energy, ref.mean, ref.brightness
        else:
            cmp_bp, cmp_energy, cmp_mean, cmp_bright = b.bp, b.bp_energy, b.mean, b.brightness
        sim, energy, share = M.structure(bp, cmp_bp, cmp_energy)
        reliable = (cmp_energy >= s.detail_energy) & (cmp_mean >= s.lit_cell)
        # Light and gain change the amplitude of all detail alike: take the view's own gain
        # from its best-seen tenth (still outside a cover of up to 90 % of the view).
        gain = float(np.sort(share[reliable])[int(0.9 * (reliable.sum() - 1))]
                     ) if reliable.sum() >= 6 else 0.0
        return cls(
            tex=tex,
            ratio=tex / np.maximum(b.tex, M.EPS),
            fine_ratio=M.fine(f) / np.maximum(b.fine, M.EPS),
            informative=b.tex > s.textured_cell,
            sharpness_abs=sharp,
            sharpness=sharp / max(b.sharp, M.EPS),
            layout=M.corr(f.mean, b.mean),
            texture_layout=M.corr(np.log(f.g2 + 0.5), np.log(b.g2 + 0.5)),
            brightness=brightness,
            brightness_ref=b.brightness,
            bp=bp,
            similarity=sim,
            softness=np.sqrt(energy / np.maximum(cmp_energy, 1e-3))
            * (cmp_bright + 12.0) / (brightness + 12.0),
            visible=share / max(gain, 0.05),
            gain=gain * (cmp_bright + 12.0) / (brightness + 12.0),
            reliable=reliable,
            lit=(f.mean >= s.lit_cell) & (cmp_mean >= s.lit_cell),
        )

    def calm(self) -> bool:
        """The view is as the baseline knows it: layout, sharpness and detail all kept."""
        rel = self.reliable
        sim = M.median(self.similarity[rel]) if rel.sum() >= 6 else 1.0
        return self.layout >= 0.9 and 0.85 <= self.sharpness <= 1.2 and sim >= 0.6

    def dim(self, s: HealthSettings) -> bool:
        """On the way to dark: too little light left for fine detail or sensor noise to
        survive the encoder, so softness and stillness mean nothing."""
        return (self.brightness < s.dim_level
                and self.brightness < s.dark_ratio * self.brightness_ref)


def _grey(chroma: np.ndarray) -> bool:
    """A picture without colour: the IR night mode (or a monochrome camera)."""
    return float(np.hypot(*chroma)) < 2.0


def lens_cap(f: Features) -> Verdict:
    """Absolute evidence, no baseline needed: a lens cap or a bag gives a black, flat view
    (flat: no sensor noise either, which a dark scene always keeps)."""
    flat_dark = (f.mean < 30) & (f.g2 < 0.8) & (f.g4 < 0.8)
    if flat_dark.mean() >= 0.9 and f.mean.max() < 40 and f.mean.std() < 5:
        return Verdict(True, 0.97, {"covered_fraction": round(float(flat_dark.mean()), 3),
                                    "region": "whole view",
                                    "reason": "black, featureless view (lens cap?)",
                                    "brightness": round(float(f.mean.mean()), 1)})
    return NO


def blocked(f: Features, ctx: Context | None, b: Baseline, s: HealthSettings,
            cap: Verdict) -> Verdict:
    """Something in front of the lens: all of the view, or a region of it (`cap`: this
    sample's `lens_cap` verdict, which `dark` needs too)."""
    if cap.holds or ctx is None:
        return cap
    informative = ctx.informative
    n_inf = int(informative.sum())
    if n_inf < 6:
        return NO
    covered = (np.minimum(ctx.ratio, ctx.fine_ratio) < s.covered_ratio) & informative
    # Part of the view covered: in those cells less than half of the reference view's
    # detail still shows through, while the best-seen quarter of the view keeps it at its
    # full strength. Blur, a move or a new light change the whole view, not one region.
    rel = ctx.reliable & ctx.lit  # a cell too dark now shows no detail, cover or not
    n_rel = int(rel.sum())
    if n_rel >= 12 and ctx.gain >= s.intact_gain:
        part = (ctx.visible < s.covered_visible) & rel
        pfrac = float(part.sum()) / n_rel
        # ... and what replaced it is soft (a near-lens object is far out of focus), not the
        # sharp street behind someone who stood there while the reference was learned.
        if pfrac >= s.blocked_fraction and M.median(ctx.softness[part]) < s.cover_soft:
            mask = part.reshape(GRID_H, GRID_W)
            return Verdict(True, min(0.95, 0.6 + 0.5 * pfrac), {
                "covered_fraction": round(pfrac, 3),
                "region": M.region_name(mask),
                "covered_cells": M.grid_picture(mask),
                "visible_in_covered": round(M.median(ctx.visible[part]), 3),
                "reason": "part of the view covered (leaves, dirt, an object on the lens?)",
            })
    frac = float(covered.sum()) / n_inf
    if frac < s.blocked_fraction:
        # Something out of focus close to the lens that lets light through (leaves, a
        # hand, thin paint): the layout of the view is gone, texture comes and goes, and
        # what replaced it is soft. A camera turned to a new view stays sharp (`moved`).
        if ctx.layout < s.foreign_layout and ctx.sharpness < s.blur_sharpness_confirmed:
            changed = covered | (np.abs(np.log(ctx.ratio + M.EPS)) > 1.0) | (
                np.abs(np.log((f.mean + 12) / (b.mean + 12))) > 0.35)
            cfrac = float(changed.mean())
            if cfrac >= s.blocked_fraction:
                mask = changed.reshape(GRID_H, GRID_W)
                return Verdict(True, min(0.95, 0.6 + 0.4 * cfrac), {
                    "covered_fraction": round(cfrac, 3),
                    "region": M.region_name(mask),
                    "layout": round(ctx.layout, 3),
                    "sharpness_vs_baseline": round(ctx.sharpness, 3),
                    "reason": "soft foreign object over the view (leaves, hand, paint?)",
                })
        return Verdict(False, 0.0, {"covered_fraction": round(frac, 3)})
    # Texture gone but the layout of light and dark intact: that is a soft lens (blur),
    # not something in front of it. Anything in front of the lens changes the layout,
    # or, a thin even coat of paint, tints it with its own colour.
    if ctx.layout >= (s.layout_kept if frac >= 0.85 else s.layout_blur):
        shift = tint(f, b, s)
        if shift is None:
            return Verdict(False, 0.0, {"covered_fraction": round(frac, 3),
                                        "layout": round(ctx.layout, 3), "blur_like": True})
        return Verdict(True, min(0.95, 0.6 + 0.4 * frac), {
            "covered_fraction": round(frac, 3),
            "region": "whole view",
            "layout": round(ctx.layout, 3),
            "tint_shift": round(shift, 1),
            "reason": "texture lost under a new colour (paint or a coloured film?)",
        })
    conf = min(0.99, 0.6 + 0.4 * (frac - s.blocked_fraction) / (1 - s.blocked_fraction))
    mask = covered.reshape(GRID_H, GRID_W)
    return Verdict(True, conf, {
        "covered_fraction": round(frac, 3),
        "region": M.region_name(mask),
        "texture_vs_baseline": round(M.median(ctx.ratio[covered]), 3),
        "layout": round(ctx.layout, 3),
        "covered_cells": M.grid_picture(mask),
    })


def tint(f: Features, b: Baseline, s: HealthSettings) -> float | None:
    """How far (chroma levels) the picture's mean colour moved away from grey since the
    baseline, when it did by more than `tint_shift`; else None.

    Defocus keeps each region's colour; fog and a dirty lens veil the view with its own
    scattered light, which greys it; the IR switch takes the colour away. Only something
    in front of the lens with a colour of its own (paint, a tinted film or bag) moves the
    whole picture towards a new hue."""
    if b.chroma is None or f.chroma is None:
        return None
    shift = float(np.hypot(*(f.chroma - b.chroma)))
    away = float(np.hypot(*f.chroma)) - float(np.hypot(*b.chroma))
    if shift < s.tint_shift or away < s.tint_shift / 2:
        return None
    return shift


def blur(ctx: Context, b: Baseline, ref: Reference, s: HealthSettings) -> Verdict:
    """A soft picture: the fine scale lost against the coarse, or texture lost everywhere
    with the layout kept (fog, heavy defocus).

    Judged against the adapting baseline, and, under light like the reference's, against
    the confirmed view too: focus creeping or dust building up over hours is followed by the
    baseline, never by the reference. (Only under similar light: at dusk a camera's noise
    reduction softens the picture, which the baseline follows and the reference must not
    judge.)"""
    rel = ctx.sharpness
    similar_light = abs(ctx.brightness - ref.brightness) <= s.reference_light * ref.brightness
    if similar_light and ref.sharp > M.EPS:
        rel = min(rel, ctx.sharpness_abs / ref.sharp)
    inf = ctx.informative
    tex_rel = M.median(ctx.ratio[inf]) if inf.sum() >= 6 else 1.0
    # A clear sharpness drop alone, or a smaller one that texture confirms.
    soft = rel < s.blur_sharpness or (rel < s.blur_sharpness_confirmed
                                      and rel * tex_rel < s.blur_combined)
    washed = tex_rel < s.blur_texture and ctx.layout >= s.layout_kept
    if not (soft or washed):
        return Verdict(False, 0.0, {"sharpness_vs_baseline": round(rel, 3)})
    margin = max((s.blur_sharpness - rel) / s.blur_sharpness,
                 (s.blur_texture - tex_rel) / s.blur_texture)
    return Verdict(True, min(0.99, 0.6 + 2 * max(0.0, margin)), {
        "sharpness_vs_baseline": round(rel, 3),
        "texture_vs_baseline": round(tex_rel, 3),
        "sharpness": round(rel * b.sharp, 3),
        "baseline_sharpness": round(b.sharp, 3),
        "region": "whole view",
    })


def frozen(f: Features, b: Baseline, s: HealthSettings, dim: bool) -> Verdict:
    """The same picture again: exactly (what a frozen encoder sends, whatever the scene), or
    far stiller than this camera's pictures usually are."""
    change = M.change(f)
    exact = M.change(f, 0.9) < s.frozen_exact
    usual = b.change if b.ready else None
    still = exact
    if usual is not None and not dim:
        still = still or change < min(s.frozen_abs, s.frozen_rel * usual)
    if not still:
        return Verdict(False, 0.0, {"change": round(change, 3)})
    return Verdict(True, 0.95 if exact else 0.8, {
        "change": round(change, 3),
        "usual_change": None if usual is None else round(usual, 3),
        "identical_pictures": bool(exact),
    })


def overexposed(f: Features, s: HealthSettings) -> Verdict:
    """Most of the view burnt out: sun in the lens, a failed iris, IR reflecting off glass."""
    frac = float((f.sat > 0.6).mean())
    if frac < s.overexposed_fraction:
        return NO
    return Verdict(True, min(0.99, 0.6 + frac * 0.4), {"saturated_fraction": round(frac, 3)})


def dark(f: Features, b: Baseline, s: HealthSettings, cap: Verdict) -> Verdict:
    """Lights out or a failed IR illuminator: the view lost most of its light and no part
    of it is lit, while (unlike a lens cap) faint detail or sensor noise remains."""
    brightness = float(f.mean.mean())
    lit90 = float(np.sort(f.mean)[int(0.9 * (len(f.mean) - 1))])
    if brightness >= s.dark_level or lit90 >= s.dark_lit or cap.holds:
        return NO  # some light left, or flat black with no noise at all: a cap, `blocked`
    # Against the adapting baseline only, never the day-time reference: nightfall comes
    # slowly enough for the baseline to follow, lights going out or an IR lamp failing do
    # not. A camera that starts in the dark has nothing to compare with and learns it.
    if not b.ready:
        return NO
    before = b.brightness
    if brightness >= s.dark_ratio * before:
        return NO  # a view that was always this dark: a dark place, not a fault
    return Verdict(True, min(0.95, 0.7 + (s.dark_level - brightness) / 80.0), {
        "brightness": round(brightness, 1),
        "brightness_before": round(before, 1),
        "lit_cells_p90": round(lit90, 1),
        "region": "whole view",
    })


def moved(f: Features, ctx: Context, ref: Reference, s: HealthSettings,
          register: M.Registration, rotation: M.RotationRegistration) -> Verdict:
    """The camera points elsewhere: bumped, panned or sagging, against the confirmed view.

    Cheap gate first: the view's detail must have changed over a good part of the view
    (a moved view decorrelates everywhere); only then are four regions registered against
    the reference, and they must agree on one rigid motion."""
    inf = ctx.informative & ctx.lit
    n = int(inf.sum())
    if n < 12 or ref.mean.std() < 8:
        return NO  # a featureless or unlit view has nothing to register
    tex_rel = M.median(np.minimum(ctx.ratio, ctx.fine_ratio)[inf])
    if tex_rel < 0.5 or ctx.sharpness < s.blur_sharpness_confirmed:
        return NO  # lost detail is a cover or a soft lens, not a move
    changed = float(((ctx.similarity < 0.5) & inf).sum()) / n
    if changed < s.moved_gate:
        return NO
    reg = register(ref.bp, ctx.bp)
    rigid = reg["response"] >= s.moved_response and reg["residual_px"] <= s.moved_residual_px
    far = reg["shift_pct"] >= s.moved_shift_pct or abs(reg["rotation_deg"]) >= s.moved_rotation_deg
    # Turned to another view altogether: nothing of the reference's detail is left anywhere
    # (a cover leaves part of the view; a registration needs some of it).
    turned_away = (ctx.layout < s.moved_layout and ctx.texture_layout < s.moved_layout
                   and float((ctx.similarity[inf] >= 0.5).mean()) < 0.1)
    if not ((rigid and far) or turned_away):
        # Knocked round by more than the regions can follow: each region turned as well.
        turned = rotation(ref.half, M.half_picture(f), ref.bp, ctx.bp)
        if not (abs(turned["rotation_deg"]) >= s.moved_rotation_deg
                and turned["response"] >= s.moved_rotation_response):
            return Verdict(False, 0.0, {k: round(v, 2) for k, v in reg.items()})
        reg = dict(reg, rotation_deg=turned["rotation_deg"], response=turned["response"],
                   residual_px=0.0)
        rigid = True
    ev: dict[str, Any] = {k: round(v, 2) for k, v in reg.items()}
    ev["direction"] = _direction(reg) if rigid else "turned to another view"
    ev["changed_fraction"] = round(changed, 3)
    return Verdict(True, 0.85 if rigid else 0.7, ev)


def _direction(reg: dict[str, float]) -> str:
    """The move in words: which way the picture content went, and any tilt."""
    parts = []
    if abs(reg["shift_x_pct"]) >= 1.0:
        parts.append("view shifted " + ("right" if reg["shift_x_pct"] > 0 else "left"))
    if abs(reg["shift_y_pct"]) >= 1.0:
        parts.append("view shifted " + ("down" if reg["shift_y_pct"] > 0 else "up"))
    if abs(reg["rotation_deg"]) >= 1.0:
        parts.append(f"rotated {abs(reg['rotation_deg']):.0f} degrees")
    return ", ".join(parts) or "small move"


class RippleJudge:
    """Interference: a narrow spectral peak that rose against the baseline spectrum.

    Interference keeps its frequency while a chance peak of the scene wanders, so each band
    remembers where its best peak stood and for how many samples running: a strong peak
    counts at once, a weaker one on the same bin two samples running, a faint one (a few
    grey levels) three samples running."""

    BANDS = (("spec_fine", 1.5), ("spec_coarse", 1.5), ("spec_native", 1.5),
             ("spec_rows", 2.5), ("spec_cols", 2.5), ("spec_drift", 2.5))

    def __init__(self) -> None:
        self.masks: dict[str, np.ndarray] = {}
        #: band -> (bin of its best peak at the last sample, samples running on that bin)
        self.runs: dict[str, tuple[tuple[int, ...], int]] = {}

    def __call__(self, f: Features, b: Baseline, s: HealthSettings, first_sample: bool,
                 active: bool, calm: bool = True) -> Verdict:
        """`calm`: the rest of the view is as the baseline knows it (no cover, softness or
        move under way). A weaker steady peak counts only then: a view that changes under
        a fault reshapes its whole spectrum, and some bin always rises by chance."""
        floor = min(s.ripple_peak_faint, s.ripple_peak_hold)
        best: tuple[float, str, tuple[int, ...]] = (-np.inf, "", ())
        found: tuple[float, str, tuple[int, ...]] | None = None
        for key, radius in self.BANDS:
            if key == "spec_drift" and first_sample:
                continue
            now = getattr(f, key)
            allowed = self.masks.get(key)
            if allowed is None:
                allowed = self.masks[key] = np.flatnonzero(~_low_freq_mask(now.shape, radius))
            score, idx = _peak(now, b.spec[key], allowed)
            # Brightness profiles average 3-4 strips, not ~100 patches: their chance peaks
            # run higher, so they must clear a higher bar (scores are compared on one scale).
            if key in ("spec_rows", "spec_cols"):
                score -= s.ripple_profile_margin
            if score > best[0]:
                best = (score, key, idx)
            last = self.runs.get(key)
            if score < floor:
                self.runs.pop(key, None)
                continue
            same = last is not None and all(abs(a - c) <= 1
                                            for a, c in zip(idx, last[0], strict=True))
            run = last[1] + 1 if same and last is not None else 1
            self.runs[key] = (idx, run)
            weak_ok = (calm or active) and key != "spec_drift"
            ok = (score >= s.ripple_peak
                  or (weak_ok and run >= 2 and score >= (s.ripple_peak_hold if active
                                                         else s.ripple_peak_steady))
                  or (weak_ok and run >= 3 and score >= s.ripple_peak_faint
                      and not _near_nyquist(key, idx)))
            if ok and (found is None or score > found[0]):
                found = (score, key, idx)
        if found is None:
            return Verdict(False, 0.0, {"peak": round(best[0], 3)})
        score, key, idx = found
        return Verdict(True, min(0.99, 0.6 + 0.25 * max(0.0, score - s.ripple_peak_faint)), {
            "peak_log_amplitude": round(score, 3),
            "period_px": _period(key, idx),
            "band": key.removeprefix("spec_"),
            "region": "whole view",
        })


def _near_nyquist(key: str, idx: tuple[int, ...]) -> bool:
    """Stripes under ~2.5 px apart: where rain, sensor noise and the encoder's own artefacts
    live, so a faint steady peak there is not evidence enough."""
    if key in ("spec_fine", "spec_native"):
        return math.hypot(*idx) > 6.5
    return False


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
