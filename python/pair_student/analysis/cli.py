"""``pair-student analyze``: per-atom force analysis of students against the teacher.

Usage::

    pair-student analyze --students tiny_traced.pt ultra-tiny_traced.pt --frames test.extxyz \\
        [--teacher sevennet] [--out analysis/] [--max-frames N] [--no-html]
    python -m pair_student.analysis ...

What is measured: :mod:`.analyze`. Teacher labels come from the frames when every frame
carries energy and forces, otherwise from ``--teacher``.

Writes to ``--out``: ``<student>.png`` (12-panel figure; 14 for a student with a per-atom
uncertainty), ``metrics.json`` (schema: :data:`pair_student.analysis.schema.SCHEMA`), ``card.md``
and ``card.html``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from ase.io import iread

from ..data.dataset import has_labels
from .analyze import analyze_students


def main(argv: Optional[List[str]] = None, prog: str = "pair-student analyze") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", nargs="+", required=True, help="student .pt files")
    parser.add_argument("--frames", required=True, help="extxyz frames (labelled or not)")
    parser.add_argument("--teacher", default=None,
                        help="teacher name; needed only when the frames carry no energy/forces")
    parser.add_argument("--out", default="analysis", help="output directory (default: analysis/)")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--split", choices=["train", "val", "test"],
                        help="only the frames of this split of a labelled dataset (e.g. test)")
    parser.add_argument("--no-html", action="store_true", help="write card.md only")
    args = parser.parse_args(argv)
    try:
        report = analyze_students(students=args.students, frames=args.frames, out=args.out,
                                  max_frames=args.max_frames, split=args.split, html=not args.no_html,
                                  **_label_source(args))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    for s in report["students"]:
        ang = s["angular_error_deg"]["mean"]
        print(f"{s['name']:<24} force R² {s['force']['r2'] or float('nan'):.4f}  "
              f"angle {ang if ang is not None else float('nan'):.2f}°  "
              f"{s['speed']['us_per_atom'] or float('nan'):.2f} µs/atom  {s['target']['status']}")
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'card.md'}")
    return 0


def _label_source(args) -> Dict:
    """Where the labels come from: a dataset's own are preferred, so with ``--teacher`` the
    teacher computes them only when some frame has none, and is otherwise just recorded."""
    if not args.teacher:
        return {"teacher": None}
    if all(has_labels(a) for a in iread(args.frames)):
        return {"teacher": None, "teacher_name": args.teacher}
    return {"teacher": args.teacher}
