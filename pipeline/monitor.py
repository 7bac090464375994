"""One object the agent and `analyze` both drive: frames in, state changes out.

It owns the shared detector (one ONNX Runtime session per model for the whole process) and
one `CameraHealth` per camera, and batches frames from several cameras through the detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.events import StateChange


@dataclass(slots=True)
class Sample:
    """One decoded picture of one camera at time `t` (seconds, caller's time base).

    `gray` is the Y plane at any size (it is scaled here) or an analysis thumbnail already.
    """

    camera: str
    t: float
    gray: np.ndarray


class Monitor:  # pragma: no cover - replaced by the implementation below in this module
    def process(self, samples: Sequence[Sample]) -> list[StateChange]:
        raise NotImplementedError

    def reset_baseline(self, camera: str) -> None:
        raise NotImplementedError

    def forget(self, camera: str) -> None:
        raise NotImplementedError
