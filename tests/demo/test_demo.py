"""`lenswatch demo` end to end, as a newcomer runs it: faults reach the collector, and
nothing is left running afterwards.

The demo is the project's first impression, so it is tested the way it is used: the real
command in a child process, its printed dashboard URL and login read from stdout, the
collector's API asked with that login, and the process table checked after it stops.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DURATION = 75  # seconds the demo runs: blocked at 20 s and a drop at 25 s show by ~40 s


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_demo_raises_a_fault_at_the_collector_and_leaves_no_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenswatch.cli", "demo", "--duration", str(DURATION),
         "--port", "0", "--cameras", "3", "--data-dir", str(tmp_path / "demo"),
         "--schedule", "cam1:blocked@20,cam2:drop@25"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("DEMO READY"):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    seen_children: set[int] = set()
    try:
        assert ready.wait(300), "demo never printed DEMO READY:\n" + "".join(lines[-40:])
        m = re.search(r"url=(\S+)/dashboard token=(\S+)", next(
            ln for ln in lines if ln.startswith("DEMO READY")))
        assert m, lines
        base, token = m.group(1), m.group(2)
        seen_children = _descendants(proc.pid)
        assert len(seen_children) >= 3 + 3, seen_children  # collector, simulator, agent, 3 cams
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/dashboard", headers=headers, timeout=5).status_code in (
            200, 303, 307)
        raised: dict[str, dict] = {}
        deadline = time.monotonic() + DURATION - 5
        while time.monotonic() < deadline and not {"blocked", "signal_loss"} <= set(raised):
            r = httpx.get(f"{base}/v1/events", headers=headers, timeout=5)
            assert r.status_code == 200, r.text
            body = r.json()
            items = body["items"] if isinstance(body, dict) and "items" in body else body
            for ev in items:
                if ev.get("state") == "raised":
                    raised.setdefault(ev["fault"], ev)
            time.sleep(2)
        assert "blocked" in raised, ("no blocked alert reached the collector; got "
                                     f"{sorted(raised)}\n" + "".join(lines[-60:]))
        assert raised["blocked"]["camera"] == "demo/cam1", raised["blocked"]
        assert "signal_loss" in raised and raised["signal_loss"]["camera"] == "demo/cam2"
        assert proc.wait(DURATION + 60) == 0, "".join(lines[-40:])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    time.sleep(1)
    left = [p for p in seen_children if _alive(p)]
    assert not left, f"processes left behind: {left}"
    assert "[demo] all stopped" in "".join(lines)
