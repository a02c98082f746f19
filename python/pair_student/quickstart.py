"""First LAMMPS simulation with ``pair_style student``, no training needed.

``python -m pair_student.quickstart [--out DIR]`` writes the analytic reference student and an
fcc-copper data file into DIR, then runs ``lammps_inputs/quickstart.in`` in ``lmp``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from ase.build import bulk
from ase.io import write

from .contract import save_student
from .lammps_runner import read_thermo, run_lammps
from .models import ReferenceStudent

INPUT = Path(__file__).resolve().parent / "inputs" / "quickstart.in"


def main(argv: Optional[List[str]] = None, prog: str = "python -m pair_student.quickstart") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="quickstart", help="folder for the model, data and log")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("-np", type=int, default=1, help="MPI ranks")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = save_student(ReferenceStudent(["Cu"], cutoff=4.5), out / "reference_model_traced.pt",
                         {"elements": ["Cu"], "cutoff": 4.5, "provenance": {"model": "analytic reference"}})
    write(out / "cu.data", bulk("Cu", "fcc", a=3.61, cubic=True) * (4, 4, 4), format="lammps-data", masses=True)
    result = run_lammps(INPUT.read_text(), workdir=out, nprocs=args.np,
                        variables={"model": model.name, "data": "cu.data", "elements": "Cu", "steps": args.steps})
    if result.returncode != 0:
        print(result.output[-3000:])
        return result.returncode
    thermo = read_thermo(out / "log.lammps")
    print(f"ran {args.steps} NVT steps of 256 Cu atoms with {model}")
    print(f"temperature {thermo['Temp'][-1]:.0f} K, potential energy {thermo['PotEng'][-1]:.3f} eV; log: {out / 'log.lammps'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
