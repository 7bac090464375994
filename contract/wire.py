"""The wire codec: decoding and judging agent batches, one event at a time.

A batch is judged event by event, not as a whole: one malformed or poisoned event from an
agent's outbox must not block the 999 good ones behind it, and the agent needs to know exactly
which index was refused and why (it does not retry a 200 answer). Messages say what is wrong
and how to fix it. The collector never answers 500 for content: everything that could make
storing, listing or streaming an event fail (NaN, Infinity, integers no JSON reader can hold
exactly, nesting deeper than a reader's stack) is refused here, per event, with a reason.

Clocks: an event is stored whatever its stamp, 1970 included (the date an edge box without a
clock battery boots into), and `effective_time` says which time the collector orders and
times it by. See the package docstring for the version rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contract.events import Heartbeat, HeartbeatCamera, iso_utc
from contract.names import (
    AGENT_PATTERN,
    CAMERA_PATTERN,
    CAMERA_STATUSES,
    FAULTS,
    KINDS,
    SEVERITIES,
    STATES,
)
from contract.version import CONTRACT_VERSION, MAX_PEER_VERSION, MIN_PEER_VERSION

AGENT_RE = re.compile(AGENT_PATTERN)
CAMERA_RE = re.compile(CAMERA_PATTERN)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
MAX_HEARTBEAT_CAMERAS = 512
#: Integers beyond this lose precision in JavaScript (the dashboard) and in doubles.
MAX_SAFE_INT = 2**53

#: HTTP headers of the contract. Headers, not body fields: a collector older than the
#: contract ignores unknown headers, while it refuses unknown body fields.
VERSION_HEADER = "X-Lenswatch-Contract"
SENT_AT_HEADER = "X-Lenswatch-Sent-At"

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
BATCH_KEYS = frozenset({"agent", "events"})


class Invalid(ValueError):
    """One event's (or one batch's) problem, phrased for the agent's operator."""


class Limits(Protocol):
    """The bounds the codec applies; the collector's `LimitsConfig` provides them."""

    max_snapshot_bytes: int
    max_evidence_bytes: int
    max_evidence_depth: int
    max_future_skew_seconds: float
    max_age_days: float


@dataclass(frozen=True, slots=True)
class DefaultLimits:
    """The collector's default limits, for callers without a collector config."""

    max_snapshot_bytes: int = 256_000
    max_evidence_bytes: int = 4096
    max_evidence_depth: int = 8
    max_future_skew_seconds: float = 300.0
    max_age_days: float = 30.0


# ---------------------------------------------------------------------------- JSON decoding
class _Poison:
    """A JSON number no reader can hold: kept as a marker so only its event is refused."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<number {self.text[:20]}>"


def _parse_int(text: str) -> int | _Poison:
    # 17 digits is beyond 2**53 already; longer ones never reach int() (which refuses more
    # than 4300 digits with a ValueError that would otherwise fail the whole body).
    return int(text) if len(text) <= 20 else _Poison(text)


def decode_body(raw: bytes | str) -> Any:
    """Parse a request body. NaN, Infinity and huge integers become markers that fail only
    the event holding them; raises ValueError if the body is not JSON at all (or nests deeper
    than the parser's stack)."""
    try:
        return json.loads(raw, parse_constant=_Poison, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def check_json(value: Any, what: str, max_depth: int) -> None:
    """Refuse what cannot be stored and read back everywhere: non-finite numbers, integers
    beyond +-2**53, markers from `decode_body`, nesting deeper than `max_depth`.

    Iterative, so a hostile depth costs a bounded loop, not the interpreter's stack; plain
    numbers and strings are passed over with one type test each (this runs for every event)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if type(v) is dict:
            items: Any = v.values()
        elif type(v) is list:
            items = v
        else:
            items = (v,)
            depth -= 1
        if depth > max_depth:
            raise Invalid(f"{what} is nested deeper than {max_depth} levels; send a flatter "
                          "object of measured values")
        for x in items:
            t = type(x)
            if t is str or t is bool or x is None:
                continue
            if t is float:
                if not math.isfinite(x):
                    raise Invalid(f"{what} holds a value that is not a finite number; JSON has"
                                  " no NaN or Infinity: send null or a finite number")
            elif t is int:
                if not -MAX_SAFE_INT <= x <= MAX_SAFE_INT:
                    raise Invalid(f"{what} holds an integer beyond +-2**53; send it as a "
                                  "string")
            elif t is dict or t is list:
                stack.append((x, depth + 1))
            elif t is _Poison:
                if x.text.lstrip("-").isdigit():
                    raise Invalid(f"{what} holds an integer beyond +-2**53 ({len(x.text)} "
                                  "digits); send it as a string")
                raise Invalid(f"{what} holds a value that is not a finite number "
                              f"({x.text[:20]}); JSON has no NaN or Infinity: send null or a "
                              "finite number")
            else:
                raise Invalid(f"{what} holds a {t.__name__}, which JSON cannot carry")


def read_stored_json(text: str | None, max_depth: int = 64) -> tuple[Any, str | None]:
    """Parse JSON text from the database for an answer: (value, None), or ({}, reason) when
    it cannot be served (written by an older collector that did not check it), so that one
    row never fails the page that lists it. The depth bound is the highest a collector may be
    configured to accept (`limits.max_evidence_depth` <= 64), so nothing it stored is hidden."""
    if not text:
        return {}, None
    try:
        value = decode_body(text)
        check_json(value, "evidence", max_depth)
    except (ValueError, TypeError) as exc:
        return {}, f"stored evidence not shown: {str(exc)[:200]}"
    return value, None


# ---------------------------------------------------------------------------- versions, clocks
def peer_version(header: str | None) -> int:
    """The contract version a peer announced; no header means version 1 (before the header
    existed). Raises Invalid outside the window this side accepts."""
    if header is None:
        v = 1
    else:
        try:
            v = int(header.strip())
        except ValueError:
            raise Invalid(f"{VERSION_HEADER} must be an integer, got '{header[:20]}'") from None
    if not MIN_PEER_VERSION <= v <= MAX_PEER_VERSION:
        raise Invalid(
            f"agent speaks contract version {v}; this collector speaks {CONTRACT_VERSION} and "
            f"accepts {MIN_PEER_VERSION}-{MAX_PEER_VERSION}: upgrade the "
            f"{'collector' if v > CONTRACT_VERSION else 'agent'} (events stay on the agent)")
    return v


def clock_offset(sent_at: str | None, received: float) -> float | None:
    """Receipt time minus the agent's send-time stamp: how far the agent's clock is behind
    the collector's (negative: ahead), plus the transit time. None when absent or unreadable:
    a bad header must not cost the batch its events."""
    if not sent_at or len(sent_at) > 40:
        return None
    try:
        dt = datetime.fromisoformat(sent_at.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return received - dt.timestamp()


def effective_time(t: float, received: float, offset: float | None, limits: Limits) -> float:
    """The time the collector orders and times an event by (its tickets, the camera's current
    state), on the collector's clock.

    - The agent's clock is measured (send-time header) and off by more than the allowed skew:
      its stamp is translated by the offset, which keeps the order and spacing of events that
      waited in its outbox through an outage.
    - Measured and right: the stamp is the time, however old (a buffered alert).
    - Not measured (an agent without the header): a stamp more than the allowed skew ahead, or
      older than `max_age_days`, is a wrong clock; the receipt time is used.
    Never later than the receipt (plus the skew): nothing is reported before it happens.
    """
    skew = limits.max_future_skew_seconds
    if offset is not None:
        if abs(offset) > skew:
            t = t + offset
    elif t < received - limits.max_age_days * 86400:
        return received
    return t if t <= received + skew else received


def parse_time(value: Any, what: str, now: float, limits: Limits) -> float:
    """ISO 8601 UTC to epoch seconds. A wrong clock is no reason to refuse an alert, however
    wrong (see `effective_time`): only a string that is not a time is refused."""
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
    try:
        ts = dt.timestamp()
    except (OverflowError, ValueError, OSError):
        raise Invalid(f"{what} '{value[:40]}' is not a representable time") from None
    return ts


# ---------------------------------------------------------------------------- events
@dataclass(slots=True)
class StateChangeIn:
    """A state change as the collector stores it: evidence encoded once (its size checked on
    the encoded form), compound split off the camera id, and `at`, the effective time."""

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
    at: float = 0.0


@dataclass(slots=True)
class HeartbeatIn(Heartbeat):
    """A decoded heartbeat (the agent's own type) plus its effective time `at`; its cameras'
    `last_frame` are on the collector's clock too."""

    at: float = 0.0


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


def _unknown(obj: dict[str, Any], known: frozenset[str], where: str, tolerant: bool) -> None:
    # A newer peer's optional fields are ignored; from our own or an older version an
    # unknown field is a mistake (a typo would otherwise vanish silently).
    if not tolerant and not known.issuperset(obj):
        unknown = sorted(str(k) for k in set(obj) - known)
        raise Invalid(f"unknown field(s) {unknown} in {where}; remove them")


def validate_state_change(
    obj: dict[str, Any], now: float, limits: Limits, *, offset: float | None = None,
    tolerant: bool = False,
) -> StateChangeIn:
    """Judge one state change received at `now` (epoch seconds, the collector's clock)."""
    # Set operations first, details only on failure: this runs for every event of every batch.
    if not _SC_KEYS.issuperset(obj):
        _unknown(obj, _SC_KEYS, "a state change", tolerant)
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
        check_json(evidence, "evidence", limits.max_evidence_depth)
        ev_text = _EVIDENCE_JSON.encode(evidence)
        if len(ev_text) > limits.max_evidence_bytes:
            raise Invalid(f"evidence is larger than {limits.max_evidence_bytes} bytes")
    snap = obj.get("snapshot")
    if snap is not None:
        snap = _jpeg(snap, "snapshot", limits.max_snapshot_bytes)
    return StateChangeIn(eid, camera, camera.split("/", 1)[0], fault, state, t, float(conf),
                         severity, ev_text, snap, effective_time(t, now, offset, limits))


def validate_heartbeat(
    obj: dict[str, Any], agent: str, now: float, limits: Limits, *,
    offset: float | None = None, tolerant: bool = False,
) -> HeartbeatIn:
    """Judge one heartbeat of `agent`'s batch, received at `now`."""
    _unknown(obj, _HB_KEYS, "a heartbeat", tolerant)
    eid = _event_id(obj)
    if obj.get("agent") != agent:
        raise Invalid("heartbeat 'agent' must equal the batch's 'agent'")
    t = parse_time(obj.get("t"), "t", now, limits)
    cams = obj.get("cameras", {})
    if not isinstance(cams, dict):
        raise Invalid("heartbeat 'cameras' must be an object keyed by camera id")
    if len(cams) > MAX_HEARTBEAT_CAMERAS:
        raise Invalid(f"heartbeat lists more than {MAX_HEARTBEAT_CAMERAS} cameras")
    out: dict[str, HeartbeatCamera] = {}
    for cam, info in cams.items():
        _camera(cam)
        if not isinstance(info, dict):
            raise Invalid(f"heartbeat camera '{cam}' must map to an object")
        _unknown(info, _HB_CAMERA_KEYS, f"heartbeat camera '{cam}'", tolerant)
        status = info.get("status", "ok")
        if not isinstance(status, str) or status not in CAMERA_STATUSES:
            raise Invalid(f"camera '{cam}' status must be 'ok' or a fault name")
        faults = info.get("faults", [])
        if not isinstance(faults, list) or (
                faults and any(not isinstance(f, str) or f not in _FAULT_SET for f in faults)):
            raise Invalid(f"camera '{cam}' faults must be a list of known fault names")
        lf = info.get("last_frame")
        last_frame = None if lf is None else effective_time(
            parse_time(lf, f"{cam} last_frame", now, limits), now, offset, limits)
        ref = info.get("reference")
        if ref is not None:
            ref = _jpeg(ref, f"{cam} reference", limits.max_snapshot_bytes)
        out[cam] = HeartbeatCamera(status, list(faults), last_frame, ref)
    return HeartbeatIn(agent, t, out, eid, effective_time(t, now, offset, limits))


def validate_event(
    obj: Any, agent: str, now: float, limits: Limits, *, offset: float | None = None,
    tolerant: bool = False,
) -> StateChangeIn | HeartbeatIn:
    """Validate one element of a batch's `events` list, received at `now`.

    `offset` is the agent's measured clock offset (`clock_offset`), `tolerant` whether the
    sender speaks a newer contract version (its unknown optional fields are then ignored)."""
    if not isinstance(obj, dict):
        raise Invalid("each event must be a JSON object")
    kind = obj.get("kind", "state_change")
    if kind == "state_change":
        return validate_state_change(obj, now, limits, offset=offset, tolerant=tolerant)
    if kind == "heartbeat":
        return validate_heartbeat(obj, agent, now, limits, offset=offset, tolerant=tolerant)
    raise Invalid(f"kind must be one of {', '.join(KINDS)} (default state_change)")


def event_id_of(obj: Any) -> str | None:
    """The event_id to echo in a rejection, only if it is a plausible id."""
    if isinstance(obj, dict):
        eid = obj.get("event_id")
        if isinstance(eid, str) and len(eid) <= 64:
            return eid
    return None


def send_headers(now: float) -> dict[str, str]:
    """The headers an agent puts on every POST: its contract version and its clock's time
    of sending (from which the collector measures the agent's clock offset)."""
    return {VERSION_HEADER: str(CONTRACT_VERSION), SENT_AT_HEADER: iso_utc(now)}
