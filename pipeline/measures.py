"""Measures taken on one sample's features, shared by the baseline and the fault judges.

Everything here is a small, pure function of graph outputs (pipeline.detect.Features) or of
the half-scale picture the graph hands back, so that it can be reasoned about and tested
alone. All of it runs per camera per sample: each function says what it costs where that
is more than a few microseconds.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.detect import Features
from pipeline.frames import GRID_H, GRID_W, THUMB_H, THUMB_W

CELLS = GRID_H * GRID_W
HALF_H, HALF_W = THUMB_H // 2, THUMB_W // 2
EPS = 1e-6


def texture(f: Features) -> np.ndarray:
    """Gradient energy at half and quarter scale over local brightness: lights dimming to
    night scale both, so the ratio holds; a cover in front of the lens removes the texture."""
    return (f.g2 + f.g4) / (f.mean + 12.0)


def fine(f: Features) -> np.ndarray:
    """Fine-scale texture over brightness: what an out-of-focus leaf or hand in front of the
    lens removes even where its own blurred edges keep some coarse texture."""
    return f.g1 / (f.mean + 12.0)


def median(a: np.ndarray) -> float:
    """Median of a small 1-D array: np.median's generic machinery costs ~20x more here, and
    this runs for every camera every sample."""
    a = np.sort(a, axis=None)
    n = a.size
    return float(a[(n - 1) // 2] + a[n // 2]) / 2.0 if n else float("nan")


def change(f: Features, q: float = 0.75) -> float:
    """How much the picture changed since the last sample at the q-quantile cell: the busiest
    quarter is ignored by default, as a camera's own clock overlay keeps ticking on a frozen
    picture."""
    d = np.sort(f.diff)
    return float(d[int(q * (len(d) - 1))])


def sharpness(f: Features, base_tex: np.ndarray, textured_cell: float) -> float:
    """Fine over coarse gradient energy, median over cells that have texture: defocus takes
    the fine scale first, while sensor noise (night) only ever raises it."""
    ratio = f.g1 / (f.g2 + 0.05)
    use = base_tex > textured_cell
    if use.sum() < 6:
        use = np.ones(CELLS, dtype=bool)
    return median(ratio[use])


def corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two cell maps; 0 when either is flat."""
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-3 else 0.0


def half_picture(f: Features) -> np.ndarray:
    """The graph's half-scale picture as a HALF_H x HALF_W float32 array (a view)."""
    return f.half.reshape(HALF_H, HALF_W)


def band_pass(half: np.ndarray) -> np.ndarray:
    """The scene's detail at the scale a person recognises a view by (periods of ~6-36
    thumbnail pixels): the difference of two box blurs of the half-scale picture.

    Slow light changes (dusk, auto gain, the IR switch) sit below this band and sensor noise
    mostly above it, so the same view keeps the same band-pass picture day and night, while
    anything in front of the lens replaces it. ~30 us on the 96 x 160 picture."""
    return cv2.blur(half, (3, 3)) - cv2.blur(half, (9, 9))


def cell_means(a: np.ndarray) -> np.ndarray:
    """Mean of a half-scale map over each analysis cell (16 x 16 at half scale), flattened
    row-major like the graph's cell outputs. INTER_AREA at an integer factor is an exact box
    mean, ~3x cheaper than a reshape-sum in NumPy."""
    return cv2.resize(a, (GRID_W, GRID_H), interpolation=cv2.INTER_AREA).ravel()


def structure(bp: np.ndarray, ref_bp: np.ndarray, ref_energy: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: how much of the reference view's detail is still there, and how strong.

    Returns (similarity, energy, share): the normalised cross-correlation of the band-pass
    pictures (1: the same detail, 0: unrelated), the cell's band-pass energy now, and the
    share of the reference's detail that is still in the picture (the regression of the
    band-pass now on the reference's: an object of opacity a in front of the lens leaves
    1 - a of it, whatever edges of its own it adds, as those are unrelated to the view).
    ~30 us."""
    energy = cell_means(bp * bp)
    cross = cell_means(bp * ref_bp)
    sim = cross / np.sqrt(energy * ref_energy + 1e-3)
    share = cross / np.maximum(ref_energy, 1e-3)
    return sim, energy, share


class Registration:
    """Where the view moved to against a reference: shift and rotation from four regions.

    Phase correlation of the band-pass pictures in four overlapping corner regions gives four
    shifts; a rigid motion (shift + small rotation) is fitted to them. A camera bumped or
    sagging moves every region consistently; a lorry parking in one region does not, and its
    fit leaves a large residual. ~0.3 ms, so the judge only asks when the view's detail has
    changed (pipeline.judges.moved)."""

    RH, RW = 64, 96  # region size in half-scale pixels

    def __init__(self) -> None:
        self.window = cv2.createHanningWindow((self.RW, self.RH), cv2.CV_32F)
        ys = (0, HALF_H - self.RH)
        xs = (0, HALF_W - self.RW)
        self.origins = [(y, x) for y in ys for x in xs]
        cy, cx = HALF_H / 2, HALF_W / 2
        self.centres = np.array([(x + self.RW / 2 - cx, y + self.RH / 2 - cy)
                                 for y, x in self.origins])

    def __call__(self, ref_bp: np.ndarray, bp: np.ndarray) -> dict[str, float]:
        """Fit of the view's motion; shifts in percent of the view, rotation in degrees."""
        shifts, resp = [], []
        for y, x in self.origins:
            a = np.ascontiguousarray(ref_bp[y:y + self.RH, x:x + self.RW])
            b = np.ascontiguousarray(bp[y:y + self.RH, x:x + self.RW])
            (dx, dy), r = cv2.phaseCorrelate(a, b, self.window)
            shifts.append((dx, dy))
            resp.append(r)
        d = np.asarray(shifts)
        c = self.centres
        tx, ty = float(d[:, 0].mean()), float(d[:, 1].mean())
        # Small rotation theta about the centre: dx = tx - theta*y, dy = ty + theta*x.
        theta = float(((-c[:, 1] * (d[:, 0] - tx)) + c[:, 0] * (d[:, 1] - ty)).sum()
                      / (c * c).sum())
        model = np.stack([tx - theta * c[:, 1], ty + theta * c[:, 0]], axis=1)
        residual = float(np.sqrt(((d - model) ** 2).sum(axis=1).mean()))
        return {
            "shift_x_pct": 100.0 * tx / HALF_W,
            "shift_y_pct": 100.0 * ty / HALF_H,
            "shift_pct": 100.0 * math.hypot(tx / HALF_W, ty / HALF_H),
            "rotation_deg": math.degrees(theta),
            "residual_px": residual,
            "response": float(min(resp)),
        }


class RotationRegistration:
    """A large rotation of the view (a camera knocked round on its mount), which the four
    regions' shifts cannot follow: each region turns as well as shifts.

    The amplitude spectrum ignores where the picture is and turns with it, so the angle is
    a shift along the angle axis of both spectra in polar form (phase correlation again);
    the reference turned by that angle must then match the picture, which a changed scene
    does not. On the plain half-scale pictures (the band-pass filter's square response would
    not turn with them), mean removed, in a round window, on a square centre crop (equal
    frequency steps both ways). ~0.5 ms, asked only when the regions disagree."""

    N = 96
    ANGLES = 360

    def __init__(self) -> None:
        # A round window: a separable one leaves axis-aligned energy in the spectrum, which
        # does not turn with the picture and pins the estimate at 0 or 90 degrees.
        yy, xx = np.mgrid[0:self.N, 0:self.N].astype(np.float32) - (self.N - 1) / 2
        r = np.hypot(xx, yy) / (self.N / 2)
        self.window = np.where(r < 1, np.cos(np.minimum(r, 1) * np.pi / 2) ** 2, 0
                               ).astype(np.float32)
        self.check_window = cv2.createHanningWindow((HALF_W, HALF_H), cv2.CV_32F)
        self.x0 = (HALF_W - self.N) // 2

    def _polar(self, half: np.ndarray) -> np.ndarray:
        crop = half[:, self.x0:self.x0 + self.N]
        crop = (crop - crop.mean()) * self.window
        mag = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(crop)))).astype(np.float32)
        c = self.N / 2
        return cv2.warpPolar(mag, (self.N // 2, self.ANGLES), (c, c), c,
                             cv2.WARP_POLAR_LINEAR)

    def __call__(self, ref_half: np.ndarray, half: np.ndarray, ref_bp: np.ndarray,
                 bp: np.ndarray) -> dict[str, float]:
        """Rotation in degrees (-90..90) and how well the turned reference's detail then
        matches the picture's."""
        (_, dy), _ = cv2.phaseCorrelate(self._polar(ref_half), self._polar(half))
        angle = float(dy) * 360.0 / self.ANGLES
        angle = (angle + 90.0) % 180.0 - 90.0  # the spectrum repeats every 180 degrees
        m = cv2.getRotationMatrix2D((HALF_W / 2, HALF_H / 2), -angle, 1.0)
        turned = cv2.warpAffine(ref_bp, m, (HALF_W, HALF_H), borderMode=cv2.BORDER_REFLECT)
        (tx, ty), response = cv2.phaseCorrelate(turned, bp, self.check_window)
        return {"rotation_deg": angle, "response": float(response),
                "shift_pct": 100.0 * math.hypot(tx / HALF_W, ty / HALF_H)}


def region_name(mask: np.ndarray) -> str:
    """Where in the view a set of cells lies, in words a crew on a ladder can use:
    'top', 'bottom-left', 'whole view', ... (mask is GRID_H x GRID_W booleans)."""
    if mask.mean() >= 0.8:
        return "whole view"
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return "none"
    cy = (ys.mean() + 0.5) / mask.shape[0]
    cx = (xs.mean() + 0.5) / mask.shape[1]
    v = "top" if cy < 0.4 else "bottom" if cy > 0.6 else ""
    h = "left" if cx < 0.4 else "right" if cx > 0.6 else ""
    return "-".join(p for p in (v, h) if p) or "centre"


def grid_picture(mask: np.ndarray) -> list[str]:
    """A cell mask as rows of '#' and '.', for evidence a person reads."""
    return ["".join("#" if c else "." for c in row) for row in mask]
