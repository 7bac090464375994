"""TEST HELPER ONLY - a fake `lenswatch analyze` that cheats by reading labels.json.

It exists to test benchmarks/accuracy.py without a detector: it prints, for every file, the
state changes a perfect detector would emit (raised at onset + --delay, signal_loss at the end),
plus scripted mistakes when --mistakes is given. It never looks at the video.

    python tests/fake_analyze_oracle.py [--delay 3] [--mistakes] --json FILE...
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path


def main() -> int:
    """Print contract-shaped JSON lines for each file, from its label."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--delay", type=float, default=3.0)
    ap.add_argument("--mistakes", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    labels = {}
    for f in args.files:
        lab_path = Path(f).parent / "labels.json"
        for lab in json.loads(lab_path.read_text()):
            labels[str(Path(f).parent / lab["file"])] = lab

    def emit(cam: str, fault: str, state: str, t: float) -> None:
        print(json.dumps({"event_id": str(uuid.uuid4()), "camera": cam, "fault": fault,
                          "state": state, "t": round(t, 3), "confidence": 0.9,
                          "severity": "major", "evidence": {}}))

    for f in args.files:
        lab = labels[f]
        name = lab["file"]
        if lab["fault"] and not (args.mistakes and "miss" in name):
            t = lab["onset"] + (25.0 if args.mistakes and "late" in name else args.delay)
            emit(f, lab["fault"], "raised", t)
        if args.mistakes and "early" in name:
            emit(f, "frozen", "raised", 5.0)
        if args.mistakes and "wrong" in name:
            emit(f, "ripple", "raised", lab["onset"] + 1.0)
        if args.mistakes and "coblur" in name:
            emit(f, "blur", "raised", lab["onset"] + 2.0)
        if args.mistakes and name.startswith("neg_alert"):
            emit(f, "blocked", "raised", 30.0)
            emit(f, "blocked", "cleared", 33.0)
        emit(f, "signal_loss", "raised", lab.get("duration_s", 60.0))
    sys.stdout.write("not json, should be skipped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
