"""Size, accuracy against the teacher and CPU speed of one trained student's TorchScript
exports: float64, float32, and float32 with fp16 or int8 weights.

    python scripts/quantize_table.py out/distill/si/tiny_checkpoint.pt out/distill/si/dataset.extxyz

Each file is written by ``pair_student.export.export`` (so verified against the eager model)
and scored with ``pair_student.analysis.analyze_students`` on the dataset's test split. Prints
a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from pair_student.analysis import analyze_students
from pair_student.export import export

VARIANTS = [("float64", None), ("float32", None), ("float32", "fp16"), ("float32", "int8")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="training checkpoint of the student")
    parser.add_argument("dataset", type=Path, help="labelled extxyz whose test split scores each export")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(tempfile.mkdtemp(prefix="quantize_"))
    rows = []
    for dtype, quant in VARIANTS:
        name = f"{dtype}{'_' + quant if quant else ''}"
        path = export(args.checkpoint, format="torchscript", dtype=dtype, quantize=quant, out=out / f"{name}_traced.pt")
        report = analyze_students(students=[path], frames=args.dataset, split="test", out=None)["students"][0]
        rows.append((name, path.stat().st_size, report))
    print(f"{args.checkpoint}: test split of {args.dataset}, CPU, 1 thread\n")
    print("| TorchScript | size (KiB) | force R² | RMSE (eV/Å) | mean angle (°) | energy MAE (meV/atom) | µs/atom |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, size, r in rows:
        print(f"| {name} | {size / 1024:.1f} | {r['force']['r2']:.5f} | {r['force']['rmse']:.5f} "
              f"| {r['angular_error_deg']['mean']:.3f} | {1e3 * r['energy_per_atom']['mae']:.3f} "
              f"| {r['speed']['us_per_atom']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
