"""The outbox's disk misbehaving, against the real agent and collector: nothing lost or doubled.

- a full disk (a size-limited tmpfs mounted by the test, as root: the test fails if it cannot
  mount, it never skips), the agent keeps running, says so, and delivers when space returns;
- a corrupt `outbox.sqlite` at start: moved aside, a fresh outbox, nothing else touched;
- `kill -9` while the agent is inside an outbox write (an fsync of the outbox, held open by
  strace's syscall delay injection so the kill lands inside it, checked in /proc).
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import StateChange
from edge_agent.outbox import Outbox
from tests.agent.conftest import PY, ROOT, AgentProc, RealCollector, wait_for
from tests.agent.test_faults import (
    agent_config,
    assert_exactly_once,
    outbox_rows,
    start_agent,
    stored,
)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCollector]:
    """One real collector for the module; tests keep apart by compound."""
    # The agent token may report for the compound each test keeps apart by.
    col = RealCollector(tmp_path_factory.mktemp("collector"), compounds=(
        "diskfull", "corruptnotadatabase", "corrupttornpages", "kill9", "c")).start()
    yield col
    col.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs: the outbox's own disk, small enough to fill in a moment."""
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs",
                        str(disk)], capture_output=True, text=True)
    assert r.returncode == 0, ("this test mounts a small tmpfs and must run as root "
                               f"(it never skips): {r.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem says ENOSPC."""
    path = disk / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    finally:
        os.close(fd)
    return path


def test_disk_full_agent_keeps_running_says_so_and_resumes(tmp_path: Path, small_disk: Path,
                                                           collector: RealCollector,
                                                           procs) -> None:
    cams = [f"cam{i}" for i in range(6)]
    # Cameras fail from the start; their grace (5 s) runs out after the disk is full.
    agent = start_agent(tmp_path, collector, collector.url, "diskfull", cams, grace=5.0,
                        spread=0.2, data_dir=small_disk)
    procs.append(agent)
    filler = fill(small_disk)
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_unsaved") == len(cams), 20,
             "every alert held in memory while the disk is full")
    assert agent.proc is not None and agent.proc.poll() is None
    health = agent.get("/healthz")
    assert health is not None and health.status_code == 200, "a restart would lose them"
    body = health.json()
    assert body["outbox_unsaved"] == len(cams)
    assert any("cannot write" in w for w in body["warnings"]), body
    assert "outbox cannot write" in agent.log_text()
    assert all(agent.metric("lenswatch_agent_fault_state", camera=f"diskfull/{c}",
                            fault="signal_loss") == 1 for c in cams)

    filler.unlink()  # space returns
    assert_exactly_once(collector, "diskfull", cams)
    wait_for(lambda: agent.metric("lenswatch_agent_outbox_unsaved") == 0, 10, "all saved")
    assert "outbox writable again" in agent.log_text()
    wait_for(lambda: not agent.get("/healthz").json()["warnings"], 10, "warning cleared")
    assert outbox_rows(small_disk)[1] == []
    agent.stop()


def _torn_outbox(path: Path) -> bytes:
    """A real outbox with events whose inner pages were overwritten (a bad sector)."""
    box = Outbox(path)
    for i in range(200):
        box.record_change(StateChange(camera=f"old/cam{i}", fault="blocked", state="raised",
                                      t=1.7e9, confidence=0.9, severity="critical",
                                      evidence={"pad": "x" * 200}))
    box.close()
    with open(path, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(os.urandom(4096 * 4))
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["not_a_database", "torn_pages"])
def test_corrupt_outbox_at_start_is_moved_aside(tmp_path: Path, collector: RealCollector,
                                                procs, damage: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    outbox = data / "outbox.sqlite"
    if damage == "not_a_database":
        outbox.write_bytes(b"this is not an SQLite database\n" * 200)
        original = outbox.read_bytes()
    else:
        original = _torn_outbox(outbox)
    (data / "camera_state.json").write_text('{"keep": "me"}')
    compound = f"corrupt{damage.replace('_', '')}"
    cams = ["cam0", "cam1", "cam2"]
    agent = start_agent(tmp_path, collector, collector.url, compound, cams, data_dir=data)
    procs.append(agent)
    assert_exactly_once(collector, compound, cams)
    (aside,) = data.glob("outbox.sqlite.corrupt-*[0-9Z]")
    assert aside.read_bytes()[:4096 * 3] == original[:4096 * 3]
    assert (data / "camera_state.json").read_text() == '{"keep": "me"}'
    log_text = agent.log_text()
    assert "is corrupt" in log_text and str(aside.name) in log_text
    assert agent.get("/healthz").status_code == 200
    db = sqlite3.connect(outbox)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


FSYNC = {74, 75}  # x86_64 fsync, fdatasync


def _in_outbox_fsync(pid: int) -> str | None:
    """The outbox file a thread of `pid` is fsyncing right now, if any (from /proc)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "syscall").read_text().split()
        except OSError:
            continue
        if not fields or not fields[0].isdigit() or int(fields[0]) not in FSYNC:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{int(fields[1], 16)}")
        except OSError:
            continue
        if "outbox.sqlite" in target:
            return target
    return None


def test_kill9_during_an_outbox_write_loses_and_doubles_nothing(tmp_path: Path,
                                                                collector: RealCollector,
                                                                procs) -> None:
    cams = [f"cam{i}" for i in range(8)]
    # strace runs the agent with every fsync of the process delayed by 0.3 s, so a commit
    # to the outbox is in progress long enough to be caught in the act.
    cfg, mport = agent_config(tmp_path, collector.url, "kill9", cams, grace=1.5, spread=0.15,
                              outbox={"heartbeat_interval": 60})
    env = {**os.environ, "LENSWATCH_TOKEN": collector.agent_token, "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "traced.log", "wb") as fh:
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "--seccomp-bpf",
             "-e", "trace=fsync,fdatasync",
             "-e", "inject=fsync,fdatasync:delay_enter=300000",
             PY, "-m", "edge_agent", "agent", "--config", str(cfg)],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        def agent_pid() -> int | None:
            kids = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children")
            text = kids.read_text().split() if kids.exists() else []
            return int(text[0]) if text else None

        pid = wait_for(agent_pid, 10, "the traced agent process")
        started = time.monotonic()

        def writing_a_raise() -> str | None:
            # After the first grace ran out, the outbox's writes are raises (and deletes).
            if time.monotonic() - started < 2.5:
                return None
            return _in_outbox_fsync(pid)

        target = wait_for(writing_a_raise, 20, "the agent inside an outbox fsync", step=0.01)
        os.kill(pid, signal.SIGKILL)
        tracer.wait(10)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait(5)
    assert "outbox.sqlite" in target
    before = len(stored(collector, "kill9"))
    assert before < len(cams), "the kill came too late to interrupt the stream"

    agent = AgentProc(cfg, tmp_path / "agent2.log", mport,
                      token=collector.agent_token).start()
    procs.append(agent)
    assert_exactly_once(collector, "kill9", cams)
    agent.stop()
    db = sqlite3.connect(tmp_path / "data" / "outbox.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert outbox_rows(tmp_path / "data") == (0, [])


def test_retry_dead_letters_cli_requeues_in_place(tmp_path: Path) -> None:
    """Unit check of the CLI's move: dead letters go back under their original sequence."""
    box = Outbox(tmp_path / "o.sqlite")
    changes = [StateChange(camera=f"c/{i}", fault="blur", state="raised", t=1.7e9,
                           confidence=0.9, severity="warning") for i in range(3)]
    for c in changes:
        box.record_change(c)
    taken = box.take(10)
    box.dead_letter({taken[0].event_id: (500, "boom")})
    box.add_heartbeat({"kind": "heartbeat", "event_id": str(uuid.uuid4())})
    assert box.dead_letter_count() == 1 and box.depth() == 3
    box.close()
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        "agent: {id: a1, data_dir: '.'}\n"
        f"outbox: {{path: {tmp_path / 'o.sqlite'}}}\n"
        "collector: {url: 'http://127.0.0.1:9', token: '${LENSWATCH_TOKEN}'}\n"
        "cameras: [{compound: c, id: '0', url: 'rtsp://127.0.0.1:9/x'}]\n")
    out = subprocess.run([PY, "-m", "edge_agent", "agent", "--config", str(cfg),
                          "--retry-dead-letters"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "LENSWATCH_TOKEN": "t" * 24,
                              "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "moved 1 dead letter" in out.stdout
    box = Outbox(tmp_path / "o.sqlite")
    assert box.dead_letter_count() == 0
    assert [p.event_id for p in box.take(10)][:1] == [taken[0].event_id]
