"""The two events an agent sends: a state change and a heartbeat, as one type each.

The pipeline builds `StateChange`s, the agent builds `Heartbeat`s, and the collector's codec
(`contract.wire`) decodes the wire form back into the same `Heartbeat` type, so both ends
agree on the shape by construction rather than by two hand-kept copies (ARCHITECTURE.md,
"A state change").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso_utc(epoch_seconds: float) -> str:
    """Format seconds since the epoch as the contract's UTC timestamp (milliseconds, 'Z')."""
    dt = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class StateChange:
    """A fault raised or cleared on one camera.

    `t` is whatever time base the caller fed the pipeline: seconds from the start of the source
    for `analyze`, epoch seconds for the agent (which renders it as ISO 8601 on the wire).
    """

    camera: str
    fault: str
    state: str
    t: float
    confidence: float
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    snapshot: str | None = None
    event_id: str = field(default_factory=_new_id)

    def to_dict(self, *, iso_time: bool = False) -> dict[str, Any]:
        """The contract's JSON object; `iso_time` renders `t` as UTC ISO 8601 for the wire."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "camera": self.camera,
            "fault": self.fault,
            "state": self.state,
            "t": iso_utc(self.t) if iso_time else round(self.t, 3),
            "confidence": round(float(self.confidence), 3),
            "severity": self.severity,
            "evidence": self.evidence,
        }
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        return out


@dataclass(slots=True)
class HeartbeatCamera:
    """What a heartbeat says about one camera.

    `status` is "ok" or the fault the operator should see first; `last_frame` is epoch
    seconds of the camera's newest picture (None: none yet); `reference` an optional base64
    JPEG of the camera's reference view, for the dashboard's side-by-side view.
    """

    status: str = "ok"
    faults: list[str] = field(default_factory=list)
    last_frame: float | None = None
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (times as ISO 8601 UTC; absent reference left out)."""
        out: dict[str, Any] = {
            "status": self.status, "faults": list(self.faults),
            "last_frame": None if self.last_frame is None else iso_utc(self.last_frame),
        }
        if self.reference is not None:
            out["reference"] = self.reference
        return out


@dataclass(slots=True)
class Heartbeat:
    """The agent's periodic summary: it is alive, and how each of its cameras is.

    `t` is epoch seconds on the agent's clock. The collector uses heartbeats to tell a silent
    agent (cameras "unknown") from a quiet one (cameras "ok").
    """

    agent: str
    t: float
    cameras: dict[str, HeartbeatCamera] = field(default_factory=dict)
    event_id: str = field(default_factory=_new_id)

    def to_dict(self) -> dict[str, Any]:
        """The wire form, with `kind` so the collector can tell it from a state change."""
        return {"kind": "heartbeat", "event_id": self.event_id, "agent": self.agent,
                "t": iso_utc(self.t),
                "cameras": {k: c.to_dict() for k, c in self.cameras.items()}}
