"""The fleet simulator's contract: schedule syntax, and drop / hung / ok on command.

The demo, the latency benchmark and anyone scripting faults rely on these: a drop must
refuse connections, hung must keep the socket but stop the process, ok must undo both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lenswatch.simulate import parse_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_schedule_parses_and_rejects_bad_items() -> None:
    assert parse_schedule("cam2:drop@60, cam1:blocked@25.5") == [
        (25.5, "cam1", "blocked"), (60.0, "cam2", "drop")]
    assert parse_schedule("") == []
    for bad in ("cam1:leaves@3", "cam1:blocked", "cam1@3"):
        with pytest.raises(ValueError, match="CAMERA:FAULT@SECONDS"):
            parse_schedule(bad)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_drop_hung_ok_on_command(tmp_path: Path) -> None:
    manifest = tmp_path / "sim.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenswatch.cli", "simulate", "--cameras", "1",
         "--manifest", str(manifest), "--run-dir", str(tmp_path / "run")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("SIMULATOR READY"):
                break
        else:
            pytest.fail("simulator did not start")
        info = json.loads(manifest.read_text())
        ctl, cam = info["control"], info["cameras"][0]
        port = int(cam["url"].rsplit(":", 1)[1].split("/")[0])
        assert not _refused(port)

        r = httpx.post(f"{ctl}/cameras/cam0/hung", timeout=60).json()
        assert r["state"] == "hung"
        # SIGSTOP takes effect when the kernel next schedules the process: on a busy box
        # that can be a moment after the answer.
        deadline = time.monotonic() + 5
        while _state(r["pid"]) != "T" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(r["pid"]) == "T"
        r = httpx.post(f"{ctl}/cameras/cam0/drop", timeout=60).json()
        assert r["pid"] is None and _refused(port)
        r = httpx.post(f"{ctl}/cameras/cam0/ok", timeout=60).json()
        assert r["state"] == "ok" and _state(r["pid"]) in "SR" and not _refused(port)
        assert httpx.post(f"{ctl}/cameras/cam9/ok", timeout=10).status_code == 404
        assert httpx.post(f"{ctl}/cameras/cam0/leaves", timeout=10).status_code == 400
        lines = (tmp_path / "run" / "injections.jsonl").read_text().splitlines()
        assert [json.loads(ln)["fault"] for ln in lines] == ["hung", "drop", "ok"]
        server_pid = r["pid"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    time.sleep(0.5)
    assert not Path(f"/proc/{server_pid}").exists() or _state(server_pid) == "Z"
