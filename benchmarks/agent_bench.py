"""Edge agent benchmark: cameras per core at one sample per keyframe, end-to-end vs bare decode.

    .venv/bin/python benchmarks/agent_bench.py                 # full run, prints a table
    .venv/bin/python benchmarks/agent_bench.py --quick         # smaller, for a smoke check
    .venv/bin/python benchmarks/agent_bench.py --interval 4    # one sample every other GOP

For each resolution (1080p, 720p, 704x576; H.264, 25 fps, GOP 2 s, no B-frames) one GStreamer
RTSP server serves a looping clip and, in the same run and against the same streams,
four clients are measured one after the other with N simultaneous connections each:

- bare-key:  PyAV alone: demux every packet, decode keyframes only (the cost to beat);
- bare-key-agent: the same with the agent's ingest settings (keyframes without the deblocking
             filter, socket read timeout, paced reads), so both ratios can be read;
- all-frames: PyAV alone, decoding every frame (what a naive agent would pay);
- agent:     the real `lenswatch agent` process, end to end: ingest via edge_agent.sources,
             the pipeline Monitor, outbox, uplink to a real ingest server, metrics.

Each client's CPU (user+system, from /proc) is read over a fixed window after a warm-up, and
divided by the camera-samples it produced (keyframes for the bare clients, analysed samples
for the agent). Cameras per core = sample interval / CPU per sample. The RTSP and ingest
servers run in their own processes and are not counted. Results go to stdout and, with
--write, into the "## Edge agent" section of benchmarks/RESULTS.md (its own section for
another --interval).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESOLUTIONS = {"1080p": (1920, 1080), "720p": (1280, 720), "704x576": (704, 576)}
FPS = 25
GOP_S = 2.0
OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32",
           "fpsprobesize": "0"}
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a process (all threads), from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_memory(pid: int) -> dict[str, float]:
    """Resident memory of a process in MB: now (VmRSS) and its peak so far (VmHWM)."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(value.split()[0]) / 1024
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Clients measured per stream, in this order; the bare ones by their bare_worker mode.
CLIENTS = ("bare-key", "bare-key-agent", "all-frames", "agent")
BARE_MODES = {"bare-key": "key", "bare-key-agent": "key-agent", "all-frames": "all"}


# -- the bare PyAV clients (run as a subprocess: `agent_bench.py bare URL N MODE`) -----------

#: The agent's own ingest settings (edge_agent.sources), for the "same settings" bare client:
#: the read timeout in FFmpeg's socket layer instead of PyAV's interrupt callback, keyframes
#: decoded without the deblocking filter, and reads paced by sources.ReadPacer.
AGENT_OPTIONS = {**OPTIONS, "timeout": "5000000"}


def bare_worker(url: str, n: int, mode: str, every: int = 1) -> None:
    """N threads reading the stream; prints the running count of samples on demand.

    mode: "key" (plain PyAV, default decoder), "key-agent" (the agent's decoder, timeout and
    pacing settings), "all" (decode every frame). A sample is every `every`-th keyframe (the sample
    interval in GOPs); the keyframe modes decode only those."""
    import av

    count = [0]
    lock = threading.Lock()

    def one() -> None:
        while True:
            try:
                if mode == "key-agent":
                    c = av.open(url, options=AGENT_OPTIONS, timeout=(5, None))
                else:
                    c = av.open(url, options=OPTIONS, timeout=(5, 5))
                st = c.streams.video[0]
                ctx = st.codec_context
                ctx.thread_type = "NONE"
                keys = 0
                pacer = None
                if mode == "key-agent":
                    from edge_agent.sources import ReadPacer, keyframe_decoder

                    # The agent's keyframe decoder settings, kept for the whole connection
                    # (the agent takes a fresh one per keyframe, for memory).
                    ctx = keyframe_decoder(ctx)
                    pacer = ReadPacer()
                tb = float(st.time_base)
                for pkt in c.demux(st):
                    if pkt.size == 0:
                        continue
                    if pacer is not None:
                        pacer.after(pkt.pts * tb if pkt.pts is not None else None, pkt.size)
                    due = False
                    if pkt.is_keyframe:
                        due = keys % every == 0
                        keys += 1
                    if mode != "all":
                        if not due:
                            continue
                        frames = ctx.decode(pkt)
                        for f in frames:
                            f.planes[0]  # touch the picture like a consumer would
                    else:
                        for f in ctx.decode(pkt):
                            f.planes[0]
                    if due:
                        with lock:
                            count[0] += 1
            except Exception as exc:  # noqa: BLE001
                print(f"worker error {exc}", file=sys.stderr, flush=True)
                time.sleep(0.5)

    for _ in range(n):
        threading.Thread(target=one, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "count":
            with lock:
                print(count[0], flush=True)
        else:
            return


class BareClient:
    def __init__(self, url: str, n: int, mode: str, every: int = 1) -> None:
        self.p = subprocess.Popen([sys.executable, __file__, "bare", url, str(n), mode,
                                   str(every)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def samples(self) -> int:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write("count\n")
        self.p.stdin.flush()
        return int(self.p.stdout.readline())

    def stop(self) -> None:
        self.p.kill()
        self.p.wait()


class AgentClient:
    def __init__(self, url: str, n: int, workdir: Path, collector_url: str,
                 interval: float = GOP_S) -> None:
        import yaml

        self.mport = free_port()
        cams = [{"compound": "bench", "id": f"cam{i:03d}", "url": url} for i in range(n)]
        cfg = {
            "agent": {"id": "bench", "metrics_listen": f"127.0.0.1:{self.mport}",
                      "data_dir": str(workdir), "log_level": "WARNING",
                      "mode": "continuous", "max_open_streams": max(64, n)},
            "collector": {"url": collector_url, "token": "${LENSWATCH_TOKEN}"},
            "outbox": {"heartbeat_interval": 30},
            "defaults": {"sample_interval": interval, "signal_loss_grace": 20},
            "cameras": cams,
        }
        path = workdir / "edge.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "LENSWATCH_TOKEN": "bench-token", "PYTHONPATH": str(ROOT)}
        self.log = open(workdir / "agent.log", "wb")  # noqa: SIM115
        self.p = subprocess.Popen([sys.executable, "-m", "edge_agent", "agent", "--config",
                                   str(path)], env=env, cwd=ROOT, stdout=self.log,
                                  stderr=subprocess.STDOUT)

    def _sum(self, text: str, name: str) -> float:
        return sum(float(v) for v in re.findall(rf'^{name}\{{[^}}]*\}} (\S+)$', text, re.M))

    def scrape(self) -> dict[str, float]:
        """Samples and the agent's own decode/detect seconds, from its /metrics."""
        import httpx

        for _ in range(50):
            try:
                text = httpx.get(f"http://127.0.0.1:{self.mport}/metrics", timeout=5).text
                return {"samples": self._sum(text, "lenswatch_agent_samples_total"),
                        "decode": self._sum(text, "lenswatch_agent_decode_seconds_sum"),
                        "detect": self._sum(text, "lenswatch_agent_detect_seconds_sum")}
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("agent metrics not reachable")

    def samples(self) -> int:
        return int(self.scrape()["samples"])

    def stop(self) -> None:
        self.p.terminate()
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


def measure(client, warmup: float, window: float) -> dict[str, float]:
    """CPU and samples of one client over `window` seconds after `warmup`."""
    time.sleep(warmup)
    x0 = client.scrape() if hasattr(client, "scrape") else {}
    s0, c0, t0 = client.samples(), proc_cpu(client.p.pid), time.monotonic()
    time.sleep(window)
    s1, c1, t1 = client.samples(), proc_cpu(client.p.pid), time.monotonic()
    x1 = client.scrape() if hasattr(client, "scrape") else {}
    # Peak resident memory over the whole life of the client process (warm-up included):
    # what an edge box must have room for, not a reading that could miss a spike.
    mem = proc_memory(client.p.pid)
    client.stop()
    out = {"cpu": c1 - c0, "samples": s1 - s0, "wall": t1 - t0, **mem}
    if x0 and x1:
        n = max(1.0, x1["samples"] - x0["samples"])
        # Where the agent's CPU per sample goes: its decode threads (demux, decode,
        # thumbnail; thread CPU time), the Monitor (wall time of the batch, shared out).
        out["decode_ms"] = (x1["decode"] - x0["decode"]) / n * 1000
        out["detect_ms"] = (x1["detect"] - x0["detect"]) / n * 1000
    return out


#: x264 quality of the benchmark streams: ~0.75 Mbit/s at 1080p on the synthetic scene.
#: Real main streams run at 2-4 Mbit/s; --crf 20 gives ~3.7 Mbit/s, for the memory a high bit
#: rate costs (the look-back buffer holds up to one GOP of packets per camera).
CRF = 26


def make_clips(data: Path, names: list[str], seconds: float,
               crf: int = CRF) -> dict[str, Path]:
    from edge_agent.clips import make_clip

    out = {}
    for name in names:
        w, h = RESOLUTIONS[name]
        tag = "" if crf == CRF else f"_crf{crf}"
        out[name] = make_clip(data / f"bench_{name}_{FPS}fps_{seconds:g}s{tag}.h264", width=w,
                              height=h, fps=FPS, seconds=seconds, gop_seconds=GOP_S, crf=crf,
                              preset="veryfast")
    return out


def bitrate_mbps(path: Path, seconds: float) -> float:
    """The clip's bit rate, as the stream a camera would send."""
    return path.stat().st_size * 8 / seconds / 1e6


def run(args: argparse.Namespace) -> list[dict]:
    data = ROOT / "benchmarks" / "data"
    names = args.resolutions
    every = max(1, round(args.interval / GOP_S))
    if abs(every * GOP_S - args.interval) > 1e-6:
        raise SystemExit(f"--interval must be a multiple of the {GOP_S:g} s GOP")
    clips = make_clips(data, names, args.clip_seconds, args.crf)
    port = free_port()
    cmd = ["/usr/bin/python3", str(ROOT / "edge_agent" / "rtsp_server.py"), "--port",
           str(port), "--fps", str(FPS)]
    for name, path in clips.items():
        cmd += ["--mount", f"{name}={path}"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert server.stdout and server.stdout.readline().startswith("READY")
    work = data / "run"
    work.mkdir(parents=True, exist_ok=True)
    ing_port = free_port()
    ingest = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "agent" / "ingest_server.py"), "--port",
         str(ing_port), "--db", str(work / "ingest.db"), "--token", "bench-token"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        for name in names:
            n = args.cameras.get(name, 16)
            url = f"rtsp://127.0.0.1:{port}/{name}"
            row: dict = {"resolution": name, "cameras": n, "interval": args.interval,
                         "mbps": bitrate_mbps(clips[name], args.clip_seconds),
                         "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            for label in CLIENTS:
                if label == "agent":
                    d = work / f"agent_{name}"
                    if d.exists():
                        for f in d.iterdir():
                            f.unlink()
                    d.mkdir(exist_ok=True)
                    client = AgentClient(url, n, d, f"http://127.0.0.1:{ing_port}",
                                         args.interval)
                else:
                    client = BareClient(url, n, BARE_MODES[label], every)
                m = measure(client, args.warmup, args.window)
                per_sample = m["cpu"] / max(1, m["samples"])
                # One sample per interval per camera: a core sustains interval / (CPU per
                # sample) cameras. (Not N x wall / CPU: a client that cannot keep up, like
                # decoding every frame of 16 x 1080p on this box, would look cheaper than
                # it is.)
                per_core = args.interval / per_sample if per_sample > 0 else float("inf")
                row[label] = {**m, "cpu_per_sample_ms": per_sample * 1000,
                              "cameras_per_core": per_core}
                print(f"{name:8s} {label:10s} N={n:3d} samples={m['samples']:5d} "
                      f"cpu={m['cpu']:.2f}s/{m['wall']:.1f}s "
                      f"cpu/sample={per_sample * 1000:.2f} ms cams/core={per_core:.0f} "
                      f"peak RSS={m['peak_rss_mb']:.0f} MB", flush=True)
            row["ratio"] = (row["agent"]["cpu_per_sample_ms"]
                            / row["bare-key"]["cpu_per_sample_ms"])
            row["ratio_same"] = (row["agent"]["cpu_per_sample_ms"]
                                 / row["bare-key-agent"]["cpu_per_sample_ms"])
            rows.append(row)
    finally:
        server.terminate()
        ingest.terminate()
        server.wait(10)
        ingest.wait(10)
    return rows


def render(rows: list[dict], args: argparse.Namespace) -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    interval = rows[0].get("interval", GOP_S) if rows else GOP_S
    # When the run started (a --render-only rerender keeps it); older raw files lack it.
    when = (rows[0].get("when") if rows else None) or time.strftime("%Y-%m-%d %H:%M UTC",
                                                                     time.gmtime())
    every = max(1, round(interval / GOP_S))
    sampling = "per keyframe" if every == 1 else f"every {every} keyframes ({interval:g} s)"
    command = "benchmarks/agent_bench.py --write" + (
        "" if every == 1 else f" --interval {interval:g}")
    lines = [
        heading(interval),
        "",
        f"Command: `.venv/bin/python {command}` "
        "(any Python with the project installed; /usr/bin/python3 must have python3-gi).",
        "",
        f"Box: {cpu}, {os.cpu_count()} cores shared with other work; "
        f"Python {platform.python_version()}; {when}."
        f" Streams: H.264 {FPS} fps, GOP {GOP_S:g} s, no B-frames, from GStreamer's RTSP "
        f"server over TCP on loopback; one sample {sampling}; {args.window:g} s window "
        f"after {args.warmup:g} s warm-up per client.",
        "",
        "CPU per camera-sample (user+system of the client process over the window, divided "
        f"by the samples it produced) and cameras per core (= {interval:g} s sample interval / "
        "CPU per sample), same streams, same run. *Bare PyAV keyframes* is the plain "
        "keyframe-only decode with FFmpeg's default decoder settings (the baseline of the "
        "targets); *same settings* decodes the same keyframes with the agent's ingest "
        "settings (no deblocking filter on keyframes decoded alone, the read timeout in "
        "FFmpeg's socket layer rather than PyAV's interrupt callback, reads paced by "
        "ReadPacer; see edge_agent/sources.py):",
        "",
        "| stream | N | bare PyAV keyframes | bare PyAV keyframes, same settings | "
        "bare PyAV every frame | agent end-to-end | agent / bare keyframes | "
        "agent / bare, same settings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def cell(k: str, r: dict = r) -> str:
            if k not in r:
                return "-"
            return (f"{r[k]['cpu_per_sample_ms']:.2f} ms, "
                    f"{r[k]['cameras_per_core']:.0f} cams/core")
        same = f"{r['ratio_same']:.2f}x" if "ratio_same" in r else "-"
        lines.append(f"| {r['resolution']} | {r['cameras']} | {cell('bare-key')} | "
                     f"{cell('bare-key-agent')} | {cell('all-frames')} | {cell('agent')} | "
                     f"{r['ratio']:.2f}x | {same} |")
    lines += ["", "Where the agent's CPU per sample goes (from its own /metrics over the same "
              "window): decode = thread CPU of demux + keyframe decode + thumbnail; detect = "
              "the pipeline Monitor (ONNX feature graph + per-camera judgement); rest = "
              "everything else (scheduling, outbox, uplink, metrics, GIL hand-offs); it can come "
              "out slightly negative, since the per-thread sums and the process CPU are read "
              "a moment apart.", "",
              "| stream | decode | detect | rest | total |", "|---|---|---|---|---|"]
    for r in rows:
        a = r["agent"]
        if "decode_ms" in a:
            rest = a["cpu_per_sample_ms"] - a["decode_ms"] - a["detect_ms"]
            lines.append(f"| {r['resolution']} | {a['decode_ms']:.2f} ms | "
                         f"{a['detect_ms']:.2f} ms | {rest:.2f} ms | "
                         f"{a['cpu_per_sample_ms']:.2f} ms |")
    targets = {"1080p": 60, "704x576": 150}
    scope = "" if every == 1 else (" (defined at the 2 s interval, section above; shown "
                                   "here for reference)")
    lines += ["", f"Targets{scope}: agent <= 1.25x bare keyframe decode; >= 60 cameras/core "
              "at 1080p, >= 150 at 704x576."]
    for r in rows:
        t = targets.get(r["resolution"])
        got = r["agent"]["cameras_per_core"]
        ratio_ok = "met" if r["ratio"] <= 1.25 else "NOT met"
        line = f"- {r['resolution']}: {r['ratio']:.2f}x bare keyframes ({ratio_ok})"
        if t is not None:
            line += (f"; {got:.0f} cameras/core against >= {t} "
                     f"({'met' if got >= t else 'NOT met'}; bare keyframe decode alone: "
                     f"{r['bare-key']['cameras_per_core']:.0f})")
        lines.append(line)
    lines += ["", "Agent peak resident memory (VmHWM of the agent process over its whole run, "
              "warm-up included); the standard is 512 MB for an agent watching 64 cameras:"]
    for r in rows:
        a = r["agent"]
        if "peak_rss_mb" in a:
            verdict = ""
            if r["cameras"] >= 64:
                verdict = (" (under 512 MB: met)" if a["peak_rss_mb"] < 512
                           else " (over 512 MB: NOT met)")
            rate = f" at {r['mbps']:.1f} Mbit/s" if "mbps" in r else ""
            lines.append(f"- {r['resolution']}, {r['cameras']} cameras{rate}: "
                         f"{a['peak_rss_mb']:.0f} MB{verdict}")
    lines += ["", "The box is shared with other engineers' work, so figures move between runs; "
              "rerun the command to compare like with like."]
    raw = "agent_bench.json" if every == 1 else f"agent_bench_{interval:g}s.json"
    lines += ["", f"Raw figures: `benchmarks/data/{raw}` (not committed).", ""]
    return "\n".join(lines)


def heading(interval: float) -> str:
    """The RESULTS.md section a run belongs to: one per sample interval."""
    if abs(interval - GOP_S) < 1e-6:
        return "## Edge agent"
    return f"## Edge agent, {interval:g} s sample interval"


def write_section(text: str) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    old = path.read_text() if path.exists() else ""
    title = text.split("\n", 1)[0]
    start = old.find(title + "\n")
    if start >= 0:
        head, rest = old[:start], old[start + len(title):]
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        new = head + text + ("\n" + tail if tail else "")
    elif "\n## Edge agent\n" in old:
        # A new interval's section goes right after the main one, not at the end of the file.
        start = old.find("\n## Edge agent\n") + 1
        nxt = old.find("\n## ", start + 3)
        cut = nxt + 1 if nxt >= 0 else len(old)
        new = old[:cut].rstrip("\n") + "\n\n" + text + ("\n" + old[cut:] if nxt >= 0 else "")
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + text
    path.write_text(new)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        bare_worker(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                    int(sys.argv[5]) if len(sys.argv) > 5 else 1)
        return
    ap = argparse.ArgumentParser(description="edge agent benchmark")
    ap.add_argument("--quick", action="store_true", help="fewer cameras, shorter windows")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    ap.add_argument("--resolutions", nargs="+", default=list(RESOLUTIONS))
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--clip-seconds", type=float, default=8.0)
    ap.add_argument("--interval", type=float, default=GOP_S,
                    help="sample interval in seconds, a multiple of the 2 s GOP (default 2)")
    ap.add_argument("--cameras", type=json.loads,
                    default={"1080p": 16, "720p": 24, "704x576": 32},
                    help='JSON, e.g. \'{"1080p": 16}\'')
    ap.add_argument("--crf", type=int, default=CRF,
                    help=f"x264 quality of the streams (default {CRF}, ~0.75 Mbit/s at 1080p; "
                         "20 gives ~3.7 Mbit/s)")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render the table from benchmarks/data/agent_bench.json")
    args = ap.parse_args()
    # Other intervals get their own file: `lenswatch bench` reads agent_bench.json as 2 s.
    raw = ROOT / "benchmarks" / "data" / (
        "agent_bench.json" if abs(args.interval - GOP_S) < 1e-6
        else f"agent_bench_{args.interval:g}s.json")
    if args.render_only:
        rows = json.loads(raw.read_text())
        for r in rows:
            for k in CLIENTS:
                if k in r:
                    r[k]["cameras_per_core"] = (r.get("interval", GOP_S)
                                                / (r[k]["cpu_per_sample_ms"] / 1000))
        text = render(rows, args)
        print(text)
        if args.write:
            write_section(text)
        return
    if args.quick:
        args.window, args.warmup = 10.0, 5.0
        args.cameras = {k: max(2, v // 4) for k, v in args.cameras.items()}
    rows = run(args)
    (ROOT / "benchmarks" / "data").mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(rows, indent=1))
    text = render(rows, args)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
