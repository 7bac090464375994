"""`lenswatch analyze` as a user meets it: tables, JSON, snapshots, and bad sources."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import LENSWATCH, ROOT


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LENSWATCH, "analyze", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def test_table_and_snapshots(clip_dir: Path, tmp_path: Path) -> None:
    res = run(str(clip_dir / "blocked_bag.mp4"), "--snapshots", str(tmp_path / "snaps"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["source", "time", "fault", "state"]
    assert any("blocked" in ln and "raised" in ln for ln in lines[1:]), res.stdout
    jpegs = list((tmp_path / "snaps").glob("*.jpg"))
    assert jpegs, "a raised fault must leave a snapshot"
    assert jpegs[0].read_bytes()[:2] == b"\xff\xd8"  # a JPEG a person can open


def test_healthy_footage_says_no_faults(clip_dir: Path) -> None:
    res = run(str(clip_dir / "neg_static_noise.mp4"))
    assert res.returncode == 0, res.stderr
    assert "(no faults)" in res.stdout


def test_bad_sources_are_named_and_the_rest_still_analysed(clip_dir: Path,
                                                           tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    truncated = tmp_path / "truncated.mp4"
    data = (clip_dir / "blocked_cap.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    missing = tmp_path / "missing.mp4"
    res = run("--json", str(corrupt), str(missing), str(clip_dir / "blocked_cap.mp4"),
              "rtsp://admin:hunter2@127.0.0.1:9/cam", "nosuchproto://x")
    assert res.returncode == 1
    err = res.stderr
    assert str(corrupt) in err and str(missing) in err and "nosuchproto://x" in err
    assert "hunter2" not in err and "hunter2" not in res.stdout, "credentials leaked"
    assert "admin:***@127.0.0.1" in err
    assert "refused" in err or "not listening" in err
    events = [json.loads(x) for x in res.stdout.splitlines()]
    assert any(e["fault"] == "blocked" and e["state"] == "raised" for e in events)


def test_truncated_file_is_analysed_up_to_the_cut(clip_dir: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    data = (clip_dir / "neg_static_noise.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    res = run(str(truncated))
    # A moov-less MP4 cannot be read at all; the message must say which file and why.
    if res.returncode:
        assert str(truncated) in res.stderr
    else:
        assert "(no faults)" in res.stdout


def test_progress_bar_on_request(clip_dir: Path) -> None:
    res = run(str(clip_dir / "neg_fence.mp4"), "--progress", "on")
    assert res.returncode == 0
    assert "analyzing" in res.stderr and "s video" in res.stderr


def test_unknown_fault_name_is_explained() -> None:
    res = run("x.mp4", "--faults", "blocked,smudge")
    assert res.returncode == 2
    assert "smudge" in res.stderr and "known" in res.stderr
