"""Pydantic models for request bodies and for the published OpenAPI document.

The ingest body is parsed by hand (`contract.wire`) so that one bad event is rejected on its
own; these models describe the same contract, from the same names and patterns, for OpenAPI
readers and for schemathesis. They describe what an agent of this contract version sends
(unknown fields refused); a newer agent's optional fields are ignored (see `contract`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract import CAMERA_STATUSES, CONTRACT_VERSION, FAULTS, SEVERITIES, STATES
from contract.names import AGENT_PATTERN, CAMERA_PATTERN

FaultName = Literal[FAULTS]  # type: ignore[valid-type]
CameraStatus = Literal[CAMERA_STATUSES]  # type: ignore[valid-type]
StateName = Literal[STATES]  # type: ignore[valid-type]
SeverityName = Literal[SEVERITIES]  # type: ignore[valid-type]


class StateChangeEvent(BaseModel):
    """`contract.StateChange` on the wire."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["state_change"] = "state_change"
    event_id: str = Field(description="UUID (canonical lowercase); stored once however often sent",
                          json_schema_extra={"format": "uuid"})
    camera: str = Field(pattern=CAMERA_PATTERN, examples=["c0417/cam03"])
    fault: FaultName
    state: StateName
    t: str = Field(description="ISO-8601 UTC on the agent's clock, e.g. "
                   "2026-11-27T06:30:00.120Z; stored whatever the clock's error (see "
                   "docs/collector.md, Clocks)", json_schema_extra={"format": "date-time"})
    confidence: float = Field(ge=0, le=1)
    severity: SeverityName
    evidence: dict[str, Any] = Field(default_factory=dict)
    snapshot: str | None = Field(None, description="base64 JPEG, size-capped")


class HeartbeatCamera(BaseModel):
    """`contract.HeartbeatCamera` on the wire."""

    model_config = ConfigDict(extra="forbid")
    status: CameraStatus = Field("ok", description="'ok' or a fault name")
    faults: list[FaultName] = Field(default_factory=list)
    last_frame: str | None = Field(None, json_schema_extra={"format": "date-time"})
    reference: str | None = Field(None, description="base64 JPEG reference view (optional)")


class HeartbeatEvent(BaseModel):
    """`contract.Heartbeat` on the wire."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["heartbeat"]
    event_id: str = Field(json_schema_extra={"format": "uuid"})
    agent: str = Field(pattern=AGENT_PATTERN)
    t: str = Field(json_schema_extra={"format": "date-time"})
    cameras: dict[str, HeartbeatCamera] = Field(default_factory=dict)


class EventBatch(BaseModel):
    __doc__ = (f"A batch of events (contract version {CONTRACT_VERSION}). Send the headers "
               "X-Lenswatch-Contract (version) and X-Lenswatch-Sent-At (ISO-8601 UTC send time)"
               "; each event is judged alone.")
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(pattern=AGENT_PATTERN, examples=["c0417"])
    events: list[StateChangeEvent | HeartbeatEvent] = Field(max_length=1000)


class Rejection(BaseModel):
    event_id: str | None
    index: int
    error: str


class IngestResult(BaseModel):
    accepted: list[str]
    duplicates: list[str]
    rejected: list[Rejection]


class Problem(BaseModel):
    detail: str


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=64)


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=4000)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=4000)
    reset_baseline: bool = Field(
        False, description="ask the camera's agent to re-learn its baseline after a repair"
    )


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)


class Command(BaseModel):
    id: int
    kind: str
    camera: str
    ticket_id: int | None = None
    created_at: float


class PictureView(BaseModel):
    """One audited view of a picture (GET /v1/audit/pictures, admins only)."""

    id: int
    at: float = Field(description="when the picture was served (epoch seconds)")
    subject: str = Field(description="the viewer: the token's subject (person or agent id)")
    role: str
    via: str = Field(description="'bearer' (API token) or 'session' (signed-in browser)")
    kind: str = Field(description="'snapshot' (an event's evidence) or 'reference'")
    camera: str | None = None
    event_id: str | None = Field(None, description="the snapshot's event; null for references")
    picture_at: float | None = Field(None, description="when the collector received the picture")
