"""Pydantic models for request bodies and for the published OpenAPI document.

The ingest body is parsed by hand (collector.validate) so that one bad event is rejected on its
own; these models describe the same contract for OpenAPI readers and for schemathesis.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.events import FAULTS, SEVERITIES, STATES

FaultName = Literal[FAULTS]  # type: ignore[valid-type]
StateName = Literal[STATES]  # type: ignore[valid-type]
SeverityName = Literal[SEVERITIES]  # type: ignore[valid-type]


class StateChangeEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["state_change"] = "state_change"
    event_id: str = Field(description="UUID (canonical lowercase); stored once however often sent",
                          json_schema_extra={"format": "uuid"})
    camera: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}/[A-Za-z0-9_./-]{1,63}$",
                        examples=["c0417/cam03"])
    fault: FaultName
    state: StateName
    t: str = Field(description="ISO-8601 UTC, e.g. 2026-11-27T06:30:00.120Z",
                   json_schema_extra={"format": "date-time"})
    confidence: float = Field(ge=0, le=1)
    severity: SeverityName
    evidence: dict[str, Any] = Field(default_factory=dict)
    snapshot: str | None = Field(None, description="base64 JPEG, size-capped")


class HeartbeatCamera(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field("ok", description="'ok' or a fault name")
    faults: list[FaultName] = Field(default_factory=list)
    last_frame: str | None = Field(None, json_schema_extra={"format": "date-time"})
    reference: str | None = Field(None, description="base64 JPEG reference view (optional)")


class HeartbeatEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["heartbeat"]
    event_id: str = Field(json_schema_extra={"format": "uuid"})
    agent: str
    t: str = Field(json_schema_extra={"format": "date-time"})
    cameras: dict[str, HeartbeatCamera] = Field(default_factory=dict)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["c0417"])
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
