"""The contract's version and the window of peer versions this side accepts.

Version 1 is the contract before it had a number (agents that send no version header).
Version 2 adds the `X-Lenswatch-Contract` and `X-Lenswatch-Sent-At` headers and the rule that
unknown fields from a newer peer are ignored; the events' fields are those of version 1.
"""

from __future__ import annotations

CONTRACT_VERSION = 2
#: 636 edge boxes are never upgraded at once: a collector accepts agents one version older
#: and one newer than itself.
MIN_PEER_VERSION = CONTRACT_VERSION - 1
MAX_PEER_VERSION = CONTRACT_VERSION + 1
