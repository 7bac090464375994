"""Deliver the outbox to the collector: batches, bearer token, backoff, idempotent by event_id.

An event leaves the outbox only after the collector has answered for it (accepted, duplicate
or rejected). A crash between the collector's commit and our delete just means the batch is
sent again and the collector reports those ids as duplicates: at-least-once delivery plus
idempotent storage is exactly-once in effect.

Retry policy (the collector's contract: retry on 5xx and network errors only): those back off
exponentially with full jitter up to `retry_max`. A 401/403 or another 4xx for the whole batch
is not retried "as is" but the events are kept: a wrong token is a config mistake that someone
will fix, and dropping alerts meanwhile would break the rule that nothing is lost. Such a batch
is retried at the slowest pace (`retry_max`) and logged as an error every time. A 413 halves
the batch size.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import httpx

from contract.wire import send_headers
from edge_agent.metrics import AgentMetrics
from edge_agent.outbox import Outbox
from edge_agent.redact import scrub

log = logging.getLogger("lenswatch.agent.uplink")


class Uplink:
    """One background thread that drains the outbox and polls the collector for commands."""

    def __init__(self, outbox: Outbox, *, url: str, token: str, agent_id: str,
                 metrics: AgentMetrics | None = None, batch_size: int = 100,
                 timeout: float = 10.0, retry_initial: float = 1.0, retry_max: float = 60.0,
                 poll_commands: float = 30.0,
                 on_command: Callable[[dict], bool] | None = None) -> None:
        self.outbox = outbox
        self.url = url.rstrip("/")
        self.agent_id = agent_id
        self.metrics = metrics
        self.batch_size = batch_size
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_commands = poll_commands
        self.on_command = on_command
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

    def flush_once(self) -> float | None:
        """Send one batch; returns seconds to wait before the next try, or None if idle."""
        batch = self.outbox.take(self.batch_size)
        if not batch:
            return None
        ids = [p.event_id for p in batch]
        body = {"agent": self.agent_id, "events": [p.body for p in batch]}
        try:
            # The contract's headers: version, and this clock's send time (the collector
            # measures our clock offset from it; see contract.wire).
            resp = self._client.post(f"{self.url}/v1/events", json=body,
                                     headers=send_headers(time.time()))
        except httpx.HTTPError as exc:
            self.outbox.release(ids)
            self._fail("network")
            wait = self._backoff()
            log.warning("collector unreachable (%s: %s); %d events kept, retry in %.1fs",
                        type(exc).__name__, scrub(str(exc)), len(ids), wait)
            return wait
        if resp.status_code >= 500:
            self.outbox.release(ids)
            self._fail("http_5xx")
            wait = self._backoff()
            log.warning("collector answered %d; %d events kept, retry in %.1fs",
                        resp.status_code, len(ids), wait)
            return wait
        if resp.status_code == 413 and self.batch_size > 1:
            self.outbox.release(ids)
            self.batch_size = max(1, self.batch_size // 2)
            self._fail("too_large")
            log.warning("collector said the batch is too large; batch size now %d",
                        self.batch_size)
            return 0.0
        if resp.status_code != 200:
            self.outbox.release(ids)
            reason = "auth" if resp.status_code in (401, 403) else "http_4xx"
            self._fail(reason)
            wait = self._backoff(slowest=True)
            log.error("collector refused the batch with %d (%s): events kept on disk, "
                      "retry in %.0fs; check collector.url and the token",
                      resp.status_code, scrub(resp.text[:200]), wait)
            return wait
        try:
            answer = resp.json()
            accepted = [str(x) for x in answer.get("accepted", [])]
            duplicates = [str(x) for x in answer.get("duplicates", [])]
            rejected = list(answer.get("rejected", []))
        except (ValueError, AttributeError, TypeError):
            self.outbox.release(ids)
            self._fail("bad_answer")
            wait = self._backoff()
            log.error("collector's answer is not the contract's JSON; retry in %.1fs", wait)
            return wait
        known = set(ids)
        rejected_ids = []
        for r in rejected:
            eid = str(r.get("event_id")) if isinstance(r, dict) else None
            if eid in known:
                rejected_ids.append(eid)
                log.error("collector rejected event %s: %s", eid,
                          scrub(str(r.get("error"))))
        done = [e for e in accepted + duplicates if e in known] + rejected_ids
        self.outbox.remove(done, rejected=len(rejected_ids))
        missing = known - set(done)
        if missing:
            self.outbox.release(list(missing))
            log.warning("collector did not answer for %d events; they will be sent again",
                        len(missing))
        if self.metrics:
            self.metrics.uplink_events.labels(result="accepted").inc(len(accepted))
            self.metrics.uplink_events.labels(result="duplicate").inc(len(duplicates))
            self.metrics.uplink_events.labels(result="rejected").inc(len(rejected_ids))
            if rejected_ids:
                self.metrics.outbox_dropped.labels(reason="rejected").inc(len(rejected_ids))
        self._failures = 0
        self.last_success = time.time()
        return 0.0

    def poll_commands_once(self) -> None:
        """Fetch pending commands (e.g. reset_baseline) and ack the ones carried out."""
        if self.on_command is None:
            return
        try:
            resp = self._client.get(f"{self.url}/v1/agents/{self.agent_id}/commands")
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
