"""The contract's names: faults, states, severities, event kinds and id patterns.

Written once here because every part that handles an event needs the same lists: the pipeline
raises these faults, the agent's config accepts them, the collector validates, counts and
publishes them (OpenAPI, `/v1/meta`, metrics). A fault added here is known everywhere it
travels (ARCHITECTURE.md, "Fault names").
"""

from __future__ import annotations

#: Faults judged from pictures by `pipeline.health`.
PICTURE_FAULTS: tuple[str, ...] = (
    "blocked", "blur", "ripple", "frozen", "overexposed", "moved", "dark",
)
#: Faults the agent raises about the stream itself (no pictures at all).
STREAM_FAULTS: tuple[str, ...] = ("signal_loss",)
#: Reserved by ARCHITECTURE.md "where built": a collector accepts them today so that an agent
#: that builds them later is not rejected.
RESERVED_FAULTS: tuple[str, ...] = ("color_cast", "noise")
#: Every fault name a collector must accept.
FAULTS: tuple[str, ...] = STREAM_FAULTS + PICTURE_FAULTS + RESERVED_FAULTS

STATES: tuple[str, ...] = ("raised", "cleared")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")

#: How bad a fault is for the crews: a camera that shows nothing usable is critical. `dark`
#: stays minor: a dark picture with the lights out is often the night, not a broken camera,
#: and a cap on the lens is judged `blocked` (critical) anyway.
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

#: The kinds of event an agent sends; a body without `kind` is a state change.
KINDS: tuple[str, ...] = ("state_change", "heartbeat")
#: What a heartbeat may say about one camera.
CAMERA_STATUSES: tuple[str, ...] = ("ok",) + FAULTS

#: An agent id, and a camera id `compound/camera`: bounded ASCII, safe in URLs, file names,
#: metric labels and SQL columns of 64 / 128 characters.
AGENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
CAMERA_PATTERN = r"^[A-Za-z0-9_.-]{1,64}/[A-Za-z0-9_./-]{1,63}$"
