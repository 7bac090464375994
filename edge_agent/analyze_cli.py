"""`lenswatch analyze`'s command line, light to import: the decoder and the detector
(edge_agent.analyze: PyAV, OpenCV, ONNX Runtime) load only when `analyze` runs, so that
`lenswatch collector` and every other subcommand start without them."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from edge_agent.config import CameraConfig
from pipeline.settings import HealthSettings

#: The agent's own default, taken from its config so the two can never drift apart.
DEFAULT_SAMPLE_INTERVAL: float = next(
    f.default for f in dataclasses.fields(CameraConfig) if f.name == "sample_interval")


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `analyze`."""
    p = sub.add_parser(
        "analyze", help="run the detectors over video files or stream URLs",
        description="Decode each SOURCE as the agent does and print every fault raised or "
                    "cleared. Exit code 1 if any source could not be read.")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="video file or stream URL")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per state change (the event contract)")
    p.add_argument("--snapshots", type=Path, metavar="DIR",
                   help="write a JPEG of each raised fault's moment into DIR")
    p.add_argument("--sample-interval", type=float, default=DEFAULT_SAMPLE_INTERVAL,
                   help="seconds between analysed pictures (default %(default)s)")
    p.add_argument("--faults", default=",".join(HealthSettings().faults),
                   help="comma-separated faults to check (default: all)")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the decoder and the detector, then analyse (edge_agent.analyze.run)."""
    from edge_agent import analyze

    return analyze.run(args)
