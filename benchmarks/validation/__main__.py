"""Contact sheet and timing: ``python -m benchmarks.validation --kind sweep --quick
--contact-sheet out.png`` shows frames before/after onset for a few cases per family, so a
person can check the renderings look like real faults."""

from __future__ import annotations

import argparse
import collections
import time

import cv2
import numpy as np

from . import cases


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.validation")
    ap.add_argument("--kind", default="sweep", choices=("sweep", "long", "slow"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-family", type=int, default=2)
    ap.add_argument("--contact-sheet", default=None, help="PNG to write")
    a = ap.parse_args()
    cs = cases(a.kind, quick=a.quick, seed=a.seed)
    fams = collections.Counter(c.family for c in cs)
    print(f"{len(cs)} cases, {sum(c.duration for c in cs) / 3600:.1f} camera-hours")
    for fam, n in sorted(fams.items()):
        print(f"  {fam:22s} {n}")
    if not a.contact_sheet:
        return
    by: dict[str, list] = collections.defaultdict(list)
    for c in cs:
        by[c.family].append(c)
    rows = []
    cost: dict[tuple[int, int], list[float]] = collections.defaultdict(list)
    for fam in sorted(by):
        lst = by[fam]
        for c in lst[:: max(1, len(lst) // a.per_family)][: a.per_family]:
            before = (c.onset or c.duration / 2) - 5
            after = min(c.duration - 1, (c.due if c.due is not None else c.duration / 2) + 5)
            ts = [max(0.0, before), after, min(c.duration - 1, after + 8)]
            if c.onset is None:
                ts = [c.duration * 0.2, c.duration * 0.5, c.duration * 0.8]
            fr = []
            for t in ts:
                s = time.perf_counter()
                img = c.render(t)
                cost[(c.width, c.height)].append(time.perf_counter() - s)
                fr.append(cv2.resize(img, (320, 192), interpolation=cv2.INTER_AREA))
            row = np.hstack(fr)
            label = f"{c.name}  t={', '.join(f'{t:.0f}' for t in ts)}"
            cv2.putText(row, label[:110], (4, 186), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                        (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(row, label[:110], (4, 186), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                        (0, 255, 255), 1, cv2.LINE_AA)
            rows.append(row)
            c.release()
    cv2.imwrite(a.contact_sheet, np.vstack(rows))
    print(f"wrote {a.contact_sheet} ({len(rows)} rows: before onset, after due, later)")
    for (w, h), v in sorted(cost.items()):
        print(f"  {w}x{h}: median {1000 * float(np.median(v)):.1f} ms per render call "
              f"(incl. first builds: max {1000 * max(v):.0f} ms)")


if __name__ == "__main__":
    main()
