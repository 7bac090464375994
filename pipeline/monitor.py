"""One object the agent and `analyze` both drive: frames in, state changes out.

It owns the shared detector (one ONNX Runtime session for the whole process), one
CameraHealth per camera, and each camera's previous thumbnail (the frozen check compares
against it). Frames of several cameras go through the detector as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract import StateChange
from pipeline.detect import Detector, shared_detector
from pipeline.frames import half_scale, native_mosaic, thumbnail
from pipeline.health import CameraHealth, HealthSettings


@dataclass(slots=True)
class Sample:
    """One decoded picture of one camera at time `t` (seconds, caller's time base).

    `gray` is the Y plane at any size (it is scaled here) or an analysis thumbnail already.
    `native` is the picture's native-resolution patches (pipeline.frames.native_mosaic),
    which a caller that scaled the picture itself must cut before; None cuts them from
    `gray`. `chroma` is the picture's mean colour (Cb - 128, Cr - 128) if the caller has it:
    it tells a coloured layer over the lens (paint) from fog, which gray pictures cannot.
    """

    camera: str
    t: float
    gray: np.ndarray
    native: np.ndarray | None = None
    chroma: np.ndarray | None = None


class Monitor:
    """Health of many cameras through one detector."""

    def __init__(self, settings: HealthSettings | None = None,
                 detector: Detector | None = None) -> None:
        self.settings = settings or HealthSettings()
        self.detector = detector or shared_detector()
        self.cameras: dict[str, CameraHealth] = {}
        self._prev: dict[str, np.ndarray] = {}

    def health(self, camera: str) -> CameraHealth:
        """The camera's state, created on first sight."""
        h = self.cameras.get(camera)
        if h is None:
            h = self.cameras[camera] = CameraHealth(camera, self.settings)
        return h

    def process(self, samples: Sequence[Sample]) -> list[StateChange]:
        """Judge a batch of samples (any cameras, in time order per camera)."""
        changes: list[StateChange] = []
        pending = list(samples)
        while pending:
            # A camera may appear once per detector batch: its next sample needs this one as
            # the previous picture.
            seen: set[str] = set()
            batch, rest = [], []
            for s in pending:
                (rest if s.camera in seen else batch).append(s)
                seen.add(s.camera)
            pending = rest
            thumbs = np.stack([thumbnail(s.gray) for s in batch])
            fresh = [s.camera not in self._prev for s in batch]
            # A camera's first picture is compared with itself.
            prevs = np.stack([half_scale(th) if new else self._prev[s.camera]
                              for s, th, new in zip(batch, thumbs, fresh, strict=True)])
            natives = np.stack([native_mosaic(s.gray) if s.native is None else s.native
                                for s in batch])
            feats = self.detector.run(thumbs, prevs, natives)
            for s, th, f, new in zip(batch, thumbs, feats, fresh, strict=True):
                # A copy: a view would keep the whole batch's output alive per camera.
                self._prev[s.camera] = f.half.reshape(prevs.shape[1:]).copy()
                f.chroma = s.chroma
                changes.extend(self.health(s.camera).update(s.t, f, th, fresh=new))
        return changes

    def reset_baseline(self, camera: str) -> None:
        """Relearn a camera's healthy picture (after a repair)."""
        if camera in self.cameras:
            self.cameras[camera].reset_baseline()

    def forget(self, camera: str) -> None:
        """Drop a camera's state, e.g. after a reconnect, so the first new frame is not
        compared with a stale one; raised faults are kept by the caller if it wants them."""
        self._prev.pop(camera, None)

    def state(self, camera: str) -> dict[str, Any] | None:
        """The camera's learned state (baseline, reference, raised faults) for the caller to
        keep across restarts; None before the camera was seen."""
        h = self.cameras.get(camera)
        return h.state() if h else None

    def restore(self, camera: str, state: dict[str, Any],
                raised: set[str] | None = None) -> bool:
        """Take up a camera's saved state; `raised` (the faults the caller has announced and
        not cleared) overrides the saved raised faults, as the caller's record is the one the
        collector has seen. False if the state is unusable (the camera then learns again)."""
        h = self.health(camera)
        ok = h.restore(state)
        if ok and raised is not None:
            h.hysteresis.restore({f: f in raised for f in h.hysteresis.tracks})
        return ok
