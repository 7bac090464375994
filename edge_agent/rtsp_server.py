"""A real RTSP camera stand-in: GStreamer's RTSP server looping raw H.264/H.265 clips over TCP.

The agent's tests and the fleet simulator need cameras that behave like real ones (RTSP
handshake, RTP over TCP interleaved, a server that can die or hang), not a mock. This module
runs only under Debian's /usr/bin/python3, which has python3-gi; it imports nothing from the
project so it can be started as a plain script:

    /usr/bin/python3 edge_agent/rtsp_server.py --port 8554 \
        --mount cam0=clips/a.h264 --mount cam1=clips/b.h264 [--fps 25] [--user u --password p]

Clips are Annex-B H.264 elementary streams without B-frames (``ffmpeg ... -bf 0 -f h264``),
or H.265 ones when the file name ends in .h265 or .hevc.
Each mount loops its clip forever. Timestamps are rewritten in a pad probe from a frame counter
because a raw .h264 looped through h264parse leaves PTS unset (and restarts at every loop),
which the payloader and the client's jitter handling do not forgive. Mounts are shared: one
pipeline per mount fans out to every client, so a benchmark with 60 clients on one mount costs
the server one parse and payload pass, not sixty. Note that multifilesrc keeps the whole clip
in memory per mount: keep clips short.

When the server listens it prints ``READY <port>`` on stdout and flushes, so a parent process
can wait for it instead of sleeping.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    """A media factory whose pipelines loop one clip with monotonic, gap-free timestamps."""

    def __init__(self, path: str, fps: int) -> None:
        super().__init__()
        self.path = path
        self.fps = fps
        self.set_shared(True)
        self.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        # A dead client must not keep the shared pipeline around; new clients get a new one.
        self.set_eos_shutdown(False)

    def do_create_element(self, url: GstRtsp.RTSPUrl) -> Gst.Element:
        """Build the pipeline and attach the timestamp probe on the parser's output."""
        location = self.path.replace("\\", "\\\\").replace('"', '\\"')
        codec = "h265" if self.path.lower().endswith((".h265", ".hevc")) else "h264"
        desc = (
            f'multifilesrc location="{location}" loop=true '
            f'caps="video/x-{codec},stream-format=byte-stream" '
            f"! {codec}parse name=parse config-interval=-1 "
            f"! video/x-{codec},stream-format=byte-stream,alignment=au "
            f"! rtp{codec}pay name=pay0 pt=96 config-interval=-1"
        )
        bin_ = Gst.parse_launch(f"( {desc} )")
        parse = bin_.get_by_name("parse")
        frame_ns = Gst.SECOND // self.fps
        counter = {"n": 0}

        def stamp(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            buf = info.get_buffer()
            if buf is None:
                return Gst.PadProbeReturn.OK
            buf = buf.make_writable() if hasattr(buf, "make_writable") else buf
            ts = counter["n"] * frame_ns
            counter["n"] += 1
            buf.pts = ts
            buf.dts = ts
            buf.duration = frame_ns
            info.set_buffer(buf) if hasattr(info, "set_buffer") else None
            return Gst.PadProbeReturn.OK

        parse.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, stamp)
        return bin_


def build_server(
    port: int,
    mounts: dict[str, str],
    fps: int,
    user: str | None = None,
    password: str | None = None,
) -> GstRtspServer.RTSPServer:
    """Create the server with one looping mount per clip, optionally behind basic auth."""
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mount_points = server.get_mount_points()
    for name, path in mounts.items():
        factory = LoopingFactory(path, fps)
        if user is not None:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "viewer, media.factory.access=(boolean)true, "
                    "media.factory.construct=(boolean)true"
                )
            )
            factory.set_permissions(perms)
        mount_points.add_factory("/" + name.strip("/"), factory)
    if user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password or ""), token)
        server.set_auth(auth)
    return server


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; exit code 2 if the port cannot be bound."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--mount", action="append", default=[], metavar="NAME=CLIP.h264")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args(argv)
    mounts: dict[str, str] = {}
    for spec in args.mount:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            ap.error(f"--mount wants NAME=PATH, got {spec!r}")
        mounts[name] = path
    if not mounts:
        ap.error("give at least one --mount NAME=PATH")
    Gst.init(None)
    server = build_server(args.port, mounts, args.fps, args.user, args.password)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
