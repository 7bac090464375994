"""Each camera's learned picture on disk, so an agent restart forgets nothing it learned.

Without it a restarted agent relearns every camera from its first pictures: a camera that is
covered or dark at that moment would learn the fault as its healthy picture, and the
reference confirmed at install (what a slowly growing fault is measured against) would be
lost. The pipeline hands over its state as plain arrays and numbers
(`pipeline.monitor.Monitor.state`); this module writes one small `.npz` per camera,
atomically (a temporary file renamed over the old one), so a `kill -9` mid-write leaves the
previous state, never a torn one. A file that cannot be read is moved aside and the camera
learns again: losing a reference is better than refusing to start.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

log = logging.getLogger(__name__)


def _flatten(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able skeleton of `obj` with every array replaced by a reference into `arrays`."""
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _flatten(v, f"{path}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unflatten(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return np.array(arrays[obj["__array__"]])
        return {k: _unflatten(v, arrays) for k, v in obj.items()}
    return obj


def encode(state: dict[str, Any]) -> bytes:
    """One camera's state as the bytes of an .npz file (no pickles: safe to load)."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(state, "", arrays)
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(skeleton).encode(), np.uint8), **arrays)
    return buf.getvalue()


def decode(data: bytes) -> dict[str, Any]:
    """The state `encode` wrote."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        skeleton = json.loads(bytes(z["__meta__"]).decode())
        return _unflatten(skeleton, z)


class CameraStateStore:
    """A directory of per-camera state files (beside the outbox by default)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, camera: str) -> Path:
        return self.dir / (quote(camera, safe="") + ".npz")

    def save(self, camera: str, state: dict[str, Any]) -> None:
        """Write atomically; raises OSError (e.g. a full disk) with the old file intact."""
        path = self._path(camera)
        tmp = path.with_suffix(".npz.tmp")
        data = encode(state)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def load(self, camera: str) -> dict[str, Any] | None:
        """The camera's saved state, None if there is none or it is unreadable (then moved
        aside with a log line saying so)."""
        path = self._path(camera)
        if not path.exists():
            return None
        try:
            return decode(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - any damage: relearn, never refuse to start
            aside = path.with_suffix(f".corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
            log.warning("camera %s: saved picture state %s unreadable (%s); moved to %s, the "
                        "camera learns its picture again", camera, path, exc, aside.name)
            return None
