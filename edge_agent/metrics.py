"""Prometheus metrics and /healthz, served by a tiny threaded HTTP server.

Why not uvicorn here: the agent is threads around blocking PyAV calls, and the only two pages
it serves are read-only snapshots; a stdlib server thread costs nothing and adds no event loop.
Metric names follow the Frigate style: one series per camera under a `camera` label, whose
value is the public "compound/camera" id and never a URL, so no credential can reach a label.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("lenswatch.agent.metrics")

_DECODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
_DETECT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


class AgentMetrics:
    """Every series the agent exports, on a private registry (tests run several agents)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.info = Gauge("lenswatch_agent_info", "Agent identity and chosen ingest mode.",
                          ["agent", "mode"], registry=r)
        self.samples = Counter("lenswatch_agent_samples", "Pictures sampled and analysed.",
                               ["camera"], registry=r)
        self.decode_seconds = Histogram(
            "lenswatch_agent_decode_seconds",
            "CPU seconds of demux and decode spent per sampled picture.",
            ["camera"], buckets=_DECODE_BUCKETS, registry=r)
        self.detect_seconds = Histogram(
            "lenswatch_agent_detect_seconds",
            "CPU seconds of pipeline analysis per sampled picture (batch shared out).",
            ["camera"], buckets=_DETECT_BUCKETS, registry=r)
        self.fault_state = Gauge("lenswatch_agent_fault_state",
                                 "1 while the fault is raised on the camera, else 0.",
                                 ["camera", "fault"], registry=r)
        self.camera_up = Gauge("lenswatch_agent_camera_up",
                               "1 while the camera delivers pictures within its grace period.",
                               ["camera"], registry=r)
        self.last_frame_age = Gauge("lenswatch_agent_last_frame_age_seconds",
                                    "Seconds since the camera's last decoded picture.",
                                    ["camera"], registry=r)
        self.reconnects = Counter("lenswatch_agent_reconnects",
                                  "Connection attempts after a failure, by failure reason.",
                                  ["camera", "reason"], registry=r)
        self.stalls = Counter("lenswatch_agent_stalls",
                              "Times a connected camera stopped delivering pictures.",
                              ["camera"], registry=r)
        self.reconnects_hour = Gauge("lenswatch_agent_connection_reconnects_last_hour",
                                     "Reconnects over the last hour (connection quality).",
                                     ["camera"], registry=r)
        self.stalls_hour = Gauge("lenswatch_agent_connection_stalls_last_hour",
                                 "Stalls over the last hour (connection quality).",
                                 ["camera"], registry=r)
        self.outbox_depth = Gauge("lenswatch_agent_outbox_depth",
                                  "Events on disk waiting for delivery.", registry=r)
        self.outbox_dropped = Counter("lenswatch_agent_outbox_dropped",
                                      "Events removed without delivery, by policy reason.",
                                      ["reason"], registry=r)
        self.outbox_dead_letters = Gauge(
            "lenswatch_agent_outbox_dead_letters",
            "Events the collector refused on their own, kept in the outbox's dead-letter table"
            " (retry with --retry-dead-letters).", registry=r)
        self.dead_lettered = Counter(
            "lenswatch_agent_dead_lettered",
            "Events moved to the dead-letter table: rejected per event, or refused alone.",
            ["reason"], registry=r)
        self.outbox_unsaved = Gauge(
            "lenswatch_agent_outbox_unsaved",
            "State changes held in memory because the outbox could not write (disk full).",
            registry=r)
        self.clock_offset = Gauge(
            "lenswatch_agent_clock_offset_seconds",
            "The collector's clock minus this box's, from its Date header (+-1 s).",
            registry=r)
        self.uplink_failures = Counter("lenswatch_agent_uplink_failures",
                                       "Failed deliveries to the collector, by reason.",
                                       ["reason"], registry=r)
        self.uplink_events = Counter("lenswatch_agent_uplink_events",
                                     "Events the collector answered, by result.",
                                     ["result"], registry=r)
        self.ingest_mode_cameras = Gauge("lenswatch_agent_cameras",
                                         "Cameras configured on this agent.", registry=r)

    def render(self) -> bytes:
        """The exposition text, as served on /metrics."""
        return generate_latest(self.registry)


class StatusServer:
    """Serves /metrics and /healthz on a background thread."""

    def __init__(self, listen: str, metrics: AgentMetrics,
                 health: Callable[[], tuple[bool, dict[str, Any]]],
                 before_scrape: Callable[[], None] | None = None) -> None:
        host, _, port = listen.rpartition(":")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    if outer.before_scrape:
                        try:
                            outer.before_scrape()
                        except Exception:  # noqa: BLE001 - a scrape must still answer
                            log.exception("refreshing gauges failed")
                    self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    ok, body = health()
                    self._send(200 if ok else 503, json.dumps(body).encode(),
                               "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self.before_scrape = before_scrape
        self.httpd = ThreadingHTTPServer((host, int(port)), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="status",
                                        daemon=True)

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
