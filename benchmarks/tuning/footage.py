"""The TUNING part's footage: Debian opencv-doc's examples, and only the files listed here.

Why a list of its own: the envelope's validation part renders other footage from the same
package (and from other packages), and a detector tuned on a scene it is then validated on
proves nothing. Everything this part may read is named in TUNING_FILES; nothing else is
extracted, so a validation file can never leak into a tuning scene by a glob.

The .deb is looked for where earlier steps left it (benchmarks/data, the lenswatch cache,
/tmp/ocvdoc) and is never deleted here; only as a last resort is it fetched with
`apt-get download` (benchmarks.make_dataset.fetch_sources).
"""

from __future__ import annotations

import functools
import os
import subprocess
import tarfile
from pathlib import Path

import av
import cv2
import numpy as np

DATA_IN_DEB = "usr/share/doc/opencv-doc/examples/data"
VIDEO = "vtest.avi"
PHOTOS = ("building.jpg", "leuvenA.jpg", "home.jpg", "aero1.jpg", "aero3.jpg", "stuff.jpg",
          "right.jpg", "left01.jpg", "box_in_scene.png", "graf1.png")
TUNING_FILES = (VIDEO, *PHOTOS)
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "benchmarks" / "data" / "tuning_footage"
#: vtest.avi is 10 fps; every VIDEO_STEP-th frame is kept (each held for VIDEO_STEP frames),
#: which halves the ~1 GB a fully decoded clip holds in every worker process.
VIDEO_STEP = 2


def _debs() -> list[Path]:
    places = [ROOT / "benchmarks" / "data", Path(os.environ.get("LENSWATCH_CACHE", "")),
              Path.home() / ".cache" / "lenswatch", Path("/tmp/ocvdoc")]
    found: list[Path] = []
    for p in places:
        if str(p) and p.is_dir():
            found += sorted(p.glob("opencv-doc_*.deb"))
    return found


def data_dir() -> Path:
    """The directory holding the tuning files, extracting them once if needed."""
    data = CACHE / DATA_IN_DEB
    if all((data / n).exists() for n in TUNING_FILES):
        return data
    debs = _debs()
    if not debs:
        from benchmarks.make_dataset import fetch_sources

        # Fetches (and then deletes) its own copy under benchmarks/data/; the tuning files
        # are among the ones it extracts.
        src = fetch_sources(ROOT / "benchmarks" / "data")
        return src
    wanted = {f"./{DATA_IN_DEB}/{n}" for n in TUNING_FILES}
    CACHE.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[-1])],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    tar.extract(member, CACHE, filter="data")
    missing = [n for n in TUNING_FILES if not (data / n).exists()]
    if missing:
        raise SystemExit(f"opencv-doc package {debs[-1]} lacks {missing}")
    return data


@functools.cache
def photo(name: str) -> np.ndarray:
    """A tuning photo as uint8 BGR (cached per process)."""
    if name not in PHOTOS:
        raise ValueError(f"{name} is not tuning footage")
    img = cv2.imread(str(data_dir() / name), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {name}")
    return img


@functools.cache
def video_frames() -> tuple[np.ndarray, ...]:
    """vtest.avi decoded once per process, every VIDEO_STEP-th frame (uint8 BGR)."""
    with av.open(str(data_dir() / VIDEO)) as c:
        return tuple(f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0))
                     if i % VIDEO_STEP == 0)
