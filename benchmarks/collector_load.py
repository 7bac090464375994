"""Collector ingest load benchmark: 636 agents over loopback, then a signal_loss storm.

    python benchmarks/collector_load.py                 # SQLite and PostgreSQL, default load
    python benchmarks/collector_load.py --db sqlite --duration 10

For each database it starts a real collector process (`python -m collector collector`), creates
one agent token per compound, and runs:

1. steady  - every agent posts a batch every 1/--rate seconds (open loop, random phase), for
             --duration seconds; --retry-fraction of batches are sent twice, as an agent does
             after a lost answer.
2. max     - every agent posts back to back (closed loop) for --max-duration seconds: the
             ceiling, with the latency that comes with it.
3. storm   - every camera of --storm-compounds compounds raises signal_loss at the same moment
             (one batch per agent, all sent at once).

Then it checks every event id it sent is stored exactly once, and measures the raw insert rate
of the same rows into the same table with no HTTP, validation or upserts (same process, same
run) as the baseline the ratio is taken against. Latencies are client-observed (send to last
byte), measured by a client sharing the same 2 cores, so they include client scheduling.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from collector.auth import hash_token  # noqa: E402
from collector.schema import events, metadata, tokens  # noqa: E402
from collector.store import migrate, open_store  # noqa: E402
from contract import DEFAULT_SEVERITY, PICTURE_FAULTS, iso_utc  # noqa: E402

PG_URL = os.environ.get("LENSWATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    sent_events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    requests: int = 0
    wall: float = 0.0
    max_lag: float = 0.0

    def row(self) -> dict[str, str]:
        lat = sorted(self.latencies)
        q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000) if lat else (
            lambda p: float("nan"))
        return {
            "phase": self.name,
            "requests": str(self.requests),
            "events": str(self.sent_events),
            "stored": str(self.accepted),
            "dups": str(self.duplicates),
            "errors": str(self.errors + self.rejected),
            "events/s": f"{self.accepted / self.wall:,.0f}" if self.wall else "-",
            "p50 ms": f"{q(0.50):.1f}",
            "p99 ms": f"{q(0.99):.1f}",
            "max ms": f"{lat[-1] * 1000:.1f}" if lat else "-",
            "client lag ms": f"{self.max_lag * 1000:.0f}",
        }


def make_event(camera: str, fault: str, state: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "camera": camera, "fault": fault, "state": state,
        "t": iso_utc(time.time()), "confidence": round(random.uniform(0.6, 1.0), 3),
        "severity": DEFAULT_SEVERITY[fault], "evidence": {"score": round(random.random(), 3)},
    }


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, parsed by hand.

    The client shares the 2 cores with the collector, so it is kept lean: a protocol instead
    of asyncio streams (no reader/writer objects, no drain per request), one response at a
    time. The response is complete at its last byte, which is when latency is taken.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.need = -1  # body bytes still expected once the head is parsed
        self.status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            self.status = int(head.split(b" ", 2)[1])
            self.need = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    self.need = int(line[15:])
        if len(self.buf) >= self.need and self.waiter is not None:
            t = time.perf_counter()
            body = bytes(self.buf[:self.need])
            del self.buf[:self.need]
            self.need = -1
            if not self.waiter.done():
                self.waiter.set_result((t, self.status, body))

    async def request(self, raw: bytes) -> tuple[float, int, bytes]:
        """Send one request; returns (time of the answer's last byte, status, body)."""
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


class Agent:
    """One simulated compound agent with its own keep-alive connection."""

    def __init__(self, idx: int, token: str, cameras: int) -> None:
        self.id = f"c{idx:04d}"
        self.token = token
        self.cameras = [f"{self.id}/cam{j:02d}" for j in range(cameras)]
        self.raised: set[tuple[str, str]] = set()
        self.conn: _Conn | None = None
        self.sent_ids: list[str] = []

    def batch(self, n: int, heartbeat: bool) -> tuple[bytes, int, list[str]]:
        evs = []
        for _ in range(n):
            cam = random.choice(self.cameras)
            fault = random.choice(PICTURE_FAULTS)
            key = (cam, fault)
            state = "cleared" if key in self.raised else "raised"
            self.raised.symmetric_difference_update({key})
            evs.append(make_event(cam, fault, state))
        if heartbeat:
            evs.append({"kind": "heartbeat", "event_id": str(uuid.uuid4()), "agent": self.id,
                        "t": iso_utc(time.time()),
                        "cameras": {c: {"status": "ok", "faults": [],
                                        "last_frame": iso_utc(time.time())}
                                    for c in self.cameras}})
        ids = [e["event_id"] for e in evs]
        return self.request(evs), len(evs), ids

    def request(self, evs: list[dict]) -> bytes:
        body = json.dumps({"agent": self.id, "events": evs}, separators=(",", ":")).encode()
        head = (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                f"{self.token}\r\nContent-Type: application/json\r\nContent-Length: "
                f"{len(body)}\r\n\r\n").encode()
        return head + body

    async def connect(self, port: int) -> None:
        self.port = port
        _, self.conn = await asyncio.get_running_loop().create_connection(
            _Conn, "127.0.0.1", port)

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()

    async def post(self, raw: bytes) -> tuple[float, int, dict | None]:
        for attempt in range(3):
            try:
                return await self._post(raw)
            except ConnectionError:
                # The server closed an idle keep-alive connection: reconnect and resend, as
                # an agent would (event ids make the resend harmless).
                if attempt == 2:
                    raise
                await self.connect(self.port)
        raise AssertionError("unreachable")

    async def _post(self, raw: bytes) -> tuple[float, int, dict | None]:
        assert self.conn is not None
        t0 = time.perf_counter()
        t_last, status, body = await self.conn.request(raw)
        return t_last - t0, status, json.loads(body) if status == 200 else None


def record(phase: Phase, dt: float, status: int, res: dict | None, n: int) -> None:
    phase.requests += 1
    phase.sent_events += n
    phase.latencies.append(dt)
    if res is None:
        phase.errors += 1
        return
    phase.accepted += len(res["accepted"])
    phase.duplicates += len(res["duplicates"])
    phase.rejected += len(res["rejected"])


def _settle_client_heap() -> None:
    """Collect the garbage of building the requests, then exempt what is alive from future
    collections: a full collection over the pre-built requests paused the client for ~100 ms,
    and the answers waiting meanwhile counted as server latency."""
    gc.collect()
    gc.freeze()


async def steady(agents: list[Agent], rate: float, duration: float, batch: int,
                 retry_fraction: float) -> Phase:
    ph = Phase(f"steady {rate:g}/s x{batch}")
    n_batches = max(1, int(duration * rate))
    plans = []
    for a in agents:
        raws = []
        for k in range(n_batches):
            raw, n, ids = a.batch(batch, heartbeat=(k % 10 == 0))
            a.sent_ids.extend(ids)
            raws.append((raw, n, random.random() < retry_fraction))
        plans.append(raws)
    _settle_client_heap()
    start = time.perf_counter() + 0.5

    async def run(a: Agent, raws: list) -> None:
        phase_off = random.random() / rate
        for k, (raw, n, again) in enumerate(raws):
            due = start + phase_off + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                ph.max_lag = max(ph.max_lag, -delay)
            dt, st, res = await a.post(raw)
            record(ph, dt, st, res, n)
            if again:  # the agent lost the answer and retries: must come back as duplicates
                dt, st, res = await a.post(raw)
                record(ph, dt, st, res, n)

    await asyncio.gather(*(run(a, r) for a, r in zip(agents, plans, strict=True)))
    ph.wall = time.perf_counter() - start
    return ph


async def saturate(agents: list[Agent], duration: float, batch: int) -> Phase:
    ph = Phase(f"max (closed loop) x{batch}")
    # Built before the clock starts, as in the steady phase, so that the client spends the
    # shared CPU on sending and checking, not on making events; 2 batches/s per agent is more
    # than the box has served; beyond that batches are made on the fly.
    ready = {a.id: [a.batch(batch, heartbeat=False) for _ in range(int(duration * 2) + 2)]
             for a in agents}
    _settle_client_heap()
    stop_at = time.perf_counter() + duration
    t0 = time.perf_counter()

    async def run(a: Agent) -> None:
        pool = ready[a.id]
        while time.perf_counter() < stop_at:
            raw, n, ids = pool.pop() if pool else a.batch(batch, heartbeat=False)
            a.sent_ids.extend(ids)
            dt, st, res = await a.post(raw)
            record(ph, dt, st, res, n)

    await asyncio.gather(*(run(a) for a in agents))
    ph.wall = time.perf_counter() - t0
    return ph


async def storm(agents: list[Agent], compounds: int) -> Phase:
    hit = agents[:compounds]
    raws = []
    for a in hit:
        evs = [make_event(c, "signal_loss", "raised") for c in a.cameras]
        a.sent_ids.extend(e["event_id"] for e in evs)
        raws.append((a.request(evs), len(evs)))
    ph = Phase(f"storm {compounds} compounds")
    t0 = time.perf_counter()
    results = await asyncio.gather(*(a.post(r) for a, (r, _) in zip(hit, raws, strict=True)))
    ph.wall = time.perf_counter() - t0
    for (dt, st, res), (_, n) in zip(results, raws, strict=True):
        record(ph, dt, st, res, n)
    return ph


def _run_loop(coro: Any) -> Any:
    """uvloop when installed (it comes with uvicorn[standard], as on the collector's side):
    the client's own CPU per request is then smaller, leaving more of the 2 cores measured."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def client_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def raw_insert_rate(url: str, rows: list[dict], batch: int) -> float:
    """Baseline: the same rows inserted straight into an `events` table, batch per commit."""
    eng = create_engine(url)
    if eng.dialect.name == "sqlite":
        with eng.connect() as c:
            c.exec_driver_sql("PRAGMA journal_mode=WAL")
            c.exec_driver_sql("PRAGMA synchronous=NORMAL")
    metadata.create_all(eng, tables=[events])
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        with eng.begin() as c:
            c.execute(insert(events), rows[i:i + batch])
    dt = time.perf_counter() - t0
    eng.dispose()
    return len(rows) / dt


def start_collector(db: str, tmp: Path, workers: int = 1) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp / "collector.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "collector", "--port", str(port), "--db", db,
         "--log-level", "warning", "--workers", str(workers)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log,
        stderr=subprocess.STDOUT)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("collector did not start; see " + str(tmp / "collector.log"))


def run_db(kind: str, args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    schema = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'collector.db'}"
        raw_url = f"sqlite:///{tmp / 'raw.db'}"
    else:
        schema = f"lwbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
            c.execute(text(f'CREATE SCHEMA "{schema}_raw"'))
        url = f"{args.pg_url}?options=-csearch_path%3D{schema}"
        raw_url = f"{args.pg_url}?options=-csearch_path%3D{schema}_raw"
    try:
        store = open_store(url)
        migrate(store)
        tok: list[str] = []
        with store.writing() as conn:
            rows = []
            for i in range(args.agents):
                t = "lw_" + uuid.uuid4().hex + uuid.uuid4().hex
                tok.append(t)
                rows.append({"token_hash": hash_token(t), "subject": f"c{i:04d}",
                             "role": "agent", "created_at": time.time(),
                             "compounds": f"c{i:04d}"})
            conn.execute(insert(tokens), rows)
        proc, port = start_collector(url, tmp, args.pg_workers if kind == "postgresql" else 1)
        try:
            agents = [Agent(i, tok[i], args.cameras) for i in range(args.agents)]

            async def main() -> list[Phase]:
                await asyncio.gather(*(a.connect(port) for a in agents))
                out = [await steady(agents, args.rate, args.duration, args.batch,
                                    args.retry_fraction)]
                if args.max_duration > 0:
                    out.append(await saturate(agents, args.max_duration, args.batch))
                out.append(await storm(agents, args.storm_compounds))
                for a in agents:
                    a.close()
                return out

            phases = _run_loop(main())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        sent = [eid for a in agents for eid in a.sent_ids]
        with store.reading() as conn:
            stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
            present = 0
            for i in range(0, len(sent), 5000):
                present += conn.execute(select(func.count()).select_from(events).where(
                    events.c.event_id.in_(sent[i:i + 5000]))).scalar_one()
        store.dispose()
        exactly_once = stored == len(set(sent)) == present == len(sent)
        # Baseline rows: the same number of state-change rows, inserted raw.
        n_raw = min(len(sent), 50_000)
        now = time.time()
        raw_rows = [{"event_id": str(uuid.uuid4()), "kind": "state_change", "agent": "c0001",
                     "camera": "c0001/cam01", "compound": "c0001", "fault": "blur",
                     "state": "raised", "t": now, "received_at": now, "confidence": 0.9,
                     "severity": "major", "evidence": '{"score":0.5}', "snapshot": None}
                    for _ in range(n_raw)]
        raw = raw_insert_rate(raw_url, raw_rows, args.batch)
        label = kind if kind == "sqlite" or args.pg_workers == 1 else (
            f"{kind} x{args.pg_workers}")
        return {"db": label, "phases": phases, "exactly_once": exactly_once,
                "sent": len(sent), "stored": stored, "raw": raw}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if schema:
            with admin.connect() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_raw" CASCADE'))
            admin.dispose()


def table(rows: list[dict[str, str]]) -> str:
    cols = list(rows[0])
    w = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    line = "| " + " | ".join(c.ljust(w[c]) for c in cols) + " |"
    sep = "|" + "|".join("-" * (w[c] + 2) for c in cols) + "|"
    body = ["| " + " | ".join(r[c].rjust(w[c]) if i else r[c].ljust(w[c])
                              for i, c in enumerate(cols)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--agents", type=int, default=636)
    ap.add_argument("--cameras", type=int, default=16, help="cameras per compound")
    ap.add_argument("--rate", type=float, default=1.0, help="batches per second per agent")
    ap.add_argument("--batch", type=int, default=10, help="state changes per batch")
    ap.add_argument("--duration", type=float, default=20.0, help="steady phase seconds")
    ap.add_argument("--max-duration", type=float, default=8.0,
                    help="closed-loop phase seconds (0 to skip)")
    ap.add_argument("--retry-fraction", type=float, default=0.05)
    ap.add_argument("--storm-compounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=636)
    ap.add_argument("--pg-workers", type=int, default=1,
                    help="collector processes for PostgreSQL (uvicorn workers)")
    args = ap.parse_args()
    random.seed(args.seed)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"# {args.agents} agents x {args.cameras} cameras; steady {args.rate:g} batch/s of "
          f"{args.batch} events (+1 heartbeat every 10th) for {args.duration:g}s; "
          f"{args.retry_fraction:.0%} of batches re-sent; storm {args.storm_compounds} "
          f"compounds; cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}; "
          f"client loop {client_loop_name()}")
    results = [run_db(k, args) for k in kinds]
    rows = []
    for r in results:
        for ph in r["phases"]:
            rows.append({"db": r["db"], **ph.row()})
    print(table(rows))
    print()
    base = [{"db": r["db"], "raw insert events/s (baseline)": f"{r['raw']:,.0f}",
             "steady / raw": f"{r['phases'][0].accepted / r['phases'][0].wall / r['raw']:.2f}",
             "max / raw": (f"{r['phases'][1].accepted / r['phases'][1].wall / r['raw']:.2f}"
                           if args.max_duration > 0 else "-"),
             "event ids sent": str(r["sent"]), "rows stored": str(r["stored"]),
             "stored exactly once": "yes" if r["exactly_once"] else "NO"} for r in results]
    print(table(base))
    return 0 if all(r["exactly_once"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
