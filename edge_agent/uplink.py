"""Deliver the outbox to the collector: batches, bearer token, backoff, idempotent by event_id.

An event leaves the outbox only after the collector has answered for it: accepted or duplicate
(deleted), or refused on its own (moved to the outbox's dead-letter table, never deleted). A
crash between the collector's commit and our delete just means the batch is sent again and the
collector reports those ids as duplicates: at-least-once delivery plus idempotent storage is
exactly-once in effect.

Answers, and why each is treated so (docs/agent.md, "Outbox policy" and "Poison events"):

- Network errors, timeouts, 408 and 429 (and a 503 with Retry-After) are an outage or
  back-pressure, never a verdict on the events: back off exponentially with full jitter up to
  `retry_max`, or exactly as long as `Retry-After` asks. Nothing is dead-lettered.
- 401/403 is a configuration mistake someone will fix: the events are kept and retried at the
  slowest pace, logged as an error each time (dropping alerts for a wrong token loses them).
- Any other 4xx, a 5xx, a 413 for a single event or a 200 whose body is not the contract's
  answer is a *refusal*, which may be the collector's trouble or the batch's. To tell which,
  the agent at once sends a probe: a fresh heartbeat alone. If the collector answers for the
  probe, the batch's content is at fault: it is split in halves, the halves are sent first
  (good halves go through at once), and so on until the event at fault stands alone; refused
  alone `dead_after` times, each time with the probe answered, it is dead-lettered and the
  queue moves on. If the probe fails too, it is an outage: back off, split nothing.
- A 200 that rejects events one by one (the collector's `rejected` list) dead-letters exactly
  those: the collector has judged them alone already.
- Every answer's `Date` header gives the agent its clock offset to the collector, logged when
  it is large and exported as `lenswatch_agent_clock_offset_seconds`. The agent never acts on
  the offset: an event is never dropped for its stamp, at worst it is dead-lettered.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from contract.wire import send_headers
from edge_agent.metrics import AgentMetrics
from edge_agent.outbox import Outbox, Pending
from edge_agent.redact import scrub

log = logging.getLogger("lenswatch.agent.uplink")

#: 4xx answers that say "not now" or "not you", never "not this event".
_NOT_A_VERDICT = {401, 403, 408, 429}
#: A clock further than this from the collector's is logged as a warning (the collector's
#: default tolerance for a stamp in the future is 300 s; warn well before).
CLOCK_WARN_SECONDS = 30.0
#: Longest Retry-After honoured; beyond it the collector is misconfigured, not busy.
MAX_RETRY_AFTER = 3600.0


def retry_after(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        secs = when.timestamp() - time.time()
    return min(MAX_RETRY_AFTER, max(0.0, secs))


class Uplink:
    """One background thread that drains the outbox and polls the collector for commands."""

    def __init__(self, outbox: Outbox, *, url: str, token: str, agent_id: str,
                 metrics: AgentMetrics | None = None, batch_size: int = 100,
                 timeout: float = 10.0, retry_initial: float = 1.0, retry_max: float = 60.0,
                 poll_commands: float = 30.0,
                 on_command: Callable[[dict], bool] | None = None,
                 heartbeat: Callable[[], dict[str, Any]] | None = None,
                 dead_after: int = 2) -> None:
        self.outbox = outbox
        self.url = url.rstrip("/")
        self.agent_id = agent_id
        self.metrics = metrics
        self.batch_size = batch_size
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_commands = poll_commands
        self.on_command = on_command
        self.heartbeat = heartbeat
        self.dead_after = max(1, dead_after)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "lenswatch-agent"},
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._failures = 0
        self.last_success: float | None = None
        self.last_loop = time.monotonic()
        self._next_poll = 0.0
        #: Parts of a refused batch, sent before anything new (their events stay in flight).
        self._isolate: list[list[Pending]] = []
        #: Times an event was refused alone while the collector answered the probe.
        self._lone_refusals: dict[str, int] = {}
        #: Collector's clock minus ours, seconds (from the Date header); None until known.
        self.clock_offset: float | None = None
        self._clock_warned = False
        if metrics:
            metrics.outbox_dead_letters.set_function(outbox.dead_letter_count)
            metrics.outbox_unsaved.set_function(outbox.unsaved)

    def start(self) -> None:
        """Start delivering in the background."""
        self._thread.start()

    def notify(self) -> None:
        """Wake the sender: there is something new in the outbox."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current request; undelivered events stay on disk for next time."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()

    def alive(self) -> bool:
        """Whether the sender thread is running (for /healthz)."""
        return self._thread.is_alive()

    def _backoff(self, slowest: bool = False) -> float:
        self._failures += 1
        if slowest:
            return self.retry_max
        cap = min(self.retry_max, self.retry_initial * 2 ** min(self._failures - 1, 16))
        return random.uniform(cap / 2, cap)

    def _fail(self, reason: str) -> None:
        if self.metrics:
            self.metrics.uplink_failures.labels(reason=reason).inc()

    # -- the clock ----------------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        sent = time.time()
        # The contract's headers: version, and this clock's send time (the collector
        # measures our clock offset from it; see contract.wire).
        resp = self._client.post(f"{self.url}/v1/events", json=body,
                                 headers=send_headers(sent))
        self._read_clock(resp, sent, time.time())
        return resp

    def _read_clock(self, resp: httpx.Response, sent: float, received: float) -> None:
        """Our offset to the collector from its Date header (1 s resolution, so +0.5 s)."""
        date = resp.headers.get("date")
        if not date:
            return
        try:
            theirs = email.utils.parsedate_to_datetime(date).timestamp() + 0.5
        except (TypeError, ValueError):
            return
        offset = theirs - (sent + received) / 2
        first = self.clock_offset is None
        self.clock_offset = offset
        if self.metrics:
            self.metrics.clock_offset.set(round(offset, 3))
        far = abs(offset) > CLOCK_WARN_SECONDS
        if far and not self._clock_warned:
            log.warning("this box's clock is %.0fs %s the collector's (from its Date header);"
                        " events keep their stamps and are never dropped for them, but fix "
                        "NTP", abs(offset), "behind" if offset > 0 else "ahead of")
        elif first and not far:
            log.info("clock offset to the collector: %+.1fs (Date header, +-1s)", offset)
        elif self._clock_warned and not far:
            log.info("clock back within %.0fs of the collector's (%+.1fs)",
                     CLOCK_WARN_SECONDS, offset)
        self._clock_warned = far

    # -- delivery -----------------------------------------------------------------------------

    def flush_once(self) -> float | None:
        """Send one batch; returns seconds to wait before the next try, or None if idle."""
        self.outbox.save_unsaved()
        if self.outbox.write_error:
            # The disk takes no writes: whatever is delivered now could not be deleted and
            # would be sent again and again. Pause; the loop checks the disk every second.
            return 1.0
        isolated = bool(self._isolate)
        group = self._isolate[0] if isolated else self.outbox.take(self.batch_size)
        if not group:
            return None
        ids = [p.event_id for p in group]
        body = {"agent": self.agent_id, "events": [p.body for p in group]}
        try:
            resp = self._post(body)
        except httpx.HTTPError as exc:
            self._hold(group, isolated)
            self._fail("network")
            wait = self._backoff()
            log.warning("collector unreachable (%s: %s); %d events kept, retry in %.1fs",
                        type(exc).__name__, scrub(str(exc)), len(ids), wait)
            return wait
        status = resp.status_code
        pause = retry_after(resp)
        if status in _NOT_A_VERDICT or (status == 503 and pause is not None):
            self._hold(group, isolated)
            auth = status in (401, 403)
            self._fail("auth" if auth else "rate_limited" if status == 429 else
                       "http_5xx" if status >= 500 else "http_4xx")
            wait = self._backoff(slowest=auth)
            if pause is not None:
                wait = pause
            if auth:
                log.error("collector refused the batch with %d (%s): events kept on disk, "
                          "retry in %.0fs; check collector.url and the token",
                          status, scrub(resp.text[:200]), wait)
            else:
                log.warning("collector answered %d%s; %d events kept, retry in %.1fs", status,
                            " with Retry-After" if pause is not None else "", len(ids), wait)
            return wait
        if status == 413 and len(group) > 1:
            self.batch_size = max(1, min(self.batch_size, len(group)) // 2)
            self._fail("too_large")
            self._split(group, isolated)
            log.warning("collector said the batch is too large; batch size now %d",
                        self.batch_size)
            return 0.0
        answer = self._answer(resp) if status == 200 else None
        if answer is None:
            self._fail("bad_answer" if status == 200 else
                       "http_5xx" if status >= 500 else
                       "too_large" if status == 413 else "http_4xx")
            what = "an answer that is not the contract's JSON" if status == 200 else \
                f"{status} ({scrub(resp.text[:200])})"
            return self._refused(group, isolated, status, what)
        if isolated:
            self._isolate.pop(0)
        self._settle(group, *answer)
        return 0.0

    @staticmethod
    def _answer(resp: httpx.Response) -> tuple[list[str], list[str], list[Any]] | None:
        """accepted, duplicates, rejected from a 200, or None if it is not the contract."""
        try:
            answer = resp.json()
            accepted = [str(x) for x in answer["accepted"]]
            duplicates = [str(x) for x in answer["duplicates"]]
            rejected = list(answer.get("rejected", []))
        except (ValueError, KeyError, AttributeError, TypeError):
            return None
        return accepted, duplicates, rejected

    def _hold(self, group: list[Pending], isolated: bool) -> None:
        """Keep a group for the next try: an isolated part stays first in line."""
        if not isolated:
            self.outbox.release([p.event_id for p in group])

    def _split(self, group: list[Pending], isolated: bool) -> None:
        half = len(group) // 2
        parts = [group[:half], group[half:]]
        if isolated:
            self._isolate[0:1] = parts
        else:
            self._isolate[0:0] = parts

    def _probe(self) -> bool:
        """Whether the collector answers a fresh heartbeat sent alone (it is up and judging)."""
        hb = self.heartbeat() if self.heartbeat else None
        body = {"agent": self.agent_id, "events": [hb] if hb else []}
        try:
            resp = self._post(body)
        except httpx.HTTPError:
            return False
        answer = self._answer(resp) if resp.status_code == 200 else None
        if answer is None:
            return False
        if hb is None:
            return True
        accepted, duplicates, rejected = answer
        answered = set(accepted) | set(duplicates) | {
            str(r.get("event_id")) for r in rejected if isinstance(r, dict)}
        return hb["event_id"] in answered

    def _refused(self, group: list[Pending], isolated: bool, status: int,
                 what: str) -> float:
        """A refusal: split or dead-letter if the collector answers others, else back off."""
        if not self._probe():
            self._hold(group, isolated)
            wait = self._backoff()
            log.warning("collector answered %s and did not answer a probe either: an outage, "
                        "not a bad event; %d events kept, retry in %.1fs", what, len(group),
                        wait)
            return wait
        if len(group) > 1:
            self._split(group, isolated)
            log.warning("collector refused a batch of %d with %s but answers other requests: "
                        "splitting it to find the event at fault", len(group), what)
            return 0.0
        (p,) = group
        n = self._lone_refusals.get(p.event_id, 0) + 1
        self._lone_refusals[p.event_id] = n
        if not isolated:
            self._isolate.insert(0, group)
        if n < self.dead_after:
            log.warning("collector refused event %s on its own with %s (%d of %d before it "
                        "is set aside)", p.event_id, what, n, self.dead_after)
            return self.retry_initial
        self._isolate.pop(0)
        del self._lone_refusals[p.event_id]
        self._dead_letter({p.event_id: (status, what)}, [p], "refused")
        return 0.0

    def _dead_letter(self, refused: dict[str, tuple[int | None, str]],
                     group: list[Pending], reason: str) -> None:
        moved = self.outbox.dead_letter(refused)
        by_id = {p.event_id: p for p in group}
        for eid, (_status, error) in refused.items():
            b = by_id[eid].body
            log.error("dead-lettered %s event %s (%s %s %s): the collector refused it: %s. It "
                      "is kept in the outbox; after an upgrade run `lenswatch agent --config "
                      "... --retry-dead-letters`", by_id[eid].kind, eid, b.get("camera", "-"),
                      b.get("fault", "-"), b.get("state", "-"), scrub(error))
        if self.metrics and moved:
            self.metrics.dead_lettered.labels(reason=reason).inc(moved)

    def _settle(self, group: list[Pending], accepted: list[str], duplicates: list[str],
                rejected: list[Any]) -> None:
        """Apply a contract answer: delete what was stored, dead-letter what was rejected."""
        known = {p.event_id for p in group}
        refused: dict[str, tuple[int | None, str]] = {}
        for r in rejected:
            eid = str(r.get("event_id")) if isinstance(r, dict) else None
            if eid in known:
                refused[eid] = (None, str(r.get("error")))
        stored = [e for e in accepted + duplicates if e in known]
        self.outbox.remove(stored)
        for eid in known:
            self._lone_refusals.pop(eid, None)
        self._dead_letter(refused, group, "rejected")
        missing = known - set(stored) - set(refused)
        if missing:
            self.outbox.release(list(missing))
            log.warning("collector did not answer for %d events; they will be sent again",
                        len(missing))
        if self.metrics:
            self.metrics.uplink_events.labels(result="accepted").inc(len(accepted))
            self.metrics.uplink_events.labels(result="duplicate").inc(len(duplicates))
            self.metrics.uplink_events.labels(result="rejected").inc(len(refused))
        self._failures = 0
        self.last_success = time.time()

    def poll_commands_once(self) -> None:
        """Fetch pending commands (e.g. reset_baseline) and ack the ones carried out."""
        if self.on_command is None:
            return
        try:
            sent = time.time()
            resp = self._client.get(f"{self.url}/v1/agents/{self.agent_id}/commands")
            self._read_clock(resp, sent, time.time())
            if resp.status_code != 200:
                return
            commands = resp.json()
            if isinstance(commands, dict):
                commands = commands.get("commands", [])
            for cmd in commands:
                if isinstance(cmd, dict) and self.on_command(cmd):
                    self._client.post(
                        f"{self.url}/v1/agents/{self.agent_id}/commands/{cmd['id']}/ack")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.debug("command poll failed: %s", scrub(str(exc)))

    def _run(self) -> None:
        wait: float | None = 0.0
        while not self._stop.is_set():
            self.last_loop = time.monotonic()
            try:
                if time.monotonic() >= self._next_poll:
                    self._next_poll = time.monotonic() + self.poll_commands
                    self.poll_commands_once()
                wait = self.flush_once()
            except Exception:  # noqa: BLE001 - the sender must outlive any single failure
                log.exception("uplink loop error")
                wait = self._backoff()
            if self.metrics:
                self.metrics.outbox_depth.set(self.outbox.depth())
            if wait == 0.0:
                continue
            if wait is None:
                # Idle: new events wake us at once.
                self._wake.wait(1.0)
                self._wake.clear()
            else:
                # Backing off: new events must not cut the backoff short, only stop() may.
                self._stop.wait(wait)
