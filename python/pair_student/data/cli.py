"""``pair-student sample`` and ``pair-student label``: the data stage's commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import ase.io

from ..atomic import atomic_path
from ..distributed import env_rank
from ..registry import DEMO_NAMES
from ..teachers import get_teacher
from .label import label
from .splits import SPLIT_RULES
from .lammps_md import driver_names, resolve_driver
from .sample import LAMMPS_EQUILIBRATE, METHODS, sample
from .structures import read_structures


def _numbers(text: str, flag: str, *, kind=float) -> List:
    """Comma-separated numbers of a flag; a bad item is one ValueError naming the flag."""
    out = []
    for item in (x.strip() for x in str(text).split(",")):
        if not item:
            continue
        try:
            out.append(kind(item))
        except ValueError:
            raise ValueError(f"{flag}: {item!r} is not a number; give comma-separated numbers, e.g. "
                             f"{flag} 300,600") from None
    if not out:
        raise ValueError(f"{flag} is empty; give comma-separated numbers, e.g. {flag} 300,600")
    return out


def sample_parser(prog: str = "pair-student sample") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Sample atomic configurations for a training set: MD at several "
        "temperatures (and pressures for crystals), driven by the teacher or, cheaply, by a "
        "classical potential or a student in LAMMPS; random rattles, cell strains, normal-mode "
        "displacements for molecules, and close contacts. Writes the (unlabelled) frames to an "
        "extxyz file; label them next with `pair-student label`.",
        epilog="Example: %(prog)s si --driver sw-si --n-frames 1200 --temperatures 300,900,1800 "
        "--pressures 0,-5,5 --md-stride 50 --out si_frames.extxyz",
    )
    parser.add_argument("structures", nargs="+",
                        help="structure files ASE reads (extxyz, CIF, POSCAR, LAMMPS data) or demo "
                        f"names: {', '.join(DEMO_NAMES)}")
    parser.add_argument("--out", required=True, help="output extxyz file with the sampled frames")
    parser.add_argument("--teacher", default="sevennet",
                        help="teacher for teacher-driven MD and normal modes (default: sevennet; "
                        "'none' = no teacher; loaded only when a method needs it)")
    parser.add_argument("--driver", default="teacher",
                        help=f"what runs the md method: {driver_names()} (default: teacher)")
    parser.add_argument("--device", default="cpu", help="teacher device: cpu, cuda, cuda:1 ...")
    parser.add_argument("--n-frames", type=int, default=300, help="frames in total (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: all)")
    parser.add_argument("--temperatures", default="300,600,1200", help="MD temperatures in K")
    parser.add_argument("--pressures", default="0,1", help="NPT pressures in GPa (crystals only)")
    parser.add_argument("--md-stride", type=int, default=5, help="MD steps between frames")
    parser.add_argument("--md-equilibrate", type=int, default=None,
                        help=f"MD steps before the first frame (default: 0 for the teacher, "
                        f"{LAMMPS_EQUILIBRATE} for a LAMMPS driver)")
    parser.add_argument("--timestep-fs", type=float, default=None,
                        help="MD time step in fs (default 0.5 with hydrogen, else 1)")
    parser.add_argument("--contact-range", default="0.65,0.9",
                        help="contact: pair distances as fractions of their equilibrium length (default 0.65,0.9)")
    parser.add_argument("--min-volume", type=float, default=0.85,
                        help="contact: smallest volume ratio of compressed cells (default 0.85)")
    parser.add_argument("--lammps-style", default="atomic",
                        help="atom style of LAMMPS data inputs (default atomic)")
    parser.add_argument("--species", default=None,
                        help="LAMMPS data inputs: elements of types 1,2,... e.g. Ga,N")
    return parser


def _sample_options(args) -> dict:
    """The sample() options of parsed arguments; every bad value is one ValueError."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"--methods: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {','.join(METHODS)}")
    if args.n_frames < 1:
        raise ValueError(f"--n-frames must be at least 1, not {args.n_frames}")
    if args.md_stride < 1:
        raise ValueError(f"--md-stride must be at least 1 MD step, not {args.md_stride}")
    if args.md_equilibrate is not None and args.md_equilibrate < 0:
        raise ValueError(f"--md-equilibrate must be >= 0 steps, not {args.md_equilibrate}")
    temperatures = _numbers(args.temperatures, "--temperatures")
    if min(temperatures) <= 0:
        raise ValueError(f"--temperatures must be positive kelvin, not {args.temperatures}")
    contact_range = _numbers(args.contact_range, "--contact-range")
    if len(contact_range) != 2 or not 0 < contact_range[0] <= contact_range[1] < 1:
        raise ValueError(f"--contact-range must be two ratios 0 < lo <= hi < 1, e.g. 0.65,0.9, not {args.contact_range}")
    if not 0 < args.min_volume < 0.97:
        raise ValueError(f"--min-volume must lie between 0 and 0.97, e.g. 0.85, not {args.min_volume}")
    return dict(n_frames=args.n_frames, seed=args.seed, methods=methods, temperatures=temperatures,
                pressures=_numbers(args.pressures, "--pressures"), md_stride=args.md_stride,
                md_equilibrate=args.md_equilibrate, timestep_fs=args.timestep_fs, driver=args.driver,
                contact_range=contact_range, min_volume=args.min_volume)


def sample_main(argv: Optional[List[str]] = None, prog: str = "pair-student sample") -> int:
    """``pair-student sample``; returns the exit status."""
    args = sample_parser(prog).parse_args(argv)
    options = _sample_options(args)
    species = args.species.split(",") if args.species else None
    structures = []
    for path in args.structures:
        structures += read_structures(path, style=args.lammps_style, species=species)
    symbols = {s for atoms in structures for s in atoms.get_chemical_symbols()}
    driver = resolve_driver(args.driver, symbols)  # a bad driver fails before the teacher loads
    needs_teacher = ("md" in options["methods"] and driver.is_teacher) or (
        "normal_modes" in options["methods"] and any(not a.pbc.all() for a in structures))
    teacher = None
    if needs_teacher and args.teacher.lower() != "none":
        teacher = get_teacher(args.teacher, device=args.device)
    frames = sample(structures, teacher=teacher, **options)
    with atomic_path(args.out) as tmp:
        ase.io.write(tmp, frames, format="extxyz")
    print(f"wrote {len(frames)} frames to {args.out}")
    return 0


def label_parser(prog: str = "pair-student label") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compute teacher energies, forces and stresses for sampled frames and write "
        "a training dataset (extxyz, readable with ase.io.read(path, ':')). Each frame gets a "
        "train/val/test split fixed by --seed, stratified by the kind of frame (--split-rule). Interrupted jobs resume: rerun the "
        "same command and finished chunks are skipped. Runs sharded under torchrun too: "
        "`torchrun --nproc-per-node 4 -m pair_student.data.label ...`.",
        epilog="Example: %(prog)s si_frames.extxyz --teacher sevennet --out si.extxyz",
    )
    parser.add_argument("frames", help="frames to label: any file ASE reads, e.g. the output of "
                        f"`pair-student sample`, or a demo name ({', '.join(DEMO_NAMES)})")
    parser.add_argument("--out", required=True, help="dataset file to write (extxyz)")
    parser.add_argument("--teacher", default="sevennet",
                        help="teacher: sevennet (default), an Orb name such as "
                        "orb-v3-conservative-inf-omat, sw-si, sw-gan, tersoff-gan")
    parser.add_argument("--device", default="cpu", help="teacher device: cpu, cuda, cuda:1 ...")
    parser.add_argument("--weights-path", default=None,
                        help="local checkpoint for the teacher (Orb) instead of downloading")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--split", default="0.8,0.1,0.1",
                        help="train,val,test fractions (default 0.8,0.1,0.1)")
    parser.add_argument("--split-rule", default=None, choices=SPLIT_RULES,
                        help="stratified: every kind of frame (provenance) in val and test in "
                        "proportion; hash: a hash of the frame index (the rule of older datasets). "
                        "Default: the rule an interrupted job recorded, else stratified")
    parser.add_argument("--test-frames", type=int, default=0,
                        help="at least this many test frames (stratified rule; the test fraction grows)")
    parser.add_argument("--chunk-size", type=int, default=32,
                        help="frames per resumable chunk (default 32)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def label_main(argv: Optional[List[str]] = None, prog: str = "pair-student label") -> int:
    """``pair-student label``; returns the exit status."""
    args = label_parser(prog).parse_args(argv)
    split = _numbers(args.split, "--split")
    if len(split) != 3 or min(split) < 0 or sum(split) <= 0:
        raise ValueError(f"--split must be three non-negative fractions train,val,test, e.g. 0.8,0.1,0.1, not {args.split}")
    if args.test_frames < 0:
        raise ValueError(f"--test-frames must be >= 0, not {args.test_frames}")
    if args.test_frames and args.split_rule == "hash":
        raise ValueError("--test-frames needs the stratified split; drop --split-rule hash or --test-frames")
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, not {args.chunk_size}")
    if args.frames not in DEMO_NAMES and not Path(args.frames).is_file():
        raise FileNotFoundError(f"frames file {args.frames!r} does not exist; give the output of "
                                "`pair-student sample` or a demo name")
    options = {"weights_path": args.weights_path} if args.weights_path else {}
    teacher = get_teacher(args.teacher, device=args.device, **options)
    frames = read_structures(args.frames) if args.frames in DEMO_NAMES else args.frames
    out = label(frames, teacher=teacher, out=args.out, seed=args.seed,
                split=split, chunk_size=args.chunk_size, progress=not args.no_progress,
                split_rule=args.split_rule, test_frames=args.test_frames)
    if env_rank()[0] == 0:
        print(f"wrote {out}")
    return 0
