"""The students' cost against the classical speed floor (Stillinger-Weber, Tersoff) and, if
given, fitted peers, timed in alternation: round after round, every potential once, in the
same ``lmp``.

The full benchmark times each potential once, minutes apart; on a shared or throttled machine
the speed of the whole machine drifts between those minutes (SW on Si has measured 0.9 and
1.4 µs/atom-step in two runs here), and a ratio of two numbers taken in different phases
carries that drift. Here each round gives a ratio of neighbours in time; the table reports
the median over rounds and the ratio of the best times.

    python -m benchmarks.floor --system si --rounds 5 [--out out/bench/floor] \
        [--peer-fits out/bench/si/uf3/fit.json ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from pair_student.registry import DEMO_NAMES, DEMO_SYSTEMS

from .common import OUT, Potential
from .potentials import CLASSICAL, classical_potentials, student_potentials
from .speed import supercell, time_potential


def interleaved(system: str, natoms: int, rounds: int, out: Path, target_s: float, dtype: str,
                peers: Sequence[Potential] = (), log=print) -> Dict[str, object]:
    """Time the classical potentials, ``peers`` (fitted potentials, e.g. from a benchmark's
    ``fit.json``) and the ``dtype`` native students of ``system`` in ``rounds`` alternating
    rounds; ratios student / reference per round, for every classical and peer reference."""
    elements = list(DEMO_SYSTEMS[system].elements)
    floors = classical_potentials(system)
    if not floors:
        raise ValueError(f"{system} has no classical potential in LAMMPS' potentials folder to compare against")
    students, notes = student_potentials(system, elements, out / "students", dtypes=(dtype,), libtorch=False)
    for note in notes:
        log(note)
    references = floors + list(peers)
    pots = references + students
    atoms = supercell(system, natoms)
    times: Dict[str, List[float]] = {p.name: [] for p in pots}
    guess: Dict[str, float] = {}
    for k in range(rounds):
        for pot in pots:
            row = time_potential(pot, atoms, out / "runs" / pot.name.replace(" ", "_"), target_s=target_s,
                                 guess_us=guess.get(pot.name))
            guess[pot.name] = row["us_per_atom_step"]
            times[pot.name].append(row["us_per_atom_step"])
        log(f"round {k + 1}/{rounds}: " + ", ".join(f"{n} {t[-1]:.3g}" for n, t in times.items()))
    ratios = []
    for ref in references:  # the JSON keeps the key "floor" for the reference, peers included
        for student in students:
            per_round = [s / f for s, f in zip(times[student.name], times[ref.name])]
            ratios.append({"student": student.name, "floor": ref.name, "median_ratio": statistics.median(per_round),
                           "best_time_ratio": min(times[student.name]) / min(times[ref.name]),
                           "per_round": per_round})
    return {"system": system, "natoms": len(atoms), "rounds": rounds, "us_per_atom_step": times, "ratios": ratios}


def markdown(result: Dict[str, object]) -> str:
    lines = [f"{result['system']}, {result['natoms']} atoms, {result['rounds']} alternating rounds", "",
             "| student | against | median ratio | best-time ratio | per round |", "|---|---|---:|---:|---|"]
    for r in result["ratios"]:
        rounds = " ".join(f"{x:.1f}" for x in r["per_round"])
        lines.append(f"| {r['student']} | {r['floor']} | {r['median_ratio']:.1f}x | {r['best_time_ratio']:.1f}x | {rounds} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks.floor") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="si", choices=[s for s in DEMO_NAMES if CLASSICAL[s]])
    parser.add_argument("--natoms", type=int, default=10000, help="about this many atoms (a whole supercell)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--target-s", type=float, default=1.0, help="seconds of each timed run")
    parser.add_argument("--out", type=Path, default=OUT / "bench" / "floor")
    parser.add_argument("--peer-fits", type=Path, nargs="*", default=[],
                        help="fit.json files of a benchmark's peer fits to time in the same rounds")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    peers = []
    for path in args.peer_fits:
        record = json.loads(path.read_text())
        if "potential" not in record:
            parser.error(f"{path} is not a peer fit record (no 'potential'): give the fit.json a benchmark wrote "
                         "in <out>/<system>/<peer>/")
        peers.append(Potential.from_json(record["potential"]))
    result = interleaved(args.system, args.natoms, args.rounds, args.out, args.target_s, args.dtype, peers)
    table = markdown(result)
    (args.out / f"floor_{args.system}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"floor_{args.system}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
