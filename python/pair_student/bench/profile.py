"""Where a student's time goes in LAMMPS, per torch thread count and dtype:
``python -m pair_student.bench.profile [--model M.pt] [--natoms 10000] [--threads 1 2]``.

Each run is the benchmark's NVE timing (:func:`.speed.time_potential`) with
``pair_style student FILE dtype D threads T``; the split into model call vs graph build and
force scatter is the plugin's own end-of-run timing line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional


def main(argv: Optional[List[str]] = None, prog: str = "python -m pair_student.bench.profile") -> int:
    from ..contract import read_metadata, save_student
    from ..models import ReferenceStudent
    from .common import Potential
    from .report import _fmt
    from .speed import supercell, time_potential

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="student .pt (default: the reference student, Si)")
    parser.add_argument("--system", default="si", help="demo system whose supercell is run")
    parser.add_argument("--natoms", type=int, default=10000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--target-s", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("bench_profile"))
    args = parser.parse_args(argv)
    model = args.model or save_student(ReferenceStudent(["Si"], cutoff=4.5), args.out / "reference_si.pt",
                                       {"elements": ["Si"], "cutoff": 4.5})
    elements = read_metadata(model)["elements"]
    atoms = supercell(args.system, args.natoms)
    print(f"model: {model}, {len(atoms)} atoms ({args.system}), 1 MPI rank")
    print("| dtype | torch threads | µs/atom-step | model ms/call | graph build + scatter ms/call | overhead % |")
    print("|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        for threads in args.threads:
            pot = Potential(f"{dtype} t{threads}", "student", f"student {model.resolve()} dtype {dtype} threads {threads}",
                            [f"* * {' '.join(elements)}"], elements)
            row = time_potential(pot, atoms, args.out / f"{dtype}_t{threads}", target_s=args.target_s)
            print(f"| {dtype} | {threads} | {_fmt(row['us_per_atom_step'])} | {_fmt(row.get('model_ms'))} | "
                  f"{_fmt(row.get('glue_ms'))} | {_fmt(row.get('overhead_pct'))} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
