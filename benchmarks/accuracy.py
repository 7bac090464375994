"""Score `lenswatch analyze` against the labelled accuracy set (see DATASET.md).

    python -m benchmarks.accuracy --data benchmarks/data/accuracy \
        [--analyze-cmd "lenswatch analyze"] [--out report.md] \
        [--save-events ev.jsonl | --events ev.jsonl]

Runs ONE analyze process over all clips (`<cmd> --json FILE...`), reads its state-change lines
({"camera", "fault", "state", "t", ...}, one JSON object per line) and scores:

* recall per fault: a clip is a hit when a `raised` event of its fault has
  onset <= t <= onset + window (20 s); latency = t - onset of the first such event;
* false alerts: every `raised` event (any fault but `signal_loss`) on a negative clip, plus, in
  fault clips, raised events before the onset and raised events of another fault class
  ("wrong fault", also reported on its own). A blur raised on a blocked clip is reported as
  "co-occurring blur" and NOT counted as a false alert: a covered lens is also a blurred one.

`signal_loss` events (end of file) are ignored. The exit code is 0 whenever scoring ran, 2 when
the analyze command could not be run or failed (the partial table is still printed then).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAULTS = ("blocked", "blur", "ripple", "frozen")
IGNORED = {"signal_loss"}
#: Event times are rounded to ms by the contract and onsets are on 0.1 s frame boundaries.
EPS = 1e-3


@dataclass
class ClipResult:
    """How one clip fared."""

    label: dict[str, Any]
    hit: bool = False
    latency: float | None = None
    late: bool = False
    pre_onset: list[tuple[str, float]] = field(default_factory=list)
    wrong_fault: list[tuple[str, float]] = field(default_factory=list)
    co_blur: list[float] = field(default_factory=list)
    false_alerts: list[tuple[str, float]] = field(default_factory=list)  # negatives only
    early_clear: bool = False


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation: honest for the ~10 values per fault)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q / 100.0 * len(s)) - 1)]


def median(values: list[float]) -> float | None:
    """Ordinary median (mean of the two middle values for even counts)."""
    if not values:
        return None
    s, n = sorted(values), len(values)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def load_labels(data: Path) -> list[dict[str, Any]]:
    """labels.json of the set; clips whose file is missing are dropped with a warning."""
    path = data / "labels.json"
    if not path.exists():
        raise SystemExit(f"no {path}; build it with `python -m benchmarks.make_dataset`")
    labels = json.loads(path.read_text())
    present = [lab for lab in labels if (data / lab["file"]).exists()]
    if len(present) != len(labels):
        print(f"warning: {len(labels) - len(present)} labelled clips missing in {data}",
              file=sys.stderr)
    return present


def parse_events(lines: list[str]) -> tuple[list[dict[str, Any]], int]:
    """JSON objects from analyze's stdout; returns (events, number of non-JSON lines)."""
    events, junk = [], 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            junk += 1
            continue
        if not (isinstance(obj, dict) and {"camera", "fault", "state", "t"} <= obj.keys()):
            junk += 1
            continue
        try:
            obj["t"] = float(obj["t"])  # analyze reports seconds from the start of the file
        except (TypeError, ValueError):
            junk += 1
            continue
        events.append(obj)
    return events, junk


def run_analyze(cmd: str, files: list[str], timeout: float | None
                ) -> tuple[list[str], int, float, float]:
    """Run analyze once over all files; returns (stdout lines, rc, cpu seconds, wall seconds).

    CPU is the children's user+sys time from getrusage, i.e. the analyze process and anything
    it spawned, measured by the kernel rather than reported by the tool itself.
    """
    argv = shlex.split(cmd) + ["--json", *files]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError as exc:
        raise SystemExit(f"cannot run {argv[0]!r}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        print(f"error: analyze timed out after {timeout} s", file=sys.stderr)
        return out.splitlines(), 124, math.nan, time.monotonic() - t0
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout.splitlines(), proc.returncode, cpu, wall


def match_camera(events: list[dict[str, Any]], files: dict[str, dict[str, Any]]
                 ) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Group events by clip file name. `camera` should be the path as given; basename and
    resolved-path matches are accepted too so that a tool normalising paths still scores."""
    by_key: dict[str, str] = {}
    for given, lab in files.items():
        name = lab["file"]
        for key in (given, name, Path(name).stem, os.path.realpath(given)):
            by_key[key] = name
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unknown: list[str] = []
    for ev in events:
        cam = str(ev["camera"])
        name = (by_key.get(cam) or by_key.get(os.path.basename(cam))
                or by_key.get(os.path.realpath(cam)))
        if name is None:
            unknown.append(cam)
        else:
            grouped[name].append(ev)
    return grouped, sorted(set(unknown))


def score_clip(label: dict[str, Any], events: list[dict[str, Any]], window: float) -> ClipResult:
    """Apply the scoring rules in the module docstring to one clip."""
    res = ClipResult(label)
    fault, onset = label["fault"], label["onset"]
    raised = sorted((e for e in events if e["state"] == "raised" and e["fault"] not in IGNORED),
                    key=lambda e: float(e["t"]))
    if fault is None:
        res.false_alerts = [(e["fault"], float(e["t"])) for e in raised]
        return res
    for e in raised:
        t, f = float(e["t"]), e["fault"]
        if t < onset - EPS:
            res.pre_onset.append((f, t))
        elif f == fault:
            if t <= onset + window + EPS:
                if not res.hit:
                    res.hit, res.latency = True, max(0.0, t - onset)
            else:
                res.late = not res.hit
        elif fault == "blocked" and f == "blur":
            res.co_blur.append(t)
        else:
            res.wrong_fault.append((f, t))
    if res.hit:
        # The fault holds to the end of the clip; a clear well before the end is a dropout.
        end = float(label.get("duration_s", 60.0))
        res.early_clear = any(
            e["state"] == "cleared" and e["fault"] == fault
            and onset + (res.latency or 0) < float(e["t"]) < end - 2.0 for e in events)
    return res


def _fmt(v: float | None, nd: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def report(results: list[ClipResult], window: float, extra: list[str]) -> str:
    """The Markdown report (tables + lists of what went wrong)."""
    lines = [f"## lenswatch accuracy ({len(results)} clips, window {window:g} s after onset)", ""]
    lines += ["| fault | clips | hits | recall | median latency (s) | p90 latency (s) | late "
              "| pre-onset alerts | wrong-fault alerts | co-occurring blur | dropouts |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tot_pre = tot_wrong = 0
    for fault in FAULTS:
        rs = [r for r in results if r.label["fault"] == fault]
        if not rs:
            continue
        lat = [r.latency for r in rs if r.latency is not None]
        hits = sum(r.hit for r in rs)
        pre = sum(len(r.pre_onset) for r in rs)
        wrong = sum(len(r.wrong_fault) for r in rs)
        tot_pre, tot_wrong = tot_pre + pre, tot_wrong + wrong
        co = sum(len(r.co_blur) for r in rs) if fault == "blocked" else None
        lines.append(
            f"| {fault} | {len(rs)} | {hits} | {hits / len(rs):.0%} | {_fmt(median(lat))} "
            f"| {_fmt(percentile(lat, 90))} | {sum(r.late for r in rs)} | {pre} | {wrong} "
            f"| {'–' if co is None else co} | {sum(r.early_clear for r in rs)} |")
    negs = [r for r in results if r.label["fault"] is None]
    neg_alerts = sum(len(r.false_alerts) for r in negs)
    lines += ["", "| negatives | clips | clips with alerts | false alerts | by fault |",
              "|---|---:|---:|---:|---|"]
    by_fault: dict[str, int] = defaultdict(int)
    for r in negs:
        for f, _ in r.false_alerts:
            by_fault[f] += 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(by_fault.items())) or "–"
    lines.append(f"| all | {len(negs)} | {sum(bool(r.false_alerts) for r in negs)} "
                 f"| {neg_alerts} | {summary} |")
    total = neg_alerts + tot_pre + tot_wrong
    lines += ["", f"**False alerts: {total}** = {neg_alerts} on negatives + {tot_pre} before "
              f"onset + {tot_wrong} wrong fault (co-occurring blur on blocked not counted)."]

    flagged = [r for r in negs if r.false_alerts]
    if flagged:
        lines += ["", "Negatives with alerts:", ""]
        for r in flagged:
            evs = ", ".join(f"{f}@{t:.1f}s" for f, t in r.false_alerts)
            lines.append(f"- `{r.label['file']}` ({r.label['kind']}): {evs}")
    bad = [r for r in results if r.pre_onset or r.wrong_fault]
    if bad:
        lines += ["", "Fault clips with pre-onset or wrong-fault alerts:", ""]
        for r in bad:
            parts = [f"{f}@{t:.1f}s (pre-onset)" for f, t in r.pre_onset]
            parts += [f"{f}@{t:.1f}s (wrong fault)" for f, t in r.wrong_fault]
            lines.append(f"- `{r.label['file']}` (onset {r.label['onset']:.1f}s): "
                         + ", ".join(parts))

    lines += ["", "Recall by kind and strength:", "", "| fault | kind | faint | medium | strong |",
              "|---|---|---|---|---|"]
    kinds: dict[tuple[str, str], dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if r.label["fault"]:
            kinds[(r.label["fault"], r.label["kind"])][r.label["strength"] or "strong"].append(
                r.hit)
    for (fault, kind), by_s in sorted(kinds.items(), key=lambda kv: (FAULTS.index(kv[0][0]),
                                                                      kv[0][1])):
        cells = [f"{sum(by_s[s])}/{len(by_s[s])}" if by_s.get(s) else "" for s in
                 ("faint", "medium", "strong")]
        lines.append(f"| {fault} | {kind} | " + " | ".join(cells) + " |")
    missed = [r for r in results if r.label["fault"] and not r.hit]
    if missed:
        lines += ["", "Missed: " + ", ".join(
            f"`{r.label['file']}`" + (" (late)" if r.late else "") for r in missed)]
    if extra:
        lines += [""] + extra
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run analyze (or read saved events), score, print the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("benchmarks/data/accuracy"))
    ap.add_argument("--analyze-cmd",
                    default=f"{shlex.quote(sys.executable)} -m lenswatch.cli analyze",
                    help="command to run; ' --json FILE...' is appended")
    ap.add_argument("--window", type=float, default=20.0, help="seconds after onset for a hit")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ap.add_argument("--save-events", type=Path, default=None, help="keep analyze's raw output")
    ap.add_argument("--events", type=Path, default=None,
                    help="score a saved event file instead of running analyze")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before giving up")
    args = ap.parse_args(argv)

    labels = load_labels(args.data)
    files = {str(args.data / lab["file"]): lab for lab in labels}
    rc, extra = 0, []
    if args.events:
        lines = args.events.read_text().splitlines()
        extra.append(f"Events read from `{args.events}` (analyze not run).")
    else:
        lines, code, cpu, wall = run_analyze(args.analyze_cmd, list(files), args.timeout)
        video_s = sum(float(lab.get("duration_s", 60.0)) for lab in labels)
        extra.append(f"analyze: `{args.analyze_cmd}` over {len(files)} files, exit code {code}; "
                     f"CPU {_fmt(cpu)} s (user+sys, getrusage children), wall {_fmt(wall)} s, "
                     f"{_fmt(cpu / video_s * 1000 if cpu == cpu else None, 2)} ms CPU per "
                     f"second of video ({video_s:.0f} s of video).")
        print(f"analyze CPU time: {_fmt(cpu)} s, wall {_fmt(wall)} s", file=sys.stderr)
        if args.save_events:
            args.save_events.write_text("\n".join(lines) + "\n")
        if code != 0:
            rc = 2
            extra.append(f"**WARNING: analyze exited with {code}; results are incomplete.**")
    events, junk = parse_events(lines)
    if junk:
        extra.append(f"{junk} output line(s) were not state-change JSON and were skipped.")
    grouped, unknown = match_camera(events, files)
    if unknown:
        extra.append(f"Events for unknown cameras ignored: {', '.join(unknown[:5])}"
                     + (" ..." if len(unknown) > 5 else ""))
    results = [score_clip(lab, grouped.get(lab["file"], []), args.window) for lab in labels]
    text = report(results, args.window, extra)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return rc


if __name__ == "__main__":
    sys.exit(main())
