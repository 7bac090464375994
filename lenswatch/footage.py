"""Real camera-like footage for the simulator, demos and benchmarks, fetched, never committed.

Why real footage: the detectors learn each camera's own healthy picture, and a procedural
scene is kinder to them than a street. Debian's ``opencv-doc`` package ships a pedestrian
clip (``vtest.avi``, 768x576, 10 fps, 79 s) and street/building photos under
``examples/data``. We fetch that package with ``apt-get download`` (no root needed, nothing
installed) and unpack only ``examples/data`` into a cache directory, so the repository stays
free of binary footage and licences other than Debian's.

When apt is not there (not Debian, no network), `fetch` raises `FootageUnavailable` with a
message saying what to do; the simulator catches it and falls back to procedural scenes with
a logged warning, so a demo never fails for lack of footage.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "opencv-doc"
DATA_IN_DEB = "usr/share/doc/opencv-doc/examples/data"
#: Photos that look like what a compound camera sees (streets, buildings, a yard).
PHOTOS = ("building.jpg", "leuvenA.jpg", "home.jpg", "aero1.jpg", "stuff.jpg")
VIDEO = "vtest.avi"


class FootageUnavailable(RuntimeError):
    """The footage could not be fetched; the message says why and how to fix it."""


@dataclass(frozen=True)
class Footage:
    """Paths of the fetched footage: one pedestrian video and a few still photos."""

    video: Path
    photos: tuple[Path, ...]


def default_cache() -> Path:
    """$LENSWATCH_CACHE, else $XDG_CACHE_HOME/lenswatch, else ~/.cache/lenswatch."""
    env = os.environ.get("LENSWATCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lenswatch"


def _found(data: Path) -> Footage | None:
    video = data / VIDEO
    photos = tuple(p for p in (data / n for n in PHOTOS) if p.is_file())
    if video.is_file() and photos:
        return Footage(video, photos)
    return None


def fetch(cache: Path | None = None) -> Footage:
    """Return the footage, downloading and unpacking opencv-doc into `cache` the first time.

    Already-unpacked footage is reused, and a system-wide install of opencv-doc is used
    directly. Raises FootageUnavailable (with the fix in its message) if neither works.
    """
    system = _found(Path("/") / DATA_IN_DEB)
    if system:
        return system
    cache = (cache or default_cache()) / "footage"
    data = cache / DATA_IN_DEB
    got = _found(data)
    if got:
        return got
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise FootageUnavailable(
            "apt-get/dpkg-deb not found: footage comes from Debian's opencv-doc package. "
            f"Copy {VIDEO} and some photos into {data} by hand, or let the simulator use "
            "procedural scenes (it does so automatically).")
    deb_dir = cache / "deb"
    deb_dir.mkdir(parents=True, exist_ok=True)
    debs = sorted(deb_dir.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        log.info("fetching footage: apt-get download %s (~95 MB, once) into %s", PACKAGE,
                 deb_dir)
        proc = subprocess.run(["apt-get", "download", PACKAGE], cwd=deb_dir,
                              capture_output=True, text=True, timeout=900)
        debs = sorted(deb_dir.glob(f"{PACKAGE}_*.deb"))
        if not debs:
            raise FootageUnavailable(
                f"`apt-get download {PACKAGE}` failed ({proc.stderr.strip()[-300:]}); "
                "run `sudo apt-get update` and retry, or rely on procedural scenes.")
    _unpack(debs[-1], cache)
    got = _found(data)
    if not got:
        raise FootageUnavailable(f"{debs[-1].name} has no {DATA_IN_DEB}/{VIDEO}")
    # The examples are all we need: drop the 95 MB package once unpacked.
    for d in debs:
        d.unlink(missing_ok=True)
    return got


def _unpack(deb: Path, dest: Path) -> None:
    """Extract only the examples' data directory (22 MB of the package) into `dest`."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if not name.startswith(DATA_IN_DEB + "/") or not member.isfile():
                    continue
                if "/dnn/" in name:
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is not None:
                    with open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
    if proc.returncode not in (0, None):
        raise FootageUnavailable(f"dpkg-deb could not read {deb}")


def main() -> int:
    """`python -m lenswatch.footage`: fetch the footage and print where it is."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        f = fetch()
    except FootageUnavailable as exc:
        print(f"footage unavailable: {exc}")
        return 1
    print(f.video)
    for p in f.photos:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
