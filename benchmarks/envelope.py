"""Detection envelope: each fault family swept over its strength, scored as `analyze` would.

    python -m benchmarks.envelope [--part tuning|validation|both] [--kind sweep|long|slow|all]
                                  [--quick] [--jobs N] [--out benchmarks/report/envelope]

Why: an accuracy figure on the clips a detector was fixed against says little. The envelope
asks where each detector stops working (recall against coverage, radius, grey levels,
shift...), on two parts rendered from different footage by different renderers: thresholds
are chosen on the TUNING part (benchmarks/tuning), the figures quoted come from the
VALIDATION part (benchmarks/validation, written apart from the detector). See ENVELOPE.md.

How a case is measured: `render(t)` is sampled every sample interval (the agent's default),
each picture turned into exactly what the agent hands the pipeline (Y plane scaled by
swscale to the thumbnail, native patches of the full-resolution Y plane, mean chroma from
every 16th Cb/Cr pixel: the very functions of edge_agent.sources, on an I420 picture) and
fed to a pipeline.monitor.Monitor with `lenswatch analyze`'s own default settings. Cases
marked `encode` are also encoded for real (H.264/H.265 at the case's fps, GOP and bit rate)
and run through ONE `lenswatch analyze --json` process, so the codec's effect shows beside.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("tuning", "validation")
KINDS = ("sweep", "long", "slow")
#: Cases stepped together by one worker: their samples share detector batches, as an
#: agent's cameras do, which is about twice as cheap per sample as one at a time.
BATCH = {"sweep": 8, "long": 20, "slow": 12}
#: Strength units where a smaller value is the stronger fault (a darker picture).
DESCENDING_UNITS = frozenset({"level", "light_level", "brightness", "residual", "luma",
                              "mean_luma", "lux"})
SLOW_GRACE_S = 3600.0  # a slow onset counts when raised within an hour of `due`


# ------------------------------------------------------------------------------------------
# what `lenswatch analyze` would use


def analyze_defaults() -> tuple[Any, float]:
    """(HealthSettings, sample interval) exactly as `lenswatch analyze` builds them by default.

    Why through analyze's own argument parser: the envelope must measure what a user running
    `analyze` (and the agent, whose interval analyze copies) gets; reading the defaults off the
    parser means a change to analyze's defaults (a fault added to its list) reaches here too.
    """
    from edge_agent import analyze_cli as A
    from pipeline.health import HealthSettings

    p = argparse.ArgumentParser()
    A.add_subcommands(p.add_subparsers())
    args = p.parse_args(["analyze", "-"])
    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip())
    return HealthSettings(faults=faults, snapshots=False), float(args.sample_interval)


def agent_inputs(bgr: np.ndarray, scaler: Any = None) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray | None]:
    """(thumbnail, native patches, chroma) of a BGR picture, as the agent takes them.

    The picture is made the I420 frame a camera's encoder would get (BT.601 limited range,
    as swscale converts) and handed to edge_agent.sources' own functions."""
    import av
    import cv2

    from edge_agent.sources import chroma_from_frame, native_from_frame, thumbnail_from_frame

    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    return thumbnail_from_frame(frame, scaler), native_from_frame(frame), chroma_from_frame(frame)


# ------------------------------------------------------------------------------------------
# the parts


class PartMissing(RuntimeError):
    """A part's renderer package is not in this checkout."""


def load_part(part: str) -> Any:
    """The renderer package of a part, imported only when asked for."""
    try:
        return importlib.import_module(f"benchmarks.{part}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"benchmarks.{part}", "benchmarks"):
            raise PartMissing(
                f"the {part} part (benchmarks/{part}/) is not in this checkout: its renderers "
                "are written separately (see benchmarks/ENVELOPE.md); merge them, or run "
                "--part tuning") from exc
        raise


_STATE: dict[str, Any] = {}


def _init_worker(jobs: list[tuple[str, str]], quick: bool, seed: int) -> None:
    """Per worker process: the case lists (cheap) and one Monitor (one ONNX session)."""
    import cv2

    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _STATE["cases"] = {}
    _STATE["quick"], _STATE["seed"] = quick, seed
    for part, kind in jobs:
        for c in load_part(part).cases(kind, quick=quick, seed=seed):
            _STATE["cases"][(part, kind, c.name)] = c
    _STATE["monitor"] = None


def _monitor() -> Any:
    if _STATE.get("monitor") is None:
        from pipeline.monitor import Monitor

        settings, interval = analyze_defaults()
        _STATE["monitor"] = Monitor(settings)
        _STATE["interval"] = interval
    return _STATE["monitor"]


def run_chunk(part: str, kind: str, names: list[str]) -> list[dict[str, Any]]:
    """Sample a few cases in lockstep through one Monitor; their state changes and costs."""
    from av.video.reformatter import VideoReformatter

    from pipeline.monitor import Sample

    mon = _monitor()
    interval = _STATE["interval"]
    cs = [_STATE["cases"][(part, kind, n)] for n in names]
    cams = [f"{part}:{c.name}" for c in cs]
    scalers = [VideoReformatter() for _ in cs]
    events: list[list[dict[str, Any]]] = [[] for _ in cs]
    render_cpu = [0.0] * len(cs)
    samples_n = [0] * len(cs)
    index = {cam: i for i, cam in enumerate(cams)}
    t0 = time.process_time()
    k = 0
    while True:
        t = k * interval
        batch = []
        for i, c in enumerate(cs):
            if t >= c.duration:
                continue
            r0 = time.process_time()
            gray, native, chroma = agent_inputs(c.render(t), scalers[i])
            render_cpu[i] += time.process_time() - r0
            samples_n[i] += 1
            batch.append(Sample(cams[i], t, gray, native, chroma))
        if not batch:
            break
        for ch in mon.process(batch):
            events[index[ch.camera]].append(_event(ch.fault, ch.state, ch.t, ch.confidence,
                                                   ch.evidence))
        k += 1
    for cam in cams:
        mon.forget(cam)
        mon.cameras.pop(cam, None)
    total = time.process_time() - t0
    det = max(0.0, total - sum(render_cpu))
    n_all = max(1, sum(samples_n))
    out = [{"name": c.name, "events": ev, "samples": n, "render_cpu_s": round(rc, 3),
            "pipeline_cpu_s": round(det * n / n_all, 3)}
           for c, ev, n, rc in zip(cs, events, samples_n, render_cpu, strict=True)]
    # A rendered case keeps its scene frames and masks (hundreds of MB at 1080p): let them
    # go once its samples are taken, or a worker grows by every case it has run.
    if mp.current_process().name != "MainProcess":  # the main process scores from them
        for n in names:
            _STATE["cases"].pop((part, kind, n), None)
        del cs
        gc.collect()
    return out


def _case(part: str, kind: str, name: str) -> Any:
    """A case by name; rebuilt if this worker already ran and released it."""
    key = (part, kind, name)
    if key not in _STATE["cases"]:
        for c in load_part(part).cases(kind, quick=_STATE["quick"], seed=_STATE["seed"]):
            if c.name == name:
                _STATE["cases"][key] = c
    return _STATE["cases"][key]


def _event(fault: str, state: str, t: float, conf: float, evidence: dict[str, Any]
           ) -> dict[str, Any]:
    ev = {k: v for k, v in (evidence or {}).items() if k != "covered_cells"}
    return {"fault": fault, "state": state, "t": round(float(t), 2),
            "confidence": round(float(conf), 3), "evidence": ev}


def encode_case(part: str, kind: str, name: str, out_dir: str) -> dict[str, Any]:
    """Render every frame of a case at its fps and encode it as the camera would."""
    from edge_agent.clips import encode_h264

    c = _case(part, kind, name)
    fps = int(round(c.fps))
    n = int(c.duration * fps)
    safe = name.replace("/", "__")
    path = Path(out_dir) / f"{part}__{safe}.mp4"
    t0 = time.process_time()
    encode_h264(path, (c.render(i / fps) for i in range(n)), fps=fps, gop_seconds=c.gop_s,
                bitrate_kbps=int(c.bitrate_kbps), hevc=c.codec in ("h265", "hevc"),
                preset="veryfast")
    return {"name": name, "file": str(path), "cpu_s": round(time.process_time() - t0, 2),
            "bytes": path.stat().st_size}


def _call(task: tuple[str, tuple]) -> tuple[str, tuple, Any, float]:
    what, args = task
    t0 = time.process_time()
    out = run_chunk(*args) if what == "chunk" else encode_case(*args)
    return what, args, out, time.process_time() - t0


# ------------------------------------------------------------------------------------------
# scoring


def window_end(case: Any, kind: str) -> float | None:
    """Latest time a raise still counts as found: max(onset + 20, due + 10), or an hour
    after `due` for the slow onsets."""
    if case.onset is None:
        return None
    due = case.due if case.due is not None else case.onset
    if kind == "slow":
        return due + SLOW_GRACE_S
    return max(case.onset + 20.0, due + 10.0)


def score(case: Any, kind: str, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Hit, latency, late raise, wrong faults and false alerts of one case's events."""
    raised = [e for e in events if e["state"] == "raised"]
    out: dict[str, Any] = {"hit": None, "latency": None, "latency_due": None, "late": None,
                           "wrong": [], "false": []}
    if case.fault is None or case.onset is None:
        out["false"] = [(e["fault"], e["t"]) for e in raised]
        return out
    end = window_end(case, kind)
    assert end is not None
    due = case.due if case.due is not None else case.onset
    out["false"] = [(e["fault"], e["t"]) for e in raised if e["t"] < case.onset]
    after = [e for e in raised if e["t"] >= case.onset]
    hit = next((e for e in after if e["fault"] == case.fault and e["t"] <= end), None)
    out["hit"] = hit is not None
    if hit is not None:
        out["latency"] = round(hit["t"] - case.onset, 2)
        out["latency_due"] = round(hit["t"] - due, 2)
    else:
        late = next((e for e in after if e["fault"] == case.fault), None)
        out["late"] = None if late is None else round(late["t"] - case.onset, 2)
    out["wrong"] = sorted({e["fault"] for e in after if e["fault"] != case.fault})
    return out


def poisson_upper(k: int, exposure: float, conf: float = 0.95) -> float:
    """Upper `conf` bound on a Poisson rate with k events in `exposure` (zero: ~3/exposure)."""
    if exposure <= 0:
        return math.inf

    def cdf(lam: float) -> float:
        term = total = math.exp(-lam)
        for i in range(1, k + 1):
            term *= lam / i
            total += term
        return total

    lo, hi = 0.0, max(10.0, 10.0 * (k + 1))
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > 1 - conf else (lo, mid)
    return hi / exposure


def _bins(values: list[float]) -> dict[float, float]:
    """Strength -> the value it is reported under: itself, or its bin's median when a renderer
    draws strengths at random (more than 12 distinct values)."""
    distinct = sorted(set(values))
    if len(distinct) <= 12:
        return {v: v for v in distinct}
    edges = np.quantile(distinct, np.linspace(0, 1, 9))
    out = {}
    for v in distinct:
        b = min(7, int(np.searchsorted(edges, v, side="right")) - 1)
        members = [x for x in distinct if edges[b] <= x <= edges[b + 1]]
        out[v] = float(np.median(members))
    return out


def threshold_point(rows: list[dict[str, Any]], level: float, descending: bool
                    ) -> float | None:
    """The weakest strength from which recall stays at or above `level` at every stronger one."""
    order = sorted(rows, key=lambda r: r["strength"], reverse=not descending)
    # from the strongest end towards the weakest, while recall holds
    best = None
    for r in order:
        if r["recall"] >= level:
            best = r["strength"]
        else:
            break
    return best


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per part, kind and family: recall by strength, 50/90 % points, latency, errors."""
    out: dict[str, Any] = {}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    units: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in results:
        if r["fault"] is not None:
            units[(r["part"], r["kind"], r["family"])].add(r["strength_unit"])
    for r in results:
        key = (r["part"], r["kind"], r["family"])
        # A family swept in two units (moved: shift and rotation) gets a row per unit.
        fam = (f"{r['family']} [{r['strength_unit']}]" if len(units[key]) > 1
               else r["family"])
        groups[(r["part"], r["kind"], fam)].append(r)
    for (part, kind, fam), rs in sorted(groups.items()):
        faulty = [r for r in rs if r["fault"] is not None]
        entry: dict[str, Any] = {"cases": len(rs), "fault": rs[0]["fault"],
                                 "unit": rs[0]["strength_unit"]}
        entry["false_alerts"] = sum(len(r["score"]["false"]) for r in rs)
        entry["wrong"] = dict(Counter(f for r in faulty for f in r["score"]["wrong"]))
        if faulty:
            b = _bins([r["strength"] for r in faulty])
            by: dict[float, list[dict[str, Any]]] = defaultdict(list)
            for r in faulty:
                by[b[r["strength"]]].append(r)
            rows = []
            for s, group in sorted(by.items()):
                hits = [r for r in group if r["score"]["hit"]]
                lat = [r["score"]["latency"] for r in hits]
                rows.append({"strength": s, "n": len(group), "hits": len(hits),
                             "recall": len(hits) / len(group),
                             "median_latency": statistics.median(lat) if lat else None})
            desc = entry["unit"] in DESCENDING_UNITS
            entry["by_strength"] = rows
            entry["descending"] = desc
            entry["p50"] = threshold_point(rows, 0.5, desc)
            entry["p90"] = threshold_point(rows, 0.9, desc)
            hits = [r for r in faulty if r["score"]["hit"]]
            entry["hits"] = len(hits)
            entry["recall"] = len(hits) / len(faulty)
            lat = [r["score"]["latency"] for r in hits]
            lat_due = [r["score"]["latency_due"] for r in hits]
            entry["median_latency"] = statistics.median(lat) if lat else None
            entry["median_latency_due"] = statistics.median(lat_due) if lat_due else None
            p90 = entry["p90"]
            if p90 is not None:
                above = [r for r in hits if (r["strength"] <= p90 if desc
                                             else r["strength"] >= p90)]
                lat90 = [r["score"]["latency"] for r in above]
                entry["median_latency_from_p90"] = statistics.median(lat90) if lat90 else None
        encoded = [r for r in rs if r.get("encoded")]
        if encoded:
            entry["encoded"] = {
                "cases": len(encoded),
                "rendered_hits": sum(bool(r["score"]["hit"]) for r in encoded),
                "encoded_hits": sum(bool(r["encoded"]["score"]["hit"]) for r in encoded),
                "rendered_false": sum(len(r["score"]["false"]) for r in encoded),
                "encoded_false": sum(len(r["encoded"]["score"]["false"]) for r in encoded)}
        out.setdefault(part, {}).setdefault(kind, {})[fam] = entry
    return out


# ------------------------------------------------------------------------------------------
# running


def run_analyze(files: list[str]) -> tuple[dict[str, list[dict[str, Any]]], float, str]:
    """ONE `lenswatch analyze --json` process over every encoded clip: events per file, the
    process's CPU seconds, and its stderr (an unreadable file is named there)."""
    cmd = [sys.executable, "-m", "lenswatch.cli", "analyze", "--json", "--progress", "off",
           *files]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    before = os.times()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    after = os.times()
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    events: dict[str, list[dict[str, Any]]] = {f: [] for f in files}
    for line in proc.stdout.splitlines():
        with contextlib.suppress(ValueError):
            d = json.loads(line)
            if d.get("camera") in events:
                events[d["camera"]].append(_event(d["fault"], d["state"], d["t"],
                                                  d.get("confidence", 0.0),
                                                  d.get("evidence", {})))
    return events, cpu, proc.stderr


def _case_record(part: str, kind: str, c: Any) -> dict[str, Any]:
    return {"part": part, "kind": kind, "name": c.name, "family": c.family, "fault": c.fault,
            "strength": float(c.strength), "strength_unit": c.strength_unit, "scene": c.scene,
            "night": bool(c.night), "width": c.width, "height": c.height,
            "duration": c.duration, "onset": c.onset, "due": c.due, "fps": c.fps,
            "gop_s": c.gop_s, "bitrate_kbps": c.bitrate_kbps, "codec": c.codec,
            "encode": bool(c.encode),
            "params": {k: v for k, v in (c.params or {}).items() if not k.startswith("_")}}


def run(parts: list[str], kinds: list[str], *, quick: bool = False, jobs: int = 2,
        seed: int = 0, out: Path | None = None, encode: bool = True,
        encode_per_family: int = 2, max_quick_encodes: int = 3,
        families: set[str] | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Run the envelope; returns {"meta", "cases", "summary"} (also written to `out`)."""
    wall0 = time.monotonic()
    # CPU of this process and of every child it waited for (the pool's workers, including
    # their start-up, and the analyze process).
    t0 = os.times()
    cpu0 = t0.user + t0.system + t0.children_user + t0.children_system
    available, missing = [], {}
    for part in parts:
        try:
            load_part(part)
            available.append(part)
        except PartMissing as exc:
            missing[part] = str(exc)
            print(f"envelope: {exc}", file=sys.stderr)
    jobs_list = [(p, k) for p in available for k in kinds]
    _init_worker(jobs_list, quick, seed)
    if families:
        _STATE["cases"] = {k: c for k, c in _STATE["cases"].items() if c.family in families}
    cases = _STATE["cases"]
    tasks: list[tuple[str, tuple]] = []
    # Encoded clips are scratch (tens of MB), never next to the report that gets committed.
    enc_dir = ROOT / "benchmarks" / "out" / "envelope_clips"
    enc_dir.mkdir(parents=True, exist_ok=True)
    to_encode: list[tuple[str, str, str]] = []
    for part, kind in jobs_list:
        cs = sorted((c for (p, k, _), c in cases.items() if p == part and k == kind),
                    key=lambda c: (c.duration, c.width * c.height))
        step = BATCH[kind]
        for i in range(0, len(cs), step):
            tasks.append(("chunk", (part, kind, [c.name for c in cs[i:i + step]])))
        per_fam: Counter[str] = Counter()
        marked = [c for c in cs if c.encode]
        # Spread over the strengths: every k-th of a family's marked cases by strength.
        by_fam: dict[str, list[Any]] = defaultdict(list)
        for c in sorted(marked, key=lambda c: (c.strength, c.name)):
            by_fam[c.family].append(c)
        for fam, group in sorted(by_fam.items()):
            n = min(len(group), encode_per_family) if encode else 0
            for j in range(n):
                c = group[int((j + 0.5) * len(group) / n)]
                per_fam[fam] += 1
                to_encode.append((part, kind, c.name))
        if encode and quick:
            to_encode = to_encode[:max_quick_encodes]
    tasks += [("encode", (p, k, n, str(enc_dir))) for p, k, n in to_encode]
    # Longest first, so the pool's last minutes are not one straggler.
    def weight(t: tuple[str, tuple]) -> float:
        what, a = t
        if what == "chunk":
            return max(cases[(a[0], a[1], n)].duration for n in a[2]) * len(a[2])
        return cases[(a[0], a[1], a[2])].duration * 3  # every frame, then the encoder

    tasks.sort(key=weight, reverse=True)
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(tasks), unit="task", desc="envelope", disable=not show,
               file=sys.stderr)
    chunk_out: dict[tuple[str, str, str], dict[str, Any]] = {}
    enc_out: dict[tuple[str, str, str], dict[str, Any]] = {}
    worker_cpu = 0.0
    if jobs <= 1:
        results = (_call(t) for t in tasks)
        pool = None
    else:
        pool = mp.get_context("fork").Pool(jobs, _init_worker, (jobs_list, quick, seed))
        results = pool.imap_unordered(_call, tasks)
    try:
        for what, args, res, cpu in results:
            worker_cpu += cpu
            if what == "chunk":
                for r in res:
                    chunk_out[(args[0], args[1], r["name"])] = r
            else:
                enc_out[(args[0], args[1], args[2])] = res
            bar.update(1)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        bar.close()
    analyze_cpu, analyze_err = 0.0, ""
    enc_events: dict[str, list[dict[str, Any]]] = {}
    if enc_out:
        enc_events, analyze_cpu, analyze_err = run_analyze(
            [e["file"] for e in enc_out.values()])
    records = []
    for (part, kind, name), c in cases.items():
        rec = _case_record(part, kind, c)
        r = chunk_out.get((part, kind, name))
        if r is None:
            continue
        rec.update(events=r["events"], samples=r["samples"], render_cpu_s=r["render_cpu_s"],
                   pipeline_cpu_s=r["pipeline_cpu_s"])
        rec["score"] = score(c, kind, r["events"])
        e = enc_out.get((part, kind, name))
        if e is not None:
            ev = enc_events.get(e["file"], [])
            rec["encoded"] = {"file": os.path.relpath(e["file"], ROOT), "bytes": e["bytes"],
                              "encode_cpu_s": e["cpu_s"], "events": ev,
                              "score": score(c, kind, ev)}
        records.append(rec)
    records.sort(key=lambda r: (r["part"], r["kind"], r["family"], r["strength"], r["name"]))
    settings, interval = analyze_defaults()
    meta = {
        "command": "python -m benchmarks.envelope " + " ".join(sys.argv[1:]),
        "parts": available, "missing_parts": missing, "kinds": kinds, "quick": quick,
        "seed": seed, "jobs": jobs, "sample_interval": interval,
        "faults_checked": list(settings.faults),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_s": round(time.monotonic() - wall0, 1),
        "cpu_s": round(_cpu_now() - cpu0, 1),
        "worker_task_cpu_s": round(worker_cpu, 1),
        "analyze_cpu_s": round(analyze_cpu, 1), "encoded_clips": len(enc_out),
        "analyze_stderr": analyze_err.strip()[-2000:],
        "cpu": _cpu_name(), "cores": os.cpu_count(),
    }
    report = {"meta": meta, "summary": summarise(records), "cases": records}
    if out is not None:
        write_outputs(report, out)
    return report


def _cpu_now() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cpu_name() -> str:
    with contextlib.suppress(OSError, StopIteration):
        return next(ln.split(":", 1)[1].strip() for ln in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name"))
    return "unknown CPU"


# ------------------------------------------------------------------------------------------
# outputs


def _fmt(v: float | None, nd: int = 1) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:g}"


def spec_line(fam: str, e: dict[str, Any]) -> str:
    """One spec-sheet sentence for a family."""
    unit = e["unit"]
    side = "at or below" if e.get("descending") else "from"
    if e.get("p90") is None:
        p50 = e.get("p50")
        tail = (f"below 90 % at every {unit} swept"
                + (f" (50 % {side} {unit} {p50:g})" if p50 is not None else ""))
        return f"{fam} ({e['fault']}): {tail}"
    lat = e.get("median_latency_from_p90")
    return (f"{fam} ({e['fault']}): found in 90 % of cases {side} {unit} {e['p90']:g}"
            + (f", median {lat:.0f} s after onset" if lat is not None else ""))


def render_markdown(report: dict[str, Any], plots: list[tuple[str, str]]) -> str:
    """The human report: spec sheet, recall by strength, errors, codec, long, slow."""
    meta, summ, recs = report["meta"], report["summary"], report["cases"]
    L = ["# Detection envelope", "",
         f"Command: `{meta['command']}`; {meta['date_utc']}; {meta['cpu']}, {meta['cores']} "
         f"cores (shared). Wall {meta['wall_s']:.0f} s, CPU {meta['cpu_s']:.0f} s (workers, "
         f"`analyze` {meta['analyze_cpu_s']:.0f} s over {meta['encoded_clips']} encoded clips). "
         f"A sample every {meta['sample_interval']:g} s; faults checked (analyze's defaults): "
         f"{', '.join(meta['faults_checked'])}."]
    for part, why in meta["missing_parts"].items():
        L += ["", f"**{part} part not run:** {why}"]
    L += ["", "Scoring: a hit is a raise of the expected fault between onset and max(onset + "
          "20 s, due + 10 s) (slow onsets: due + 1 h); latency from onset. A wrong fault is any "
          "other fault raised after onset; a false alert any raise before onset or on a "
          "healthy case."]
    for part, kinds in summ.items():
        L += ["", f"## {part} part"]
        sweep = kinds.get("sweep", {})
        faulty = {f: e for f, e in sweep.items() if e["fault"] is not None}
        if faulty:
            L += ["", "### Spec sheet", ""]
            L += [f"- {spec_line(f, e)}" for f, e in faulty.items()]
            L += ["", "| family | fault | cases | recall | 50 % from | 90 % from | median "
                  "latency (s) | median after due (s) | wrong faults | false alerts |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
            for f, e in faulty.items():
                wrong = ", ".join(f"{k} {v}" for k, v in sorted(e["wrong"].items())) or "–"
                L.append(f"| {f} | {e['fault']} | {e['cases']} | {e['hits']}/{e['cases']} | "
                         f"{_s(e['p50'])} {e['unit']} | {_s(e['p90'])} {e['unit']} | "
                         f"{_fmt(e['median_latency'])} | {_fmt(e['median_latency_due'])} | "
                         f"{wrong} | {e['false_alerts']} |")
            L += ["", "### Recall by strength", "",
                  "| family | strength | cases | hits | recall | median latency (s) |",
                  "|---|---:|---:|---:|---:|---:|"]
            for f, e in faulty.items():
                for r in e["by_strength"]:
                    L.append(f"| {f} | {r['strength']:g} {e['unit']} | {r['n']} | {r['hits']} "
                             f"| {r['recall']:.0%} | {_fmt(r['median_latency'])} |")
        healthy = [r for r in recs if r["part"] == part and r["kind"] == "sweep"
                   and r["fault"] is None]
        if healthy:
            bad = [r for r in healthy if r["score"]["false"]]
            L += ["", "### False alerts on healthy cases", "",
                  f"{len(bad)} of {len(healthy)} healthy cases raised anything "
                  f"({sum(len(r['score']['false']) for r in bad)} raises)."]
            for r in bad:
                L.append(f"- `{r['name']}`: " + ", ".join(
                    f"{f} at {t:.0f} s" for f, t in r["score"]["false"]))
        pre = [r for r in recs if r["part"] == part and r["kind"] == "sweep"
               and r["fault"] is not None and r["score"]["false"]]
        if pre:
            L += ["", f"Raises before onset on fault cases: {len(pre)} cases: " + ", ".join(
                f"`{r['name']}` ({', '.join(f for f, _ in r['score']['false'])})"
                for r in pre[:20]) + (" ..." if len(pre) > 20 else "")]
        wrong = [r for r in recs if r["part"] == part and r["kind"] == "sweep"
                 and r["score"]["wrong"]]
        if wrong:
            by = Counter((r["family"], w) for r in wrong for w in r["score"]["wrong"])
            L += ["", "### Wrong faults (raised after onset, other than expected)", "",
                  "| family | raised as | cases |", "|---|---|---:|"]
            L += [f"| {f} | {w} | {n} |" for (f, w), n in sorted(by.items())]
        enc = [r for r in recs if r["part"] == part and r.get("encoded")]
        if enc:
            L += ["", "### Encoded clips beside the rendered samples", "",
                  "Each clip encoded at its fps, GOP and bit rate and run through one "
                  "`lenswatch analyze --json` process.", "",
                  "| case | codec | kbit/s | GOP s | rendered | encoded |",
                  "|---|---|---:|---:|---|---|"]
            for r in enc:
                L.append(f"| `{r['name']}` | {r['codec']} | {r['bitrate_kbps']} | "
                         f"{r['gop_s']:g} | {_outcome(r['score'], r)} | "
                         f"{_outcome(r['encoded']['score'], r)} |")
        long = [r for r in recs if r["part"] == part and r["kind"] == "long"]
        if long:
            hours = sum(r["samples"] * meta["sample_interval"] for r in long) / 3600
            k = sum(len(r["score"]["false"]) for r in long)
            by = Counter(f for r in long for f, _ in r["score"]["false"])
            L += ["", "### Long healthy runs", "",
                  f"{len(long)} cameras, {hours:.1f} camera-hours sampled every "
                  f"{meta['sample_interval']:g} s: **{k} false alerts** "
                  f"({', '.join(f'{f} {n}' for f, n in by.items()) or 'none'}); rate "
                  f"{k / max(hours, 1e-9):.3f} per camera-hour, below "
                  f"{poisson_upper(k, hours):.4f} per camera-hour at 95 % "
                  f"({100 * poisson_upper(k, hours):.2f} per 100 camera-hours)."]
            for r in long:
                if r["score"]["false"]:
                    L.append(f"- `{r['name']}`: " + ", ".join(
                        f"{f} at {t / 3600:.2f} h" for f, t in r["score"]["false"]))
        slow = [r for r in recs if r["part"] == part and r["kind"] == "slow"]
        if slow:
            L += ["", "### Slow onsets (hit: raised by due + 1 h)", "",
                  "| case | fault | onset (h) | due (h) | raised (h) | hit | wrong | false |",
                  "|---|---|---:|---:|---:|---|---|---|"]
            for r in slow:
                s = r["score"]
                lat = s["latency"] if s["latency"] is not None else s["late"]
                raised = None if lat is None else (r["onset"] + lat) / 3600
                L.append(f"| `{r['name']}` | {r['fault']} | {r['onset'] / 3600:.2f} | "
                         f"{r['due'] / 3600:.2f} | {_fmt(raised, 2)} | "
                         f"{'yes' if s['hit'] else 'no'} | {', '.join(s['wrong']) or '–'} | "
                         f"{', '.join(f for f, _ in s['false']) or '–'} |")
    if plots:
        L += ["", "## Plots", ""]
        L += [f"![{cap}]({name})\n\n*{cap}*\n" for name, cap in plots]
    return "\n".join(L) + "\n"


def _outcome(s: dict[str, Any], r: dict[str, Any]) -> str:
    if r["fault"] is None:
        return ", ".join(f"{f}@{t:.0f}s" for f, t in s["false"]) or "quiet"
    txt = f"hit {s['latency']:.0f} s" if s["hit"] else (
        f"late {s['late']:.0f} s" if s["late"] is not None else "miss")
    if s["wrong"]:
        txt += " + " + ",".join(s["wrong"])
    if s["false"]:
        txt += " (pre-onset " + ",".join(f for f, _ in s["false"]) + ")"
    return txt


def plot(report: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    """Recall against strength per family (50/90 % marked, median latency), one PNG a part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for part, kinds in report["summary"].items():
        fams = {f: e for f, e in kinds.get("sweep", {}).items() if e.get("by_strength")}
        if not fams:
            continue
        n = len(fams)
        cols = 4
        rows = math.ceil(n / cols)
        fig, axs = plt.subplots(rows, cols, figsize=(4 * cols, 3.1 * rows), squeeze=False)
        for ax, (fam, e) in zip(axs.flat, fams.items(), strict=False):
            xs = [r["strength"] for r in e["by_strength"]]
            ys = [r["recall"] for r in e["by_strength"]]
            ax.plot(xs, ys, "o-", color="C0")
            for r in e["by_strength"]:
                ax.annotate(str(r["n"]), (r["strength"], r["recall"]), fontsize=6,
                            xytext=(2, -8), textcoords="offset points", color="grey")
            ax.set_ylim(-0.05, 1.05)
            ax.axhline(0.9, color="C2", lw=0.6, ls=":")
            ax.axhline(0.5, color="C1", lw=0.6, ls=":")
            for key, col in (("p50", "C1"), ("p90", "C2")):
                if e.get(key) is not None:
                    ax.axvline(e[key], color=col, lw=1.0, ls="--",
                               label=f"{key[1:]} %: {e[key]:g}")
            ax2 = ax.twinx()
            lx = [r["strength"] for r in e["by_strength"] if r["median_latency"] is not None]
            ly = [r["median_latency"] for r in e["by_strength"]
                  if r["median_latency"] is not None]
            ax2.plot(lx, ly, "s", color="C3", ms=3, alpha=0.7)
            ax2.set_ylim(0, max([30.0, *ly]) * 1.1)
            ax2.tick_params(labelsize=6, colors="C3")
            ax.set_title(f"{fam} ({e['fault']})", fontsize=9)
            ax.set_xlabel(e["unit"], fontsize=8)
            ax.tick_params(labelsize=7)
            if e.get("descending"):
                ax.invert_xaxis()
            if e.get("p50") is not None or e.get("p90") is not None:
                ax.legend(fontsize=6, loc="lower right")
        for ax in list(axs.flat)[n:]:
            ax.axis("off")
        fig.suptitle(f"{part} part: recall against strength (blue, left axis; case counts "
                     f"in grey) and median latency in s (red squares, right axis)", fontsize=10)
        fig.tight_layout()
        name = f"recall_{part}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        made.append((name, f"{part} part: recall per family against strength, 50 % and 90 % "
                           "points, median latency"))
    return made


def write_outputs(report: dict[str, Any], out: Path) -> None:
    """envelope.json (every case), envelope.md, PNG plots, under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "envelope.json").write_text(json.dumps(report, indent=1, default=str))
    try:
        plots = plot(report, out)
    except ImportError as exc:
        print(f"envelope: no plots ({exc})", file=sys.stderr)
        plots = []
    (out / "envelope.md").write_text(render_markdown(report, plots))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.envelope",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=(*PARTS, "both"), default="both")
    ap.add_argument("--kind", choices=(*KINDS, "all"), default="sweep")
    ap.add_argument("--quick", action="store_true", help="a few cases per family")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "report" / "envelope")
    ap.add_argument("--family", action="append", metavar="FAMILY",
                    help="only this family (repeatable), e.g. --family foliage")
    ap.add_argument("--no-encode", action="store_true",
                    help="skip the encoded clips and the analyze run over them")
    ap.add_argument("--encode-per-family", type=int, default=2,
                    help="at most this many encoded clips per family (default 2; --quick "
                         "encodes 3 in all): each costs ~10-30 CPU-s to render and encode")
    args = ap.parse_args(argv)
    parts = list(PARTS) if args.part == "both" else [args.part]
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    rep = run(parts, kinds, quick=args.quick, jobs=args.jobs, seed=args.seed, out=args.out,
              encode=not args.no_encode, encode_per_family=args.encode_per_family,
              families=set(args.family) if args.family else None)
    meta = rep["meta"]
    print(f"envelope: {len(rep['cases'])} cases, wall {meta['wall_s']:.0f} s, CPU "
          f"{meta['cpu_s']:.0f} s -> {args.out / 'envelope.md'}")
    for part, kinds_ in rep["summary"].items():
        for fam, e in kinds_.get("sweep", {}).items():
            if e["fault"] is not None:
                print(f"  {part}: {spec_line(fam, e)}")
    if not meta["parts"]:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
