"""What message passing costs under MPI: one ghost shell (a local student) against two.

``python -m benchmarks.locality [--natoms 8000] [--ranks 1 2]`` runs the same
analytic reference student with ``num_layers`` 1 and 2 (identical per-edge work per layer, so
the difference is the depth of the ghost shell that every rank must hold and evaluate) on a
diamond-Si supercell in ``lmp``, and reads LAMMPS' ghost-atom count and loop time. A
message-passing student of ``L`` layers needs ghosts out to ``L * cutoff + skin``; their
number, and the edges among them that must be evaluated each step, grow with the shell's
volume, which is why the shipped students are strictly local.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Dict, List, Optional

from ase.io import write

from pair_student.contract import save_student
from pair_student.models import ReferenceStudent
from pair_student.runtime.runner import run_lammps

from .common import OUT, loop_time, plugin_split_ms
from .overhead import SCRIPT
from .speed import supercell


def measure(model: Path, atoms, ranks: int, workdir: Path, steps: int) -> Dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    write(workdir / "system.data", atoms, format="lammps-data", masses=True)
    script = SCRIPT.format(model=model.resolve(), elements="Si", steps=steps, warmup=2)
    out = run_lammps(script, workdir=workdir, nprocs=ranks).check().output
    ghosts = re.findall(r"Nghost:\s+([\d.e+]+) ave", out)[-1]
    loop = loop_time(out)
    split = plugin_split_ms(out)
    return {"ranks": ranks, "natoms": len(atoms), "ghosts_per_rank": float(ghosts),
            "ghosts_per_local_atom": float(ghosts) * ranks / len(atoms),
            "ms_per_step": 1e3 * loop["loop_s"] / loop["steps"], "model_ms": split["model_ms"]}


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks.locality") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--natoms", type=int, default=8000)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", type=Path, default=OUT / "bench" / "locality")
    args = parser.parse_args(argv)
    atoms = supercell("si", args.natoms)
    rows: List[Dict[str, float]] = []
    for layers in (1, 2):
        model = save_student(ReferenceStudent(["Si"], cutoff=args.cutoff, num_layers=layers),
                             args.out / f"reference_{layers}layer.pt",
                             {"elements": ["Si"], "cutoff": args.cutoff, "num_layers": layers})
        for ranks in args.ranks:
            row = measure(model, atoms, ranks, args.out / f"L{layers}_np{ranks}", args.steps)
            rows.append({"layers": layers, **row})
    print(f"diamond Si, {len(atoms)} atoms, cutoff {args.cutoff} A, skin 2 A, analytic reference student")
    print("| layers | ranks | ghosts per rank | ghosts per local atom | ms/step | model ms/call |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['layers']} | {r['ranks']} | {r['ghosts_per_rank']:.0f} | {r['ghosts_per_local_atom']:.2f} "
              f"| {r['ms_per_step']:.1f} | {r['model_ms']:.1f} |")
    (args.out / "locality.json").write_text(json.dumps({"cutoff": args.cutoff, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
