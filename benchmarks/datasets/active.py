"""Keep the frames an on-policy loop labelled (``pair-student distill --active``) in the
checkout, so that the student it shipped can be retrained, and the peers fitted on the same
frames, after its work folder is gone.

    python -m benchmarks.datasets.active --loop out/active/si --system si

Writes ``benchmarks/datasets/active/<system>.extxyz.gz`` (every round's ``labelled.extxyz`` in
round order, each frame's ``info['active_round']`` saying which) and ``<system>.json`` (frames
per round, split and exploration start, the loop's settings and rounds table, a digest of the text). With
the starting dataset, these are the last round's training set: its train and val frames, never
a test frame.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import List, Optional

import ase.io

from pair_student.atomic import atomic_path, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "benchmarks" / "datasets" / "active"


def collect(loop: Path) -> List:
    """Every labelled frame of the loop in ``loop``, tagged with its round."""
    frames = []
    k = 1
    while (loop / f"round{k}").is_dir():
        path = loop / f"round{k}" / "labelled.extxyz"
        for atoms in (ase.io.read(path, ":") if path.is_file() else []):
            atoms.info["active_round"] = k
            frames.append(atoms)
        k += 1
    if not frames:
        raise SystemExit(f"{loop} holds no roundK/labelled.extxyz: run pair-student distill --active there first")
    bad = sorted({f.info.get("split") for f in frames} - {"train", "val"})
    if bad:
        raise SystemExit(f"{loop} has labelled frames in split(s) {bad}: a loop's frames are train or val only")
    return frames


def write(loop: Path, system: str, out_dir: Path = OUT_DIR) -> Path:
    frames = collect(loop)
    buffer = io.StringIO()
    ase.io.write(buffer, frames, format="extxyz")
    text = buffer.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{system}.extxyz.gz"
    with atomic_path(target, suffix=".gz") as tmp:
        Path(tmp).write_bytes(gzip.compress(text.encode(), mtime=0))
    rounds_file = loop / "rounds.json"
    rounds = json.loads(rounds_file.read_text()) if rounds_file.is_file() else {}
    meta = {
        "system": system, "file": str(target.relative_to(ROOT)) if target.is_relative_to(ROOT) else str(target),
        "frames": len(frames), "atoms": sum(len(f) for f in frames),
        "splits": dict(Counter(f.info["split"] for f in frames)),
        "rounds": dict(Counter(str(f.info["active_round"]) for f in frames)),
        # the exploration start a frame came from (vacancy Si, melt, stretch C-O x1.3, ...)
        "kinds": dict(Counter(str(f.info.get("explore", "unknown")) for f in frames)),
        "teacher": sorted({str(f.info.get("teacher")) for f in frames}),
        "loop": {"config": rounds.get("config"), "threshold": rounds.get("threshold"),
                 "rounds": [{k: v for k, v in row.items() if k not in ("checkpoint", "model")}
                            for row in rounds.get("rounds", [])]},
        "uncompressed_bytes": len(text.encode()), "sha256_uncompressed": hashlib.sha256(text.encode()).hexdigest(),
    }
    atomic_write_text(out_dir / f"{system}.json", json.dumps(meta, indent=1) + "\n")
    return target


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.datasets.active", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--loop", type=Path, required=True, help="the loop's --out folder")
    parser.add_argument("--system", required=True, help="name of the files written (the demo system)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    print(write(args.loop, args.system, args.out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
