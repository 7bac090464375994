"""A small real HTTP proxy between the agent and the real collector that injects faults.

Why a proxy and not a fake collector: the faults under test (a 500, a 429, a malformed 200, a
slow answer) happen between two real processes, and what must hold is what the *real*
collector ends up storing. The proxy forwards every request to the collector unless the
test's rule says otherwise, and records every POST /v1/events it saw (time, event ids, the
status it answered) so a test can check timing, e.g. that a Retry-After was honoured.

A rule is `rule(req, forward) -> Answer | None`: return None to forward untouched, or build
the answer yourself, calling `forward()` first when the collector should really store the
batch (a malformed or slow answer to a batch that was stored).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Answer:
    """What the proxy sends back to the agent."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def of(cls, resp: httpx.Response) -> Answer:
        keep = {k: v for k, v in resp.headers.items()
                if k.lower() in ("content-type", "date", "retry-after")}
        return cls(resp.status_code, resp.content, keep)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Answer:
        return cls(status, json.dumps(payload).encode(),
                   {"content-type": "application/json", **headers})


@dataclass
class Request:
    """One request as the proxy saw it."""

    method: str
    path: str
    body: bytes
    at: float

    @property
    def events(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.body).get("events", []))
        except (ValueError, AttributeError):
            return []

    @property
    def ids(self) -> list[str]:
        return [str(e.get("event_id")) for e in self.events]

    def has_camera(self, camera: str) -> bool:
        return any(e.get("camera") == camera for e in self.events)


Rule = Callable[[Request, Callable[[], httpx.Response]], "Answer | None"]


class FaultProxy:
    """ThreadingHTTPServer on loopback, forwarding to `upstream` through `rule`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule: Rule | None = None
        self.posts: list[tuple[Request, int]] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                req = Request(self.command, self.path, self.rfile.read(n) if n else b"",
                              time.monotonic())
                answer = outer._serve(req, dict(self.headers.items()))
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:  # the agent gave up (its timeout): that is the test
                    pass

            do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def log_date_time_string(self) -> str:  # pragma: no cover - unused
                return ""

            def send_response(self, code: int, message: str | None = None) -> None:
                # Our own Date/Server headers would hide the collector's Date header.
                self.log_request(code)
                self.send_response_only(code, message)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, req: Request, headers: dict[str, str]) -> Answer:
        fwd_headers = {k: v for k, v in headers.items()
                       if k.lower() in ("authorization", "content-type", "user-agent")
                       or k.lower().startswith("x-lenswatch")}

        def forward() -> httpx.Response:
            return self._client.request(req.method, self.upstream + req.path,
                                        content=req.body, headers=fwd_headers)

        answer = None
        rule = self.rule
        if rule is not None:
            answer = rule(req, forward)
        if answer is None:
            try:
                answer = Answer.of(forward())
            except httpx.HTTPError:
                answer = Answer.json(502, {"detail": "collector unreachable"})
        if req.method == "POST" and req.path == "/v1/events":
            with self._lock:
                self.posts.append((req, answer.status))
        return answer

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._client.close()
