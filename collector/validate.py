"""Strict validation of agent batches, one event at a time.

A batch is judged event by event, not as a whole: one malformed event from an agent's outbox
must not block the 999 good ones behind it, and the agent needs to know exactly which index was
refused and why (it does not retry a 200 answer). Messages say what is wrong and how to fix it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.config import LimitsConfig
from pipeline.events import FAULTS, SEVERITIES, STATES

AGENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CAMERA_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}/[A-Za-z0-9_./-]{1,63}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
KINDS = ("state_change", "heartbeat")
CAMERA_STATUSES = ("ok",) + FAULTS
MAX_HEARTBEAT_CAMERAS = 512

_SC_KEYS = frozenset({"kind", "event_id", "camera", "fault", "state", "t", "confidence",
                      "severity", "evidence", "snapshot"})
_SC_REQUIRED = ("event_id", "camera", "fault", "state", "t", "confidence", "severity")
_SC_REQUIRED_SET = frozenset(_SC_REQUIRED)
_FAULT_SET = frozenset(FAULTS)
_STATE_SET = frozenset(STATES)
_SEVERITY_SET = frozenset(SEVERITIES)
#: Built once: `json.dumps` with options builds a new encoder per call (a tenth of the time
#: validating a state change took). Same options, same output.
_EVIDENCE_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_HB_KEYS = frozenset({"kind", "event_id", "agent", "t", "cameras"})
_HB_CAMERA_KEYS = frozenset({"status", "faults", "last_frame", "reference"})


class Invalid(ValueError):
    """One event's problem, phrased for the agent's operator."""


@dataclass(slots=True)
class StateChangeIn:
    event_id: str
    camera: str
    compound: str
    fault: str
    state: str
    t: float
    confidence: float
    severity: str
    evidence: str
    snapshot: str | None


@dataclass(slots=True)
class HeartbeatIn:
    event_id: str
    agent: str
    t: float
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_time(value: Any, what: str, now: float, limits: LimitsConfig) -> float:
    """ISO 8601 UTC to epoch seconds, refusing clocks that are clearly wrong."""
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid(f"{what} must be an ISO-8601 UTC string like 2026-11-27T06:30:00.120Z")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{what} '{value[:40]}' is not ISO-8601; send e.g. 2026-11-27T06:30:00.120Z"
        ) from None
    if dt.tzinfo is None:
        raise Invalid(f"{what} has no timezone; append 'Z' for UTC")
    ts = dt.timestamp()
    if ts > now + limits.max_future_skew_seconds:
        raise Invalid(
            f"{what} is {ts - now:.0f}s in the future; check the agent's clock (NTP)"
        )
    if ts < now - limits.max_age_days * 86400:
        raise Invalid(
            f"{what} is older than {limits.max_age_days:g} days; check the agent's clock"
        )
    return ts


def _event_id(obj: dict[str, Any]) -> str:
    eid = obj.get("event_id")
    if not isinstance(eid, str):
        raise Invalid("event_id is required and must be a UUID string")
    if UUID_RE.match(eid):  # the common case, without building a UUID object
        return eid
    try:
        canonical = str(uuid.UUID(eid))
    except ValueError:
        raise Invalid(f"event_id '{eid[:40]}' is not a UUID; use str(uuid.uuid4())") from None
    raise Invalid(f"event_id must be in canonical lowercase form: {canonical}")


def _jpeg(value: Any, what: str, cap: int) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a base64 string of a JPEG")
    if len(value) > (cap * 4) // 3 + 8:
        raise Invalid(f"{what} is larger than {cap} bytes; send a smaller thumbnail")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{what} is not valid base64") from None
    if len(raw) > cap:
        raise Invalid(f"{what} is larger than {cap} bytes; send a smaller thumbnail")
    if not raw.startswith(b"\xff\xd8"):
        raise Invalid(f"{what} is not a JPEG (must start with FF D8)")
    return value


def _camera(value: Any) -> str:
    if not isinstance(value, str) or not CAMERA_RE.match(value):
        raise Invalid(
            "camera must look like 'c0417/cam03' (compound id, '/', camera id; letters, digits,"
            " '_', '-', '.')"
        )
    return value


def validate_state_change(
    obj: dict[str, Any], now: float, limits: LimitsConfig
) -> StateChangeIn:
    # Set operations first, details only on failure: this runs for every event of every batch.
    if not _SC_KEYS.issuperset(obj):
        unknown = sorted(set(obj) - _SC_KEYS)
        raise Invalid(f"unknown field(s) {unknown} in a state change; remove them")
    eid = _event_id(obj)
    if not _SC_REQUIRED_SET.issubset(obj):
        missing = [k for k in _SC_REQUIRED if k not in obj]
        raise Invalid(f"missing field(s) {missing}")
    camera = _camera(obj["camera"])
    fault = obj["fault"]
    if not (isinstance(fault, str) and fault in _FAULT_SET):
        raise Invalid(f"unknown fault '{str(fault)[:32]}'; known faults: {', '.join(FAULTS)}")
    state = obj["state"]
    if not (isinstance(state, str) and state in _STATE_SET):
        raise Invalid(f"state must be one of {', '.join(STATES)}")
    severity = obj["severity"]
    if not (isinstance(severity, str) and severity in _SEVERITY_SET):
        raise Invalid(f"severity must be one of {', '.join(SEVERITIES)}")
    conf = obj["confidence"]
    if (isinstance(conf, bool) or not isinstance(conf, (int, float)) or not math.isfinite(conf)
            or not 0.0 <= conf <= 1.0):
        raise Invalid("confidence must be a number from 0 to 1")
    t = parse_time(obj["t"], "t", now, limits)
    evidence = obj.get("evidence")
    if not evidence:
        if evidence is not None and not isinstance(evidence, dict):
            raise Invalid("evidence must be a JSON object of measured values")
        ev_text = "{}"
    else:
        if not isinstance(evidence, dict):
            raise Invalid("evidence must be a JSON object of measured values")
        ev_text = _EVIDENCE_JSON.encode(evidence)
        if len(ev_text) > limits.max_evidence_bytes:
            raise Invalid(f"evidence is larger than {limits.max_evidence_bytes} bytes")
    snap = obj.get("snapshot")
    if snap is not None:
        snap = _jpeg(snap, "snapshot", limits.max_snapshot_bytes)
    return StateChangeIn(eid, camera, camera.split("/", 1)[0], fault, state, t, float(conf),
                         severity, ev_text, snap)


def validate_heartbeat(
    obj: dict[str, Any], agent: str, now: float, limits: LimitsConfig
) -> HeartbeatIn:
    if not _HB_KEYS.issuperset(obj):
        unknown = sorted(set(obj) - _HB_KEYS)
        raise Invalid(f"unknown field(s) {unknown} in a heartbeat; remove them")
    eid = _event_id(obj)
    if obj.get("agent") != agent:
        raise Invalid("heartbeat 'agent' must equal the batch's 'agent'")
    t = parse_time(obj.get("t"), "t", now, limits)
    cams = obj.get("cameras", {})
    if not isinstance(cams, dict):
        raise Invalid("heartbeat 'cameras' must be an object keyed by camera id")
    if len(cams) > MAX_HEARTBEAT_CAMERAS:
        raise Invalid(f"heartbeat lists more than {MAX_HEARTBEAT_CAMERAS} cameras")
    out: dict[str, dict[str, Any]] = {}
    for cam, info in cams.items():
        _camera(cam)
        if not isinstance(info, dict):
            raise Invalid(f"heartbeat camera '{cam}' must map to an object")
        if not _HB_CAMERA_KEYS.issuperset(info):
            bad = sorted(set(info) - _HB_CAMERA_KEYS)
            raise Invalid(f"unknown field(s) {bad} for heartbeat camera '{cam}'")
        status = info.get("status", "ok")
        if status not in CAMERA_STATUSES:
            raise Invalid(f"camera '{cam}' status must be 'ok' or a fault name")
        faults = info.get("faults", [])
        if not isinstance(faults, list) or (faults and any(f not in FAULTS for f in faults)):
            raise Invalid(f"camera '{cam}' faults must be a list of known fault names")
        lf = info.get("last_frame")
        last_frame = None if lf is None else parse_time(lf, f"{cam} last_frame", now, limits)
        ref = info.get("reference")
        if ref is not None:
            ref = _jpeg(ref, f"{cam} reference", limits.max_snapshot_bytes)
        out[cam] = {"status": status, "last_frame": last_frame, "reference": ref}
    return HeartbeatIn(eid, agent, t, out)


def validate_event(
    obj: Any, agent: str, now: float, limits: LimitsConfig
) -> StateChangeIn | HeartbeatIn:
    """Validate one element of a batch's `events` list."""
    if not isinstance(obj, dict):
        raise Invalid("each event must be a JSON object")
    kind = obj.get("kind", "state_change")
    if kind == "state_change":
        return validate_state_change(obj, now, limits)
    if kind == "heartbeat":
        return validate_heartbeat(obj, agent, now, limits)
    raise Invalid(f"kind must be one of {', '.join(KINDS)} (default state_change)")


def event_id_of(obj: Any) -> str | None:
    """The event_id to echo in a rejection, only if it is a plausible id."""
    if isinstance(obj, dict):
        eid = obj.get("event_id")
        if isinstance(eid, str) and len(eid) <= 64:
            return eid
    return None
