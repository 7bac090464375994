"""The event contract between the pipeline, the edge agent and the collector.

Imported by `pipeline`, `edge_agent` and `collector`; it imports none of them (only the
standard library), so either end can be built, tested and upgraded on its own and still agree
with the other on the wire.

- `contract.names`: fault, state, severity and kind names, id patterns (one list each).
- `contract.events`: `StateChange` (the pipeline's output), `Heartbeat` (the agent's summary).
- `contract.wire`: the codec: decoding a batch, judging each event alone, the clock rule.
- `contract.version`: `CONTRACT_VERSION` and the accepted window of peer versions.

Compatibility rule (636 edge boxes are never upgraded at once):

1. A collector accepts agents of its own contract version, one older and one newer. An agent
   announces its version in the `X-Lenswatch-Contract` header of every POST; no header means
   version 1. A version outside the window refuses the whole batch (422), which the agent
   keeps on disk, so nothing is lost while one side is upgraded.
2. Fields added in a later version are optional. A peer ignores fields it does not know when
   they come from a NEWER version; from its own or an older version an unknown field is a
   mistake (a typo) and the event is refused, naming the field.
3. Required fields stay strict in every version: an event without one is refused, whatever
   version sent it. A field may become required only once every version in the window sends
   it (two versions after it was added).
4. Meaning never changes under a name: a field whose meaning changes gets a new name.
5. New information about the transfer itself (version, send time) travels in headers, which
   peers of any version ignore when they do not know them.
"""

from __future__ import annotations

from contract.events import Heartbeat, HeartbeatCamera, StateChange, iso_utc
from contract.names import (
    CAMERA_STATUSES,
    DEFAULT_SEVERITY,
    FAULTS,
    KINDS,
    PICTURE_FAULTS,
    RESERVED_FAULTS,
    SEVERITIES,
    STATES,
    STREAM_FAULTS,
)
from contract.version import CONTRACT_VERSION, MAX_PEER_VERSION, MIN_PEER_VERSION

__all__ = [
    "CAMERA_STATUSES", "CONTRACT_VERSION", "DEFAULT_SEVERITY", "FAULTS", "KINDS",
    "MAX_PEER_VERSION", "MIN_PEER_VERSION", "PICTURE_FAULTS", "RESERVED_FAULTS", "SEVERITIES",
    "STATES", "STREAM_FAULTS", "Heartbeat", "HeartbeatCamera", "StateChange", "iso_utc",
]
