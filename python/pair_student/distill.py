"""``pair-student distill``: sample -> label -> train -> export, for several student sizes.

Usage::

    pair-student distill --structures FILE|si|gan|ethanol --teacher NAME \\
        --sizes original,tiny,ultra-tiny --out DIR [--frames N] [--epochs E] [--seed S]
    pair-student distill --dataset LABELLED.extxyz --sizes tiny --out DIR     # skip sampling/labelling
    pair-student distill --active --dataset LABELLED.extxyz --structures si --out DIR   # on-policy rounds

Writes ``DIR/dataset.extxyz`` (the labelled frames; relabelling resumes if interrupted), and per
size ``DIR/<size>_model_traced.pt`` (float64 TorchScript with provenance), ``<size>_checkpoint.pt``
(a rerun resumes training) and ``<size>_summary.json`` (held-out metrics), plus
``DIR/distill_summary.json`` with every size's metrics.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import List, Optional

from .atomic import atomic_write_text
from .data.label import label
from .data.sample import sample
from .data.structures import demo_structure, read_structures
from .export import export
from .registry import DEMO_NAMES, SIZES
from .teachers import get_teacher
from .training.trainer import TrainConfig, train


def build_parser(prog: str = "pair-student distill") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--structures", help=f"structure file (any ASE format) or a demo name: {', '.join(DEMO_NAMES)}")
    src.add_argument("--dataset", help="an already labelled extxyz dataset: skip sampling and labelling")
    p.add_argument("--teacher", default="sevennet", help="teacher name (pair_student.teachers)")
    p.add_argument("--device", default="cpu", help="device of teacher and training")
    p.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated presets of {list(SIZES)}")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--frames", type=int, default=240, help="frames to sample")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--max-time", type=float, default=None, help="seconds of training per size")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Optional[List[str]] = None, prog: str = "pair-student distill") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--active" in argv:
        from .active.cli import main as active_main

        return active_main([a for a in argv if a != "--active"], prog=f"{prog} --active")
    args = build_parser(prog).parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(f"{prog}: unknown sizes {unknown}; known: {', '.join(SIZES)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join([prog] + [shlex.quote(a) for a in argv])
    timings = {}

    if args.dataset:
        dataset = Path(args.dataset)
        teacher_name = None  # read from the dataset's frames
    else:
        teacher_name = args.teacher
        dataset = out / "dataset.extxyz"
        if dataset.is_file():
            print(f"reusing labelled dataset {dataset}")
        else:
            structures = [demo_structure(args.structures)] if args.structures.lower() in DEMO_NAMES \
                else read_structures(args.structures)
            teacher = get_teacher(args.teacher, device=args.device)
            t0 = time.perf_counter()
            frames = sample(structures, teacher=teacher, n_frames=args.frames, seed=args.seed)
            timings["sample_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            label(frames, teacher=teacher, out=dataset, seed=args.seed)
            timings["label_s"] = time.perf_counter() - t0

    results = {}
    for size in sizes:
        t0 = time.perf_counter()
        cfg = TrainConfig(dataset=str(dataset), out=str(out), name=size, preset=size, cutoff=args.cutoff,
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          max_time=args.max_time, device=args.device, progress=not args.no_progress,
                          teacher=teacher_name, command=command)
        summary = train(cfg)
        if "metrics" in summary:
            summary["model"] = str(export(summary["checkpoint"], out=out / f"{size}_model_traced.pt"))
        timings[f"train_{size}_s"] = time.perf_counter() - t0
        results[size] = {k: summary.get(k) for k in ("model", "params", "metrics", "test_split", "epochs_done", "stopped")}
        m = summary.get("metrics") or {}
        if m:
            print(f"{size}: force R2 {m['force_r2']:.4f}, RMSE {m['force_rmse']:.4f} eV/A, "
                  f"angle {m['force_angle_mean_deg']:.2f} deg -> {summary.get('model')}")
    atomic_write_text(out / "distill_summary.json", json.dumps(
        {"command": command, "seed": args.seed, "dataset": str(dataset), "teacher": teacher_name or "from dataset",
         "timings": timings, "sizes": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
