"""Shared fixtures: real H.264 clips of every fault and negative, made once per machine.

Clips are rendered by tests/clips.py and cached in pytest's cache directory, keyed by the
renderer's source, so a second run only pays for what changed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests import clips

#: Test clips: 512x384, fault onset at 12 s, 30 s long (recall window is 20 s).
CLIP_ARGS = {"onset": 12.0, "width": 512, "height": 384, "seconds": 30.0}
ROOT = Path(__file__).resolve().parent.parent
LENSWATCH = [sys.executable, "-m", "lenswatch.cli"]


def _key() -> str:
    src = (Path(clips.__file__).read_bytes() + repr(sorted(CLIP_ARGS.items())).encode())
    return hashlib.sha256(src).hexdigest()[:12]


@pytest.fixture(scope="session")
def clip_dir(request: pytest.FixtureRequest) -> Path:
    """Directory holding <recipe>.mp4 for every recipe in tests/clips.py."""
    d = Path(request.config.cache.mkdir(f"lenswatch-clips-{_key()}"))
    names = list(clips.recipes(**CLIP_ARGS))
    todo = [n for n in names if not (d / f"{n}.mp4").exists()]
    if todo:
        workers = max(1, min(len(todo), os.cpu_count() or 1))
        with ProcessPoolExecutor(workers) as pool:
            futs = [pool.submit(clips.make, n, d / f"{n}.part.mp4", **CLIP_ARGS) for n in todo]
            for n, f in zip(todo, futs, strict=True):
                f.result()
                (d / f"{n}.part.mp4").rename(d / f"{n}.mp4")
    return d


@pytest.fixture(scope="session")
def expected() -> dict[str, tuple[str | None, float | None]]:
    """recipe name -> (fault or None, onset seconds or None)."""
    return {n: (f, o) for n, (f, o, _c, _r) in clips.recipes(**CLIP_ARGS).items()}
