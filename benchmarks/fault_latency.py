"""Fault-to-alert latency, end to end: simulated camera -> agent -> collector.

    python -m benchmarks.fault_latency [--quick] [--cycles N] [--out FILE.md]

Why: an operator cares how long after leaves cover a lens the dashboard shows it, not how
fast one detector call is. This runs the real programs (`lenswatch demo`: a collector on
SQLite, the fleet simulator, an agent at its default 2 s sample interval), injects each
fault several times on its own camera (fault for 30 s, healthy for 30 s, repeated), and
times every `raised` alert from the moment the simulator applied the fault (its
injections.jsonl):

- to the agent's decision (the event's `t`), and
- to its arrival at the collector (`received_at`).

Picture faults show at the camera's next clip loop; the loop is 4 s (two GOPs, the shortest
that still changes between keyframes) here, so up to 4 s of each picture-fault latency is
the simulator's. `signal_loss` latency is dominated by the configured grace (12 s in
the demo's agent config). Results: a Markdown table on stdout (and --out), raw figures in
benchmarks/data/fault_latency.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Camera -> the fault it keeps getting.
FAULTS = {"cam0": "blocked", "cam1": "blur", "cam2": "ripple", "cam3": "frozen",
          "cam4": "drop", "cam5": "hung"}
#: The alert each injected fault should raise.
EXPECT = {"drop": "signal_loss", "hung": "signal_loss"}
START, HOLD, REST, STAGGER = 25.0, 30.0, 30.0, 4.0


def schedule(cycles: int) -> str:
    """Every camera: fault for HOLD s, healthy for REST s, `cycles` times, staggered."""
    items = []
    for i, (cam, fault) in enumerate(FAULTS.items()):
        for c in range(cycles):
            t = START + i * STAGGER + c * (HOLD + REST)
            items += [f"{cam}:{fault}@{t:g}", f"{cam}:ok@{t + HOLD:g}"]
    return ",".join(items)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def _die_with_parent() -> None:
    """preexec_fn: the demo (and so its children) gets SIGTERM if this benchmark dies."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def measure(cycles: int, work: Path) -> dict[str, Any]:
    """Run the demo with the schedule; return per-fault latencies and misses."""
    duration = START + len(FAULTS) * STAGGER + cycles * (HOLD + REST) + 5
    data = work / "demo"
    cmd = [sys.executable, "-m", "lenswatch.cli", "demo", "--port", "0", "--cameras",
           str(len(FAULTS)), "--duration", f"{duration:g}", "--data-dir", str(data),
           "--clip-seconds", "4", "--schedule", schedule(cycles)]
    with open(work / "demo.log", "w") as log:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            timeout=duration + 900, preexec_fn=_die_with_parent).returncode
    if rc != 0:
        raise RuntimeError(f"demo exited with {rc}; see {work / 'demo.log'}")
    inj = [json.loads(ln) for ln in (data / "cameras" / "injections.jsonl").read_text()
           .splitlines() if ln.strip()]
    db = sqlite3.connect(data / "collector.db")
    rows = db.execute("SELECT camera, fault, state, t, received_at FROM events "
                      "WHERE kind = 'state_change' ORDER BY t").fetchall()
    db.close()
    out: dict[str, Any] = {}
    for cam, fault in FAULTS.items():
        want = EXPECT.get(fault, fault)
        starts = [i["t"] for i in inj if i["camera"] == cam and i["fault"] == fault]
        ends = [i["t"] for i in inj if i["camera"] == cam and i["fault"] == "ok"]
        res: dict[str, Any] = {"alert": want, "injected": len(starts), "detect": [],
                               "collector": [], "missed": 0, "other_alerts": 0}
        for s in starts:
            end = min([e for e in ends if e > s] or [s + HOLD])
            hit = next((r for r in rows if r[0] == f"demo/{cam}" and r[1] == want
                        and r[2] == "raised" and s <= r[3] <= end + 2), None)
            if hit is None:
                res["missed"] += 1
            else:
                res["detect"].append(hit[3] - s)
                res["collector"].append(hit[4] - s)
        res["other_alerts"] = sum(1 for r in rows if r[0] == f"demo/{cam}" and
                                  r[2] == "raised" and r[1] != want)
        out[fault] = res
    return out


def render(res: dict[str, Any], cycles: int) -> str:
    """Markdown: per fault, injections, misses, latency median/p90/max (agent, collector)."""
    lines = ["## Fault-to-alert latency (simulator -> agent -> collector)", "",
             f"Command: `python -m benchmarks.fault_latency --cycles {cycles}`; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Agent sample interval "
             "2 s, signal_loss grace 12 s, read timeout 4 s; one camera per fault, each "
             f"injected {cycles} times (30 s on, 30 s off).", "",
             "| injected | alert | n | missed | other alerts on that camera | agent median "
             "(s) | agent p90 (s) | at collector median (s) | at collector max (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for fault, r in res.items():
        d, c = r["detect"], r["collector"]

        def f(xs: list[float], fn: Any) -> str:
            return f"{fn(xs):.1f}" if xs else "–"

        lines.append(f"| {fault} | {r['alert']} | {r['injected']} | {r['missed']} | "
                     f"{r['other_alerts']} | {f(d, statistics.median)} | "
                     f"{f(d, lambda x: _pct(x, 90))} | {f(c, statistics.median)} | "
                     f"{f(c, max)} |")
    lines += ["", "Picture faults include up to 4 s before the simulator's loop shows the new "
              "picture; signal_loss is set by the configured grace (12 s, counted from the last "
              "picture, which came up to one sample before the fault). 'Other alerts' are "
              "raised alerts of any other fault on that camera during the run: false alerts "
              "(healthy periods included).", ""]
    return "\n".join(lines)


def main() -> int:
    """Run, print the table, keep raw figures in benchmarks/data/fault_latency.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 cycles instead of --cycles")
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--out", type=Path, help="also write the Markdown here")
    args = ap.parse_args()
    cycles = 2 if args.quick else args.cycles
    with tempfile.TemporaryDirectory(prefix="lenswatch-latency-") as tmp:
        res = measure(cycles, Path(tmp))
    data = ROOT / "benchmarks" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "fault_latency.json").write_text(json.dumps(res, indent=1))
    text = render(res, cycles)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
