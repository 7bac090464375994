"""Re-export of the event contract, which now lives in the `contract` package.

Kept only so code written against `pipeline.events` (branches in flight) still imports; new
code imports from `contract`.
"""

from contract import (
           DEFAULT_SEVERITY,
           FAULTS,
           PICTURE_FAULTS,
           SEVERITIES,
           STATES,
           STREAM_FAULTS,
           StateChange,
           iso_utc,
)

__all__ = ["DEFAULT_SEVERITY", "FAULTS", "PICTURE_FAULTS", "SEVERITIES", "STATES",
           "STREAM_FAULTS", "StateChange", "iso_utc"]
