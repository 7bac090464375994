"""The state-change contract shared by the pipeline, the agent, `analyze` and the collector.

One place defines fault names and the event shape, so that a fault added here is known
everywhere it travels (see ARCHITECTURE.md, "A state change").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Faults the pipeline can raise from pictures, plus the agent's stream faults.
PICTURE_FAULTS: tuple[str, ...] = (
    "blocked", "blur", "ripple", "frozen", "overexposed", "moved", "dark")
STREAM_FAULTS: tuple[str, ...] = ("signal_loss",)
#: Every fault name a collector must accept (the contract lists color_cast and noise as
#: "where built"; they are reserved so an agent that builds them later is not rejected).
FAULTS: tuple[str, ...] = STREAM_FAULTS + PICTURE_FAULTS + ("color_cast", "noise")
STATES: tuple[str, ...] = ("raised", "cleared")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")

#: How bad a fault is for the crews: a camera that shows nothing usable is critical.
DEFAULT_SEVERITY: dict[str, str] = {
    "signal_loss": "critical",
    "blocked": "critical",
    "frozen": "critical",
    "blur": "major",
    "ripple": "major",
    "moved": "major",
    "overexposed": "major",
    "dark": "minor",
    "color_cast": "minor",
    "noise": "minor",
}


def iso_utc(epoch_seconds: float) -> str:
    """Format seconds since the epoch as the contract's UTC timestamp (milliseconds, 'Z')."""
    dt = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


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
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

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
