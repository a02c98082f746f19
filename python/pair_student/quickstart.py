"""First LAMMPS simulation with ``pair_style student``, no training needed.

``python -m pair_student.quickstart [--system si|gan|ethanol] [--size tiny] [--out DIR]`` writes
the demo structure (crystals replicated to a few hundred atoms) as a LAMMPS
data file into DIR and runs ``lammps_inputs/quickstart.in`` in ``lmp`` with the shipped student.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from ase.io import write

from .contract import read_metadata
from .data.structures import demo_structure
from .runtime.runner import read_thermo, run_lammps
from .models.shipped import shipped_model
from .registry import DEFAULT_SIZE, DEMO_NAMES, SIZES

INPUT = Path(__file__).resolve().parent / "inputs" / "quickstart.in"


def main(argv: Optional[List[str]] = None, prog: str = "python -m pair_student.quickstart") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--system", default="si", choices=DEMO_NAMES)
    parser.add_argument("--size", default=DEFAULT_SIZE, choices=SIZES)
    parser.add_argument("--out", default="quickstart", help="folder for the data file and log")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--temp", type=float, default=600.0, help="K")
    parser.add_argument("-np", type=int, default=1, help="MPI ranks")
    args = parser.parse_args(argv)

    try:
        model = shipped_model(args.system, args.size)
    except FileNotFoundError as exc:
        print(f"{prog}: {exc}")
        return 2
    elements = read_metadata(model)["elements"]
    atoms = demo_structure(args.system)
    periodic = bool(atoms.pbc.all())
    if periodic:
        atoms = atoms.repeat((2, 2, 2))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write(out / "start.data", atoms, format="lammps-data", specorder=elements, masses=True)
    variables = {"model": str(model), "data": "start.data", "elements": " ".join(elements), "steps": args.steps,
                 "temp": args.temp, "boundary": "p p p" if periodic else "s s s",
                 "dt": 0.0005 if "H" in elements else 0.001, "relax_box": int(periodic)}
    result = run_lammps(INPUT.read_text(), workdir=out, nprocs=args.np, variables=variables)
    if result.returncode != 0:
        print(result.output[-3000:])
        return result.returncode
    thermo = read_thermo(out / "log.lammps")
    print(f"ran {args.steps} NVT steps of {len(atoms)} atoms ({args.system}) with {model}")
    print(f"temperature {thermo['Temp'][-1]:.0f} K, potential energy {thermo['PotEng'][-1]:.3f} eV; "
          f"log: {out / 'log.lammps'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
