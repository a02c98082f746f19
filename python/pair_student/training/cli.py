"""``pair-student train``: train one student on a labelled extxyz dataset, up to a checkpoint.

Usage::

    pair-student train DATASET --out DIR [--size tiny] [--epochs 200] [--max-time 600] ...
    torchrun --nproc_per_node 2 -m pair_student.training.cli DATASET --out DIR ...   # data parallel

Writes ``DIR/<name>_checkpoint.pt`` every epoch (a rerun resumes from it; the last one carries
the provenance a student file needs) and ``DIR/<name>_summary.json`` (test metrics, history).
``pair-student export DIR/<name>_checkpoint.pt --out DIR/<name>_model_traced.pt`` makes the
student file; ``pair-student distill`` does both.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from ..registry import DEFAULT_SIZE, SIZES
from .trainer import TrainConfig, train

# --size values that name no preset: the sizes are --model's (the rest the architecture's defaults)
NO_PRESET = ("custom", "none")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive gradient norm (leave --grad-clip out for no clipping)")
    return value


def build_parser(prog: str = "pair-student train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("dataset", help="labelled extxyz (info split = train/val/test)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", default=DEFAULT_SIZE, choices=[*SIZES, *NO_PRESET],
                   help=f"preset: {', '.join(SIZES)}; {' or '.join(NO_PRESET)}: no preset, the sizes "
                   "given in --model and the architecture's defaults")
    p.add_argument("--name", default=None, help="file prefix (default: the size)")
    p.add_argument("--architecture", default="local")
    p.add_argument("--model", default="{}", help='JSON of explicit sizes, e.g. \'{"channels": 32, "lmax": 1}\'')
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--scheduler", choices=["cosine", "plateau"], default="cosine")
    p.add_argument("--energy-weight", type=float, default=1.0)
    p.add_argument("--force-weight", type=float, default=1.0)
    p.add_argument("--stress-weight", type=float, default=10.0)
    p.add_argument("--ema", type=float, default=0.99, help="EMA decay per step, 0 = off")
    p.add_argument("--grad-clip", type=_positive, default=None, help="clip each step's gradient norm to this (default: off)")
    p.add_argument("--no-core-repulsion", action="store_true",
                   help="train without the ZBL core repulsion below the shortest training distances")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights and data statistics (fresh optimizer): "
                        "fine-tune a student on a grown dataset")
    p.add_argument("--patience", type=int, default=40)
    p.add_argument("--max-time", type=float, default=None, help="seconds of training before stopping")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--teacher", default=None, help="teacher name for provenance (default: from the dataset)")
    return p


def main(argv: Optional[List[str]] = None, prog: str = "pair-student train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
    preset = None if args.size in NO_PRESET else args.size
    cfg = TrainConfig(
        dataset=args.dataset, out=args.out, name=args.name or args.size, architecture=args.architecture,
        preset=preset if args.architecture == "local" else None, model_kwargs=json.loads(args.model),
        cutoff=args.cutoff, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, scheduler=args.scheduler,
        energy_weight=args.energy_weight, force_weight=args.force_weight, stress_weight=args.stress_weight,
        ema_decay=args.ema, grad_clip=args.grad_clip, core_repulsion=not args.no_core_repulsion, init_from=args.init_from, patience=args.patience, max_time=args.max_time, seed=args.seed, device=args.device,
        resume=not args.no_resume, progress=not args.no_progress, teacher=args.teacher,
        command=" ".join([prog] + [shlex.quote(a) for a in argv]),
    )
    summary = train(cfg)
    if "metrics" in summary:
        m = summary["metrics"]
        print(f"{cfg.name}: {summary.get('params')} params, {summary['epochs_done']} epochs ({summary['stopped']}), "
              f"{summary['test_split']} force R2 {m['force_r2']:.4f} RMSE {m['force_rmse']:.4f} eV/A "
              f"MAE {m['force_mae']:.4f} angle {m['force_angle_mean_deg']:.2f} deg, "
              f"energy MAE {m['energy_mae_per_atom'] * 1000:.2f} meV/atom -> {summary['checkpoint']}")
        student = Path(cfg.out) / f"{cfg.name}_model_traced.pt"
        print(f"student file: pair-student export {shlex.quote(summary['checkpoint'])} --out {shlex.quote(str(student))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
