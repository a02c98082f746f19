"""``pair-student distill --active``: on-policy distillation (:mod:`pair_student.active.loop`).

    pair-student distill --active --dataset DATA.extxyz --structures si --size tiny --out DIR \\
        [--temperatures 300,900] [--pressures 0] [--rounds 4] [--frames-per-round 40] [--budget N] \\
        [--threshold U] [--steps 2000] [--stride 50] [--epochs 30] [--heldout FRAMES] [--init CKPT]

Rerun the same command after a kill: every finished stage is kept.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..registry import DEMO_NAMES, SIZES
from .loop import ActiveConfig, run_active


def _floats(text: str) -> tuple:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = ActiveConfig
    p.add_argument("--dataset", required=True, help="the starting labelled dataset (its test split stays untouched)")
    p.add_argument("--structures", required=True, help=f"where exploration starts: a structure file or {', '.join(DEMO_NAMES)}")
    p.add_argument("--out", required=True)
    p.add_argument("--size", default=d.size, choices=SIZES)
    p.add_argument("--teacher", default=d.teacher)
    p.add_argument("--init", default=None, help="checkpoint of the starting student (default: train one)")
    p.add_argument("--temperatures", type=_floats, default=d.temperatures, help="K; a melt runs at 2x the hottest")
    p.add_argument("--pressures", type=_floats, default=d.pressures, help="GPa")
    p.add_argument("--rounds", type=int, default=d.rounds)
    p.add_argument("--frames-per-round", type=int, default=d.frames_per_round)
    p.add_argument("--budget", type=int, default=None, help="teacher labels in all (default: half the dataset's frames)")
    p.add_argument("--threshold", type=float, default=None,
                   help="eV/A on a frame's most uncertain atom (default: 2x the validation force RMSE)")
    p.add_argument("--steps", type=int, default=d.steps, help="MD steps (1 fs) per trajectory")
    p.add_argument("--stride", type=int, default=d.stride, help="steps between snapshots")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs of training per round")
    p.add_argument("--max-time", type=float, default=None, help="seconds of training per round")
    p.add_argument("--finetune-lr", type=float, default=d.finetune_lr, help="learning rate of the fine-tuning rounds")
    p.add_argument("--heldout", default=None, help="labelled frames evaluated each round and never used otherwise")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Optional[List[str]] = None, prog: str = "pair-student distill --active") -> int:
    args = build_parser(prog).parse_args(argv)
    for name, value in (("--rounds", args.rounds), ("--frames-per-round", args.frames_per_round),
                        ("--steps", args.steps), ("--stride", args.stride)):
        if value < 1:
            print(f"{prog}: {name} must be >= 1, got {value}", file=sys.stderr)
            return 2
    if args.stride > args.steps or not args.temperatures:
        print(f"{prog}: --stride must not exceed --steps, and --temperatures needs at least one value", file=sys.stderr)
        return 2
    cfg = ActiveConfig(dataset=args.dataset, structures=args.structures, out=args.out, size=args.size,
                       teacher=args.teacher, init=args.init, temperatures=args.temperatures, pressures=args.pressures,
                       rounds=args.rounds, frames_per_round=args.frames_per_round, budget=args.budget,
                       threshold=args.threshold, steps=args.steps, stride=args.stride, epochs=args.epochs,
                       max_time=args.max_time, finetune_lr=args.finetune_lr, heldout=args.heldout, seed=args.seed, device=args.device,
                       progress=not args.no_progress)
    try:
        result = run_active(cfg)
    except (ValueError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    last = result["rounds"][-1]
    print(f"{len(result['rounds']) - 1} round(s), {last['labels_spent']} teacher labels, "
          f"stop: {last.get('stop') or 'rounds'}; student {result['model']}; table {args.out}/rounds.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
