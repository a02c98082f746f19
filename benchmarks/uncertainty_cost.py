"""What the per-atom uncertainty costs in ``pair_style student``: one student file with its
statistics, timed with ``uncertainty no``, ``uncertainty yes every 1`` and ``every 10`` side by
side in alternating rounds (the best round of each counts, which damps the noise of a shared
machine).

``python -m benchmarks uncertainty-cost [--model FILE] [--natoms 10000] [--rounds 3] [--seconds 4]``
writes ``benchmarks/uncertainty_cost.json`` and ``.md`` (the committed ones: ``--rounds 7 --seconds 6``).
The default model is the shipped Si ultra-tiny, which carries its statistics; every variant runs
the same file, so they differ only by the uncertainty: one whitening product per atom on the
steps it is computed, and two reductions over the ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Dict, List, Optional

from pair_student.atomic import atomic_write_text
from pair_student.contract import read_metadata

from .common import OUT, ROOT, Potential, cpu_name
from .speed import supercell, time_potential

MODEL = ROOT / "python" / "pair_student" / "demo" / "si" / "ultra-tiny_model_traced.pt"
RESULT = Path(__file__).with_suffix(".json")
CPU_USE = re.compile(r"([\d.]+)% CPU use with")
VARIANTS = {"off": "uncertainty no", "every 1": "uncertainty yes every 1", "every 10": "uncertainty yes every 10"}


def _potential(name: str, path: Path, options: str, dtype: str) -> Potential:
    elements = read_metadata(path)["elements"]
    return Potential(name=name, kind="student",
                     pair_style=f"student {path.resolve()} dtype {dtype} kernel native threads 1 {options}",
                     pair_coeff=[f"* * {' '.join(elements)}"], elements=list(elements))


def cpu_share(workdir: Path) -> float:
    """The share of the timed loop lmp spent on a CPU (LAMMPS' '% CPU use' of the last run): on a
    machine shared with other work, wall time x this share is the loop's own CPU time."""
    shares = CPU_USE.findall((workdir / "stdout.txt").read_text())
    return float(shares[-1]) / 100.0 if shares else float("nan")


def measure(path: Path, natoms: int, rounds: int, dtype: str, target_s: float) -> Dict[str, object]:
    work = OUT / "uncertainty_cost"
    atoms = supercell("si", natoms)
    potentials = {key: _potential(key, path, options, dtype) for key, options in VARIANTS.items()}
    order = list(VARIANTS)
    wall: Dict[str, List[float]] = {key: [] for key in order}
    cpu: Dict[str, List[float]] = {key: [] for key in order}
    load = [os.getloadavg()[0]]
    guess = None
    for r in range(rounds):
        for key in order[r % len(order):] + order[:r % len(order)]:    # each variant first in turn
            folder = work / key.replace(" ", "_")
            row = time_potential(potentials[key], atoms, folder, target_s=target_s, guess_us=guess)
            guess = row["us_per_atom_step"]
            wall[key].append(guess)
            cpu[key].append(guess * cpu_share(folder))
        load.append(os.getloadavg()[0])
    best = {k: min(v) for k, v in wall.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    overhead = lambda b: {k: 100.0 * (b[k] / b["off"] - 1.0) for k in order if k != "off"}  # noqa: E731
    return {"model": str(path), "system": "si", "dtype": dtype, "natoms": len(atoms), "rounds": rounds,
            "pair_style_options": VARIANTS, "us_per_atom_step": wall, "best_us_per_atom_step": best,
            "overhead_pct": overhead(best), "cpu_us_per_atom_step": cpu, "best_cpu_us_per_atom_step": best_cpu,
            "cpu_overhead_pct": overhead(best_cpu), "cpu": cpu_name(), "load_1min": load}


def table(result: Dict[str, object]) -> str:
    def cells(kind: str, key: str) -> str:
        best, overhead = result[f"best_{kind}us_per_atom_step"], result[f"{kind}overhead_pct"]
        rounds = ", ".join(f"{t:.2f}" for t in result[f"{kind}us_per_atom_step"][key])
        return f"{best[key]:.3f} | {'-' if key == 'off' else f'{overhead[key]:+.1f} %'} | {rounds}"

    rows = [f"| {key} | `{VARIANTS[key]}` | {cells('', key)} | {cells('cpu_', key)} |" for key in VARIANTS]
    load = result["load_1min"]
    off = result["us_per_atom_step"]["off"]
    every1 = result["overhead_pct"]["every 1"]
    verdict = (f"Every-step uncertainty: {every1:+.1f} % of the student's cost (target <= 15 %: "
               f"{'met' if every1 <= 15.0 else 'NOT met'}); the rounds of 'off' alone spread by "
               f"{100.0 * (max(off) / min(off) - 1.0):.0f} %, what one round can resolve here.")
    return "\n".join([
        f"# Cost of the per-atom uncertainty ({result['natoms']:,}-atom Si, {Path(result['model']).name}, "
        f"{result['dtype']}, native kernel, 1 thread)", "",
        f"`python -m benchmarks uncertainty-cost`: {result['rounds']} alternating rounds, best round per "
        f"variant. CPU: {result['cpu']}; 1-min load {min(load):.1f} to {max(load):.1f} during the runs. "
        "Wall: LAMMPS' loop time; CPU: the loop time times its '% CPU use', the time lmp (run at nice 19) "
        "was on a core, which other work on a shared machine disturbs less.", "",
        "| uncertainty | pair_style options | best wall µs/atom-step | vs off | rounds | "
        "best CPU µs/atom-step | vs off | rounds |",
        "|---|---|---|---|---|---|---|---|", *rows, "", verdict, ""])


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks uncertainty-cost") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=MODEL,
                   help="student file with uncertainty statistics (default: the shipped Si ultra-tiny)")
    p.add_argument("--natoms", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--seconds", type=float, default=4.0, help="length of each timed run")
    p.add_argument("--out", type=Path, default=RESULT, help="JSON to write; the table goes next to it (.md)")
    args = p.parse_args(argv)
    result = measure(args.model, args.natoms, args.rounds, args.dtype, args.seconds)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), table(result))
    for kind in ("", "cpu_"):
        best, overhead = result[f"best_{kind}us_per_atom_step"], result[f"{kind}overhead_pct"]
        print(f"si {args.dtype}, {result['natoms']} atoms, {kind or 'wall_'}us/atom-step: off {best['off']:.3f}, "
              f"every 1 {best['every 1']:.3f} ({overhead['every 1']:+.1f} %), "
              f"every 10 {best['every 10']:.3f} ({overhead['every 10']:+.1f} %)")
    print(f"-> {args.out} and {args.out.with_suffix('.md').name}")
    return 0
