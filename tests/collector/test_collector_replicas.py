"""Real uvicorn processes: two collectors over one PostgreSQL behave as one.

Events ingested by either replica reach the live stream of both; the same batch posted to both
at once is stored once; both sweepers run and still no camera gets two tickets; webhooks for
those tickets are delivered once each, signed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from collector_helpers import launch_server, make_tokens, state_change, wait_ready
from sqlalchemy import func, select

from collector.schema import events, tickets
from collector.store import open_store
from collector.webhooks import sign
from tests.collector.conftest import _truncate_pg

SECRET = "s3cret-webhook-key-0123456789"


class Receiver:
    """A real HTTP webhook receiver; fails the first `fail_first` requests with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_left = fail_first
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    fail = outer.fail_left > 0
                    if fail:
                        outer.fail_left -= 1
                    else:
                        outer.got.append((dict(self.headers), body))
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()


def sse_collector(base: str, token: str, out: list[dict], ready: threading.Event,
                  stop: threading.Event) -> None:
    try:
        with httpx.Client(timeout=httpx.Timeout(5, read=30)) as c, c.stream(
            "GET", base + "/v1/stream", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    out.append(json.loads(line[6:]))
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the server going away at the end of the test is expected
            raise


@pytest.fixture
def pg_url(pg_schema_url: str) -> str:
    _truncate_pg(pg_schema_url)
    return pg_schema_url


def test_two_collectors_one_postgresql(pg_url, tmp_path):
    store = open_store(pg_url, pool_size=1)
    tok = make_tokens(store)
    rcv = Receiver()
    cfg = (
        "sweep_interval_seconds: 0.2\nstream_poll_seconds: 0.2\nwebhook_poll_seconds: 0.2\n"
        "tickets: {open_after_seconds: 0, auto_close_after_seconds: null}\n"
        f"webhooks: [{{url: '{rcv.url}', secret: '{SECRET}', events: [opened]}}]\n"
    )
    a = launch_server(pg_url, tmp_path, cfg)  # both start (and migrate) at the same time
    b = launch_server(pg_url, tmp_path, cfg)
    wait_ready(a)
    wait_ready(b)
    stop = threading.Event()
    try:
        seen = {a.base: [], b.base: []}
        threads = []
        for base in (a.base, b.base):
            ready = threading.Event()
            th = threading.Thread(target=sse_collector,
                                  args=(base, tok["operator"], seen[base], ready, stop),
                                  daemon=True)
            th.start()
            assert ready.wait(10)
            threads.append(th)
        ah = {"Authorization": f"Bearer {tok['agent']}"}
        t = time.time() - 10
        # One event into each replica: both dashboards (streams) must see both.
        ev_a, ev_b = state_change("c0417/cam01", t=t), state_change("c0417/cam02", t=t)
        t_post = time.monotonic()
        assert httpx.post(a.base + "/v1/events", json={"agent": "c0417", "events": [ev_a]},
                          headers=ah).json()["accepted"] == [ev_a["event_id"]]
        assert httpx.post(b.base + "/v1/events", json={"agent": "c0417", "events": [ev_b]},
                          headers=ah).json()["accepted"] == [ev_b["event_id"]]
        want = {ev_a["event_id"], ev_b["event_id"]}
        while time.monotonic() - t_post < 2.0:
            if all(want <= {e["event_id"] for e in seen[x]} for x in seen):
                break
            time.sleep(0.05)
        for base, evs in seen.items():
            assert want <= {e["event_id"] for e in evs}, f"{base} stream missed events"
        # The same 30-camera batch sent to both replicas at the same moment, 3 times each.
        batch = [state_change(f"c0417/cam{i:02d}", fault="signal_loss", t=t)
                 for i in range(10, 40)]
        body = {"agent": "c0417", "events": batch}
        with cf.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda base: httpx.post(base + "/v1/events", json=body, headers=ah,
                                        timeout=30).json(),
                [a.base, b.base] * 3))
        accepted = [eid for r in results for eid in r["accepted"]]
        assert sorted(accepted) == sorted(e["event_id"] for e in batch)
        assert all(not r["rejected"] for r in results)
        with store.reading() as conn:
            assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 32
        # Both sweepers race to open tickets for 32 cameras: exactly one each.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with store.reading() as conn:
                n = conn.execute(select(func.count()).select_from(tickets)).scalar_one()
            if n >= 32 and len(rcv.got) >= 32:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # let any (wrong) second ticket or duplicate delivery show up
        with store.reading() as conn:
            per_cam = conn.execute(
                select(tickets.c.camera, func.count()).group_by(tickets.c.camera)).all()
        assert len(per_cam) == 32 and all(n == 1 for _, n in per_cam)
        ids = []
        for headers, payload in rcv.got:
            hdr = {k.lower(): v for k, v in headers.items()}
            assert hdr["x-lenswatch-signature"] == sign(
                SECRET, hdr["x-lenswatch-timestamp"], payload)
            doc = json.loads(payload)
            assert doc["event"] == "opened"
            ids.append(doc["ticket"]["id"])
        assert sorted(ids) == sorted(set(ids)) and len(ids) == 32
        # Both replicas' dashboards list the same tickets.
        oh = {"Authorization": f"Bearer {tok['operator']}"}
        ta = httpx.get(a.base + "/v1/tickets", headers=oh).json()
        tb = httpx.get(b.base + "/v1/tickets", headers=oh).json()
        assert [x["id"] for x in ta] == [x["id"] for x in tb]
    finally:
        stop.set()
        a.proc.terminate()  # stop both at once; each waits out its open streams
        b.proc.terminate()
        a.stop()
        b.stop()
        rcv.close()
        store.dispose()
