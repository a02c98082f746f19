"""``pair-student sample`` and ``pair-student label``: the data stage's commands."""

from __future__ import annotations

import argparse
from typing import List, Optional

import ase.io

from ..atomic import atomic_path
from ..distributed import env_rank
from ..registry import DEMO_NAMES
from ..teachers import get_teacher
from .label import label
from .sample import METHODS, sample
from .structures import read_structures


def _floats(text: str) -> List[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def sample_parser(prog: str = "pair-student sample") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Sample atomic configurations for a training set: teacher-driven MD at "
        "several temperatures (and pressures for crystals), random rattles, cell strains, and "
        "normal-mode displacements for molecules. Writes the (unlabelled) frames to an extxyz "
        "file; label them next with `pair-student label`.",
        epilog="Example: %(prog)s si --teacher sevennet --n-frames 300 --out si_frames.extxyz",
    )
    parser.add_argument("structures", nargs="+",
                        help="structure files ASE reads (extxyz, CIF, POSCAR, LAMMPS data) or demo "
                        f"names: {', '.join(DEMO_NAMES)}")
    parser.add_argument("--out", required=True, help="output extxyz file with the sampled frames")
    parser.add_argument("--teacher", default="sevennet",
                        help="teacher driving MD (default: sevennet; 'none' = rattle/strain only)")
    parser.add_argument("--device", default="cpu", help="teacher device: cpu, cuda, cuda:1 ...")
    parser.add_argument("--n-frames", type=int, default=300, help="frames in total (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: all)")
    parser.add_argument("--temperatures", default="300,600,1200", help="MD temperatures in K")
    parser.add_argument("--pressures", default="0,1", help="NPT pressures in GPa (crystals only)")
    parser.add_argument("--md-stride", type=int, default=5, help="MD steps between frames")
    parser.add_argument("--lammps-style", default="atomic",
                        help="atom style of LAMMPS data inputs (default atomic)")
    parser.add_argument("--species", default=None,
                        help="LAMMPS data inputs: elements of types 1,2,... e.g. Ga,N")
    return parser


def sample_main(argv: Optional[List[str]] = None, prog: str = "pair-student sample") -> int:
    """``pair-student sample``; returns the exit status."""
    args = sample_parser(prog).parse_args(argv)
    species = args.species.split(",") if args.species else None
    structures = []
    for path in args.structures:
        structures += read_structures(path, style=args.lammps_style, species=species)
    teacher = None
    if args.teacher.lower() != "none":
        teacher = get_teacher(args.teacher, device=args.device)
    frames = sample(structures, teacher=teacher, n_frames=args.n_frames, seed=args.seed,
                    methods=[m.strip() for m in args.methods.split(",") if m.strip()],
                    temperatures=_floats(args.temperatures), pressures=_floats(args.pressures),
                    md_stride=args.md_stride)
    with atomic_path(args.out) as tmp:
        ase.io.write(tmp, frames, format="extxyz")
    print(f"wrote {len(frames)} frames to {args.out}")
    return 0


def label_parser(prog: str = "pair-student label") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compute teacher energies, forces and stresses for sampled frames and write "
        "a training dataset (extxyz, readable with ase.io.read(path, ':')). Each frame gets a "
        "train/val/test split fixed by --seed and its index. Interrupted jobs resume: rerun the "
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
    parser.add_argument("--chunk-size", type=int, default=32,
                        help="frames per resumable chunk (default 32)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def label_main(argv: Optional[List[str]] = None, prog: str = "pair-student label") -> int:
    """``pair-student label``; returns the exit status."""
    args = label_parser(prog).parse_args(argv)
    options = {"weights_path": args.weights_path} if args.weights_path else {}
    teacher = get_teacher(args.teacher, device=args.device, **options)
    frames = read_structures(args.frames) if args.frames in DEMO_NAMES else args.frames
    out = label(frames, teacher=teacher, out=args.out, seed=args.seed,
                split=[float(x) for x in args.split.split(",")], chunk_size=args.chunk_size,
                progress=not args.no_progress)
    if env_rank()[0] == 0:
        print(f"wrote {out}")
    return 0
