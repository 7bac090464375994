"""Face recognition: an interface only, and it stays off without a recorded approval.

Recognising residents' faces is a legal and policy decision, not an engineering one. This
module defines what a recogniser would implement so that a deployment that has that decision
can bring its own; lenswatch ships no implementation that computes anything from a face.
Enabling requires a `face_recognition:` config section naming the approving authority, the
decision reference and its date; even then, the only recogniser shipped refuses to run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class FaceRecognitionDisabled(RuntimeError):
    """Raised whenever anything tries to compute face data without an approved recogniser."""


@dataclass(frozen=True, slots=True)
class Approval:
    """The recorded legal and policy decision that allows face recognition at all."""

    authority: str
    decision_ref: str
    date: dt.date


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """What a recogniser would report: never produced by anything lenswatch ships."""

    identity: str
    score: float
    box: tuple[int, int, int, int]


class FaceRecognizer(Protocol):
    """What a deployment's own recogniser must implement."""

    def recognise(self, gray: np.ndarray) -> list[FaceMatch]:
        """Faces found in a gray picture."""
        ...


class RefusingRecognizer:
    """The only recogniser shipped: it computes nothing and says why."""

    def __init__(self, approval: Approval | None = None) -> None:
        self.approval = approval

    def recognise(self, gray: np.ndarray) -> list[FaceMatch]:
        """Always refuses: lenswatch computes no face data."""
        if self.approval is None:
            raise FaceRecognitionDisabled(_NO_APPROVAL)
        raise FaceRecognitionDisabled(
            f"face recognition was approved by {self.approval.authority} "
            f"({self.approval.decision_ref}, {self.approval.date.isoformat()}), but lenswatch "
            "ships no recogniser: the deployment must provide its own FaceRecognizer")


_NO_APPROVAL = (
    "face recognition is disabled: it needs a recorded legal and policy decision. Add a "
    "`face_recognition:` section with `enabled: true`, `approved_by` (the approving "
    "authority), `decision_ref` (the decision's reference) and `decision_date` (YYYY-MM-DD)")


def from_config(section: dict[str, Any] | None, where: str = "config") -> RefusingRecognizer | None:
    """Validate a `face_recognition:` config section; None when face recognition is off.

    Start-up calls this: `enabled: true` without the three approval keys is an error that
    stops the process, so nobody can switch it on by accident or by a one-line change.
    """
    if not section or not section.get("enabled", False):
        unknown = set(section or {}) - {"enabled", "approved_by", "decision_ref",
                                        "decision_date"}
        if unknown:
            raise ValueError(f"{where}: face_recognition: unknown key(s) {sorted(unknown)}")
        return None
    allowed = {"enabled", "approved_by", "decision_ref", "decision_date"}
    unknown = set(section) - allowed
    if unknown:
        raise ValueError(f"{where}: face_recognition: unknown key(s) {sorted(unknown)}; "
                         f"allowed: {sorted(allowed)}")
    missing = [k for k in ("approved_by", "decision_ref", "decision_date")
               if not str(section.get(k) or "").strip()]
    if missing:
        raise ValueError(f"{where}: face_recognition is enabled but {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} missing. {_NO_APPROVAL}")
    raw = section["decision_date"]
    try:
        date = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"{where}: face_recognition.decision_date {raw!r} is not a date; "
                         "write it as YYYY-MM-DD") from None
    return RefusingRecognizer(Approval(str(section["approved_by"]), str(section["decision_ref"]),
                                       date))
