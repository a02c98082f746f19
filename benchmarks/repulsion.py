"""What the core repulsion costs in ``pair_style student``: one student file with its windows
and the same student without them, timed side by side in alternating rounds (the best round of
each counts, which damps the noise of a shared machine).

``python -m benchmarks repulsion [--system si] [--size ultra-tiny] [--natoms 10000] [--rounds 3]``
writes ``benchmarks/out/repulsion_<system>.json``. The copy without windows is the shipped
file's tables and weights with the repulsion switched off, so the two differ only by it; in MD
near equilibrium no edge is inside a window, so what is measured is the per-edge comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Dict, List, Optional

import torch

from pair_student.atomic import atomic_write_text
from pair_student.contract import read_metadata, save_student
from pair_student.models.student_file import model_from_student_file
from pair_student.models.shipped import shipped_models

from .common import OUT, Potential
from .speed import supercell, time_potential


def _without_windows(path: Path, out: Path) -> Path:
    model, meta = model_from_student_file(path)
    if not model.has_core_repulsion():
        raise ValueError(f"{path} has no core repulsion windows to compare against; re-export it with --core-from")
    n = model.num_elements
    model.set_core_repulsion(torch.zeros(n * n), torch.zeros(n * n))
    return save_student(model, out, {k: meta[k] for k in ("elements", "cutoff", "num_layers")})


def _potential(name: str, path: Path, dtype: str) -> Potential:
    elements = read_metadata(path)["elements"]
    return Potential(name=name, kind="student", pair_style=f"student {path.resolve()} dtype {dtype} kernel native threads 1",
                     pair_coeff=[f"* * {' '.join(elements)}"], elements=list(elements))


def measure(system: str, size: str, natoms: int, rounds: int, dtype: str) -> Dict[str, object]:
    path = Path(shipped_models()[system][size])
    work = OUT / "repulsion" / system
    work.mkdir(parents=True, exist_ok=True)
    plain = _without_windows(path, work / f"{size}_no_repulsion.pt")
    atoms = supercell(system, natoms)
    pair = {"with": _potential("with repulsion", path, dtype), "without": _potential("without", plain, dtype)}
    times: Dict[str, List[float]] = {"with": [], "without": []}
    guess = None
    for r in range(rounds):
        for key in (("with", "without") if r % 2 == 0 else ("without", "with")):
            row = time_potential(pair[key], atoms, work / key, target_s=4.0, guess_us=guess)
            guess = row["us_per_atom_step"]
            times[key].append(guess)
    best = {k: min(v) for k, v in times.items()}
    return {"system": system, "size": size, "dtype": dtype, "natoms": len(atoms), "rounds": rounds,
            "us_per_atom_step": times, "best_us_per_atom_step": best,
            "overhead_pct": 100.0 * (best["with"] / best["without"] - 1.0),
            "cpu": platform.processor() or platform.machine()}


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks repulsion") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--system", default="si")
    p.add_argument("--size", default="ultra-tiny")
    p.add_argument("--natoms", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args(argv)
    result = measure(args.system, args.size, args.natoms, args.rounds, args.dtype)
    out = OUT / f"repulsion_{args.system}.json"
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"{args.system} {args.size} {args.dtype}, {result['natoms']} atoms: "
          f"{result['best_us_per_atom_step']['with']:.3f} vs {result['best_us_per_atom_step']['without']:.3f} "
          f"us/atom-step with/without the core repulsion ({result['overhead_pct']:+.1f} %) -> {out}")
    return 0
