"""Merge several benchmark runs (``python -m benchmarks``) into one ``bench.json`` (then
``python -m benchmarks --report-only``).

    python scripts/merge_bench.py OUT.json RUN1/bench.json RUN2/bench.json ...

Per system, a potential of a later run replaces the one of the same name in an earlier run;
a later run's speed rows at atom counts the earlier run lacks are added instead (so a run
at 10^5 atoms extends one at 10^3 and 10^4). A system whose later run scored other test frames
(another dataset) is taken from that run whole. The teacher cost, the CPU and the dataset's path are the latest run's that has them.
Settings and notes of every run are kept under ``merged_from``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def same_test_frames(a, b):
    """Whether two runs of a system scored the same test frames (by digest where both have one)."""
    if a.get("test_digest") and b.get("test_digest"):
        return a["test_digest"] == b["test_digest"]
    return a.get("test_frames") == b.get("test_frames")


def merge(runs):
    out = json.loads(json.dumps(runs[0]))
    out["merged_from"] = []
    for run in runs:  # a run that is itself a merge brings its own list
        out["merged_from"] += run.get("merged_from") or [{"settings": run.get("settings"), "elapsed_s": run.get("elapsed_s")}]
    for run in runs[1:]:
        out["notes"] = out.get("notes", []) + run.get("notes", [])
        for name, system in run["systems"].items():
            target = out["systems"].setdefault(name, system)
            if target is system:
                continue
            if not same_test_frames(target, system):  # accuracies on other frames do not mix: take the later run
                out["systems"][name] = system
                continue
            for key in ("teacher", "cpu", "dataset"):    # the same frames may have moved
                if system.get(key):
                    target[key] = system[key]
            known = {p["name"]: p for p in target["potentials"]}
            for pot in system["potentials"]:
                old = known.get(pot["name"])
                if old is None:
                    target["potentials"].append(pot)
                    continue
                replaced = {(r["natoms"], r["nprocs"]) for r in pot.get("speed", [])}
                if {(r["natoms"], r["nprocs"]) for r in old.get("speed", [])} <= replaced:
                    old.clear()
                    old.update(pot)
                else:  # extend: keep the earlier rows this run did not measure
                    old["speed"] = [r for r in old.get("speed", []) if (r["natoms"], r["nprocs"]) not in replaced] \
                        + pot.get("speed", [])
    out["settings"]["sizes"] = sorted({r["natoms"] for s in out["systems"].values() for p in s["potentials"]
                                       for r in p.get("speed", []) if r["nprocs"] == 1})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the merged bench.json to write")
    parser.add_argument("runs", type=Path, nargs="+", help="bench.json of each run, earliest first")
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in args.runs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merge(runs), indent=1))
    print(f"wrote {args.out} from {len(runs)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
