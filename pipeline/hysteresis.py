"""Raise a fault once after it held for a while, clear it once after it was gone for a while.

This is what keeps a passer-by, a gain flicker or the switch to night vision from reaching
anyone's phone, and what makes the contract's "raised once, cleared once" true.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract import DEFAULT_SEVERITY, StateChange
from pipeline.frames import snapshot_jpeg
from pipeline.judges import Verdict
from pipeline.settings import HealthSettings


@dataclass(slots=True)
class Track:
    """One fault's state on one camera."""

    active: bool = False
    since: float | None = None      # first sample of the current pending/clearing run
    last_seen: float | None = None  # last sample where the condition held (or not, clearing)
    best: tuple[float, dict[str, Any]] | None = None


class Hysteresis:
    """The tracks of one camera's faults, stepped once per sample."""

    def __init__(self, camera: str, settings: HealthSettings) -> None:
        self.camera = camera
        self.settings = settings
        self.tracks = {f: Track() for f in settings.faults}

    @property
    def raised(self) -> list[str]:
        """Faults currently raised."""
        return [f for f, tr in self.tracks.items() if tr.active]

    def active(self, fault: str) -> bool:
        """Whether `fault` is raised now."""
        tr = self.tracks.get(fault)
        return bool(tr and tr.active)

    def step(self, t: float, verdicts: dict[str, Verdict],
             snapshot: Callable[[], np.ndarray | None]) -> list[StateChange]:
        """Advance every track by one sample at `t`; return the faults raised or cleared."""
        changes: list[StateChange] = []
        s = self.settings
        for fault, v in verdicts.items():
            tr = self.tracks[fault]
            timing = s.timing[fault]
            if not tr.active:
                if v.holds:
                    if tr.since is None or (tr.last_seen is not None
                                            and t - tr.last_seen > s.miss_tolerance):
                        tr.since, tr.best = t, None
                    tr.last_seen = t
                    if tr.best is None or v.confidence >= tr.best[0]:
                        tr.best = (v.confidence, v.evidence)
                    if t - tr.since >= timing.raise_after:
                        tr.active, tr.since, tr.last_seen = True, None, None
                        assert tr.best is not None
                        conf, ev = tr.best
                        ev = dict(ev, held_seconds=round(timing.raise_after, 1))
                        snap = None
                        if s.snapshots:
                            thumb = snapshot()
                            if thumb is not None:
                                snap = base64.b64encode(snapshot_jpeg(thumb)).decode("ascii")
                        changes.append(StateChange(self.camera, fault, "raised", t, conf,
                                                   DEFAULT_SEVERITY[fault], ev, snap))
                elif tr.since is not None and tr.last_seen is not None and (
                        t - tr.last_seen > s.miss_tolerance):
                    tr.since, tr.last_seen, tr.best = None, None, None
            else:
                if v.holds:
                    tr.since = None
                    continue
                if tr.since is None:
                    tr.since = t
                if t - tr.since >= timing.clear_after:
                    tr.active, tr.since, tr.best = False, None, None
                    changes.append(StateChange(self.camera, fault, "cleared", t, 1.0,
                                               DEFAULT_SEVERITY[fault],
                                               {"gone_seconds": round(timing.clear_after, 1)}))
        return changes

    def state(self) -> dict[str, bool]:
        """Which faults are raised: what survives a restart (pending runs do not)."""
        return {f: tr.active for f, tr in self.tracks.items()}

    def restore(self, raised: dict[str, bool]) -> None:
        """Mark faults raised as they were before a restart, without announcing them again."""
        for f, active in raised.items():
            if f in self.tracks:
                self.tracks[f] = Track(active=bool(active))
