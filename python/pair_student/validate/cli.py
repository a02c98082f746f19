"""``pair-student validate``: run the same LAMMPS inputs with the teacher and with each student,
compare what comes out, and give a verdict.

Without arguments it validates the shipped demo students of every demo system against the
default teacher (SevenNet-0) with short minimize, NVE and NVT runs. With arguments::

    pair-student validate --teacher sw-si --students a.pt b.pt --structure si --out report/
    pair-student validate --teacher student:ref.pt --students ref.pt --structure cell.extxyz
    pair-student validate --input nvt=my_nvt.in --threshold force_r2_min=0.9 ...

A Python teacher runs inside LAMMPS through ``fix external`` (one MPI rank); a classical
teacher (``sw-si``, ``sw-gan``, ``tersoff-gan``) as its own pair style. The report folder gets
``report.json``, ``report.md`` and PNG plots (with ``--properties``, also
``<system>/properties.*``: lattice constant, bulk modulus, vacancy energy or relaxed molecule
and frequencies against the teacher, see :mod:`.properties`; with ``--stability``,
``<system>/stability.*``: a long hot student NVT run judged by the teacher, see
:mod:`.stability`; ``--full`` runs both, the properties with elastic constants, interstitial,
surface energy and phonons, or torsion scans, added); the exit code is 0 when every student
passes, 1 when one fails, 2 when the validation itself could not run (missing file, teacher,
LAMMPS, phonopy).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..contract import read_metadata
from ..models.shipped import shipped_models
from ..registry import DEMO_NAMES, demo_for_elements
from . import (DEFAULT_PROTOCOLS, ValidationError, _structure, compare, phonons, properties, report, stability,
               validate_system, write_report)
from .runs import PROTOCOLS


def _parse_inputs(items: Sequence[str]) -> Dict[str, str]:
    inputs = {}
    for item in items:
        kind, sep, path = item.partition("=")
        if not sep:
            path, kind = item, Path(item).stem
        if kind not in PROTOCOLS:
            raise ValidationError(f"cannot tell which protocol {item!r} is: name it KIND=FILE with KIND one of {', '.join(PROTOCOLS)}")
        inputs[kind] = path
    return inputs


def _jobs(args) -> List[dict]:
    """(system, students, structure) to validate, from the arguments or the shipped students."""
    if args.students:
        structure = args.structure
        if structure is None:
            if not Path(args.students[0]).is_file():
                raise ValidationError(f"student model file {args.students[0]!r} does not exist")
            elements = read_metadata(args.students[0])["elements"]
            structure = demo_for_elements(elements)
            if structure is None:
                raise ValidationError(f"no demo structure for elements {sorted(elements)}: give --structure FILE")
        return [{"system": None, "students": args.students, "structure": structure}]
    shipped = shipped_models()
    if not shipped:
        raise ValidationError("no shipped demo students found (pair_student/demo/<system>/*_model_traced.pt); "
                              "pass your own with --students A.pt B.pt --structure FILE")
    if args.structure:
        shipped = {k: v for k, v in shipped.items() if k == args.structure}
    return [{"system": s, "students": list(sizes.values()), "structure": s} for s, sizes in shipped.items()]


def _check_full(jobs: List[dict]) -> None:
    """The crystal checks of --full need phonopy: say so before minutes of LAMMPS runs, not after."""
    if any(all(_structure(job["structure"]).pbc) for job in jobs):
        phonons.require_phonopy()


def main(argv: Optional[List[str]] = None, prog: str = "pair-student validate") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="thresholds (NAME: default, meaning):\n" + "\n".join(
                                         f"  {k}: {v[0]}  {v[1]}" for k, v in compare.THRESHOLDS.items()))
    parser.add_argument("--teacher", default="sevennet",
                        help="teacher registry name (sevennet, sw-si, sw-gan, tersoff-gan, orb names) or student:FILE.pt")
    parser.add_argument("--students", nargs="+", help="student .pt files (default: the shipped demo students)")
    parser.add_argument("--structure", help=f"structure file or demo name {'|'.join(DEMO_NAMES)} (default: from the students)")
    parser.add_argument("--input", nargs="+", default=[], metavar="[KIND=]FILE",
                        help="LAMMPS inputs to run instead of the shipped ones; KIND is minimize|nve|nvt|npt "
                        "(taken from the file name when it is one of them)")
    parser.add_argument("--protocols", nargs="+", default=list(DEFAULT_PROTOCOLS), choices=PROTOCOLS,
                        help="shipped inputs to run (default: minimize nve nvt)")
    parser.add_argument("--steps", type=int, default=50,
                        help="MD steps per run (default 50: the teacher costs ~5-20 ms/atom/step on a CPU)")
    parser.add_argument("--min-steps", type=int, default=40, help="maximum minimiser iterations (default 40)")
    parser.add_argument("--temp", type=float, default=300.0, help="temperature in K (default 300)")
    parser.add_argument("--dt", type=float, help="timestep in ps (default 0.0005 with H, else 0.001)")
    parser.add_argument("--seed", type=int, default=4928459, help="velocity seed shared by all runs")
    parser.add_argument("-np", "--np", dest="nprocs", type=int, default=1, help="MPI ranks for student runs")
    parser.add_argument("--device", default="cpu", help="device for the Python teacher and static evaluation")
    parser.add_argument("--thresholds", help="JSON file {name: value} overriding default thresholds")
    parser.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                        help="override one threshold (repeatable); VALUE none switches the check off")
    parser.add_argument("--out", default="validate_report", help="report folder (default ./validate_report)")
    parser.add_argument("--properties", nargs="?", const="also", choices=("also", "only"),
                        help="also check lattice constant, bulk modulus and vacancy energy (crystals) or relaxed "
                        "geometry and frequencies (molecules) against the teacher, written to OUT/<system>/"
                        "properties.*; '--properties only' skips the LAMMPS runs")
    parser.add_argument("--full", action="store_true",
                        help="every check: --properties with elastic constants, interstitial and surface energy and "
                        "phonon bands (crystals, needs phonopy) or torsion scans (molecules) added, and --stability; "
                        "the short LAMMPS runs too unless --properties/--stability only. Minutes of teacher time: "
                        "~4 CPU-minutes for the 64-atom Si demo against SevenNet-0 on one thread")
    parser.add_argument("--stability", nargs="?", const="also", choices=("also", "only"),
                        help="also run each student hot and long in NVT and have the teacher judge snapshots of "
                        "its trajectory (OUT/<system>/stability.*); '--stability only' skips the other checks")
    parser.add_argument("--stability-temp", type=float,
                        help="stability temperature in K (default 1.5 x the hottest temperature the student was "
                        "sampled at, from its provenance; 1800 K for the data stage's defaults)")
    parser.add_argument("--stability-ps", type=float, default=10.0,
                        help="stability run length in ps (default 10; 1000 for a ns run)")
    parser.add_argument("--stability-snapshots", type=int, default=20,
                        help="snapshots judged by the teacher (default 20)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.full:
        args.properties = args.properties or "also"
        args.stability = args.stability or "also"

    start = time.perf_counter()
    try:
        thresholds = compare.load_thresholds(path=args.thresholds, overrides=args.threshold)
        inputs = _parse_inputs(args.input) if args.input else None
        systems, props, stab = [], [], []
        jobs = _jobs(args)
        if args.full:
            _check_full(jobs)
        for job in jobs:
            if "only" not in (args.properties, args.stability):
                systems.append(validate_system(
                    teacher=args.teacher, students=job["students"], structure=job["structure"], system=job["system"],
                    out=args.out, protocols=args.protocols, inputs=inputs, steps=args.steps, min_steps=args.min_steps,
                    temp=args.temp, dt=args.dt, seed=args.seed, nprocs=args.nprocs, device=args.device,
                    thresholds=thresholds, progress=not args.no_progress))
            if args.properties:
                props.append(properties.validate_properties(teacher=args.teacher, students=job["students"],
                                                            structure=job["structure"], out=args.out,
                                                            device=args.device, full=args.full))
                print(properties.property_table(props[-1]))
            if args.stability:
                stab.append(stability.validate_stability(
                    teacher=args.teacher, students=job["students"], structure=job["structure"], out=args.out,
                    temperature=args.stability_temp, time_ps=args.stability_ps, snapshots=args.stability_snapshots,
                    seed=args.seed, device=args.device))
                print(stability.stability_table(stab[-1]["reports"]))
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    props_ok = all(p["passed"] for p in props)
    stab_ok = all(s["passed"] for s in stab)
    if args.stability == "only":
        print(f"stability {'PASS' if stab_ok and props_ok else 'FAIL'} in {time.perf_counter() - start:.0f} s")
        return 0 if stab_ok and props_ok else 1
    if args.properties == "only":
        print(f"properties {'PASS' if props_ok and stab_ok else 'FAIL'} in {time.perf_counter() - start:.0f} s")
        return 0 if props_ok and stab_ok else 1
    checks = {**({"properties": props_ok} if props else {}), **({"stability": stab_ok} if stab else {})}
    full = write_report(out=args.out, systems=systems, thresholds=thresholds, wall=time.perf_counter() - start,
                        settings={k: v for k, v in vars(args).items()}, checks=checks)
    print(full["table"])
    failures = report.print_failures(full["results"])
    if failures:
        print(failures)
    passed = full["passed"]
    print(f"{'PASS' if passed else 'FAIL'} in {full['wall_s']:.0f} s; report: {Path(args.out) / 'report.md'}"
          + ("" if props_ok else " (a property check failed)") + ("" if stab_ok else " (a stability check failed)"))
    return 0 if passed else 1
