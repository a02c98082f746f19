"""Pair-style overhead: time ``pair_style student`` spends beyond the model's own
forward+backward on the same graph.

``python -m benchmarks.overhead [--model M.pt] [--sizes 1000 10000]`` runs ``lmp``
and reads the plugin's own end-of-run timing line (model call vs graph build and force
scatter, on the identical graph), next to the ``Pair`` time of LAMMPS' breakdown and the
same model called from Python on the structure's graph (no ghost atoms) for comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
from ase.build import bulk
from ase.io import write

from pair_student.contract import EDGE_INDEX, EDGE_VECTORS, SPECIES, load_student, read_metadata, save_student
from pair_student.graph import atoms_to_graph
from pair_student.models import ReferenceStudent
from pair_student.runtime.runner import run_lammps

from .common import OUT, plugin_split_ms

SCRIPT = """
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style student {model} threads 1
pair_coeff * * {elements}
velocity all create 300 1 dist gaussian
timestep 0.001
fix 1 all nve
thermo {steps}
run {warmup}
run {steps}
"""


def pair_seconds_per_step(output: str, steps: int) -> float:
    """Average ``Pair`` time per step of the last run in a LAMMPS log."""
    lines = [line for line in output.splitlines() if line.startswith("Pair ")]
    return float(lines[-1].split("|")[2]) / steps


def model_seconds_per_call(model_path: Path, atoms, repeats: int) -> float:
    torch.set_num_threads(1)
    torch._C._set_graph_executor_optimize(False)  # as in the plugin
    module, meta = load_student(model_path)
    graph = atoms_to_graph(atoms, meta["cutoff"], meta["elements"])
    args = (graph[SPECIES], graph[EDGE_INDEX], graph[EDGE_VECTORS], len(atoms))
    for _ in range(3):
        module(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        module(*args)
    return (time.perf_counter() - start) / repeats


def measure(model_path: Path, natoms: int, workdir: Path, steps: int) -> Dict[str, float]:
    meta = read_metadata(model_path)
    element = meta["elements"][0]
    unit = bulk(element, "diamond", a=5.43, cubic=True) if element == "Si" else bulk(element, cubic=True)
    reps = max(1, round((natoms / len(unit)) ** (1 / 3)))
    atoms = unit * (reps, reps, reps)
    workdir.mkdir(parents=True, exist_ok=True)
    write(workdir / "system.data", atoms, format="lammps-data", masses=True)
    result = run_lammps(SCRIPT.format(model=model_path.resolve(), elements=element, steps=steps,
                                      warmup=max(2, steps // 5)), workdir=workdir).check()
    pair = pair_seconds_per_step(result.output, steps)
    split = plugin_split_ms(result.output)
    bare = model_seconds_per_call(model_path, atoms, repeats=max(3, steps // 2))
    return {"natoms": len(atoms), "pair_ms": 1e3 * pair, "model_in_plugin_ms": split["model_ms"],
            "overhead_ms": split["glue_ms"], "overhead_pct": 100 * split["glue_ms"] / split["model_ms"],
            "python_model_ms": 1e3 * bare}


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks.overhead") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="student .pt (default: the analytic reference student, Si)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT / "bench" / "overhead")
    args = parser.parse_args(argv)
    model = args.model
    if model is None:
        model = save_student(ReferenceStudent(["Si"], cutoff=4.0), args.out / "reference_si.pt",
                             {"elements": ["Si"], "cutoff": 4.0})
    rows = [measure(model, n, args.out / f"n{n}", args.steps) for n in args.sizes]
    print(f"model: {model}")
    print("| atoms | pair style ms/step | model call in plugin ms | graph+scatter ms | overhead % | same model from Python ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['natoms']} | {r['pair_ms']:.2f} | {r['model_in_plugin_ms']:.2f} | {r['overhead_ms']:.2f} "
              f"| {r['overhead_pct']:.1f} | {r['python_model_ms']:.2f} |")
    (args.out / "overhead.json").write_text(json.dumps({"model": str(model), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
