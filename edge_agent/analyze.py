"""`lenswatch analyze`: the agent's own decode and pipeline, run over files or stream URLs.

It is how anyone checks the detectors on their own footage, so it must give exactly what the
agent would: same decoder settings, same sample interval, same HealthSettings defaults. The
command line is registered by edge_agent.analyze_cli, which imports this module (PyAV,
OpenCV, ONNX Runtime) only when `analyze` runs.
Sources are read round-robin so that their frames share detector batches, as the agent's
cameras do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import av

from contract import StateChange
from edge_agent.analyze_cli import DEFAULT_SAMPLE_INTERVAL
from edge_agent.sources import Frame, SourceError, is_network, mask_url, open_source
from pipeline.health import HealthSettings
from pipeline.monitor import Monitor, Sample

DEFAULT_BATCH = 16


def _duration(src: str) -> float | None:
    if is_network(src):
        return None
    try:
        with av.open(src) as c:
            return float(c.duration) / 1e6 if c.duration else None
    except Exception:  # noqa: BLE001 - the real open reports the error properly
        return None


def run(args: argparse.Namespace) -> int:
    """Analyse all sources; print state changes; exit 1 if any source failed."""
    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip())
    try:
        settings = HealthSettings(faults=faults, snapshots=bool(args.snapshots))
    except ValueError as exc:
        print(f"lenswatch analyze: --faults: {exc}", file=sys.stderr)
        return 2
    if args.sample_interval <= 0:
        print("lenswatch analyze: --sample-interval must be > 0 seconds", file=sys.stderr)
        return 2
    if args.snapshots:
        args.snapshots.mkdir(parents=True, exist_ok=True)
    show = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())
    out = _Printer(sys.stdout, args.json, args.snapshots)
    failures = analyze(args.sources, settings=settings, sample_interval=args.sample_interval,
                       on_change=out.emit, progress=show)
    out.close()
    for src, err in failures:
        print(f"lenswatch analyze: {mask_url(src)}: {err}", file=sys.stderr)
    return 1 if failures else 0


def analyze(sources: list[str], *, settings: HealthSettings | None = None,
            sample_interval: float = DEFAULT_SAMPLE_INTERVAL, batch: int = DEFAULT_BATCH,
            on_change=None, progress: bool = False) -> list[tuple[str, str]]:
    """Run the pipeline over `sources`; call on_change(StateChange) for each state change.

    The camera name of each event is the source as given (credentials masked). Returns the
    sources that failed, with a message each; the others are analysed regardless.
    """
    monitor = Monitor(settings)
    failures: list[tuple[str, str]] = []
    iters: dict[str, Iterator[Frame]] = {}
    for src in sources:
        iters[src] = open_source(src, sample_interval=sample_interval)
    bar = None
    if progress:
        from tqdm import tqdm

        total = sum(d for d in (_duration(s) for s in sources) if d)
        bar = tqdm(total=round(total, 1) or None, unit="s", desc="analyzing", file=sys.stderr,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s video [{elapsed}<{remaining}]")
    last_t: dict[str, float] = {}
    names = {src: mask_url(src) for src in sources}
    while iters:
        samples: list[Sample] = []
        for src in list(iters):
            for _ in range(max(1, batch // max(1, len(iters)))):
                try:
                    fr = next(iters[src])
                except StopIteration:
                    del iters[src]
                    break
                except SourceError as exc:
                    failures.append((src, exc.message.removeprefix(names[src] + ": ")))
                    del iters[src]
                    break
                samples.append(Sample(names[src], fr.t, fr.gray, fr.native, fr.chroma))
                if bar is not None:
                    bar.update(max(0.0, fr.t - last_t.get(src, 0.0)))
                last_t[src] = fr.t
        if samples:
            for change in monitor.process(samples):
                if on_change is not None:
                    on_change(change)
    if bar is not None:
        bar.close()
    return failures


class _Printer:
    """Writes state changes as JSON lines or as a table a person reads."""

    def __init__(self, stream: TextIO, as_json: bool, snapshots: Path | None) -> None:
        self.stream = stream
        self.as_json = as_json
        self.snapshots = snapshots
        self.count = 0
        if not as_json:
            print(f"{'source':40} {'time':>8}  {'fault':12} {'state':8} {'conf':>5}  evidence",
                  file=stream)

    def emit(self, ch: StateChange) -> None:
        self.count += 1
        d: dict[str, Any] = ch.to_dict()
        if ch.snapshot and self.snapshots:
            import base64

            name = f"{Path(ch.camera).stem}_{ch.fault}_{ch.t:08.1f}s.jpg".replace("/", "_")
            (self.snapshots / name).write_bytes(base64.b64decode(ch.snapshot))
            d["snapshot_file"] = str(self.snapshots / name)
        if self.as_json:
            print(json.dumps(d, separators=(",", ":")), file=self.stream, flush=True)
            return
        ev = ", ".join(f"{k}={v}" for k, v in ch.evidence.items() if k != "covered_cells")
        if "snapshot_file" in d:
            ev += f", snapshot={d['snapshot_file']}"
        cam = ch.camera if len(ch.camera) <= 40 else "..." + ch.camera[-37:]
        print(f"{cam:40} {_clock(ch.t):>8}  {ch.fault:12} {ch.state:8} {ch.confidence:5.2f}  "
              f"{ev}", file=self.stream, flush=True)

    def close(self) -> None:
        if not self.as_json and self.count == 0:
            print("(no faults)", file=self.stream)


def _clock(t: float) -> str:
    m, s = divmod(t, 60)
    return f"{int(m)}:{s:04.1f}"
