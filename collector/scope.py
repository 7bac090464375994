"""Who may say what about which camera: an agent speaks only for its own compounds.

A camera id is "compound/camera". An agent token is bound to compounds
(`lenswatch token create --agent ID --compound C`); an event about a camera of any other
compound is rejected on its own (the rest of the batch is stored), and counted per agent in
`/metrics`, because one leaked or misconfigured edge box must not be able to forge or silence
alerts, replace reference pictures, take over cameras or receive commands town-wide.

The check runs per event after validation (so the camera ids are known to be well formed) and
before storage, so nothing an out-of-scope event carries ever reaches the database.
"""

from __future__ import annotations

from collector.auth import Principal
from contract.wire import HeartbeatIn, StateChangeIn


def _allowed(who: Principal) -> str:
    return ", ".join(sorted(who.compounds)) or "no compound (bind one with `lenswatch token bind`)"


def scope_error(item: StateChangeIn | HeartbeatIn, who: Principal) -> str | None:
    """Why `who` may not send `item`, or None if it may.

    A heartbeat is refused whole if it names any camera of another compound: it would
    otherwise make this agent that camera's agent and could replace its reference picture.
    """
    if isinstance(item, StateChangeIn):
        if who.may_speak_for(item.camera):
            return None
        return (f"camera '{item.camera}' belongs to compound '{item.compound}'; this agent's "
                f"token may report only for {_allowed(who)}")
    foreign = sorted(cam for cam in item.cameras if not who.may_speak_for(cam))
    if not foreign:
        return None
    more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
    return (f"heartbeat names camera(s) of another compound: {', '.join(foreign[:3])}{more}; "
            f"this agent's token may report only for {_allowed(who)}")

