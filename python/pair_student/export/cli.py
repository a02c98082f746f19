"""``pair-student export``: a checkpoint or student file to a verified TorchScript or ONNX student file.

Usage::

    pair-student export CHECKPOINT_OR_PT --format torchscript|onnx [--dtype float32|float64]
                        [--quantize int8|fp16] [--out PATH] [--frames FILE] [--table-points N]

The source is a training checkpoint or a student ``.pt`` (local, tabulated as every shipped
student, or reference), which is rebuilt as its eager model and must reproduce the file
before anything is written (:func:`pair_student.models.student_file.model_from_student_file`,
checked by :func:`pair_student.export.student_file_source`); e.g.
``pair-student export $(pair-student models --system si | grep /tiny_) --format onnx`` (or, from
a checkout, ``python/pair_student/demo/si/tiny_model_traced.pt``) writes ``tiny_model.onnx``.

* ``torchscript`` writes ``<name>_traced.pt``: what ``pair_style student`` loads (CPU and
  CUDA) and :class:`pair_student.calculator.StudentCalculator` reads, metadata as extra files
  (:func:`pair_student.contract.save_student`).
* ``onnx`` writes ``<name>.onnx`` for onnxruntime, metadata in ``metadata_props`` (same keys
  as the TorchScript extra files). Inputs ``species`` int64 (num_nodes,), ``edge_index`` int64
  (2, num_edges), ``edge_vectors`` float (num_edges, 3), ``num_local`` int64 scalar; outputs
  ``atom_energy`` (num_local,) and ``edge_grad`` (num_edges, 3) = dE/d edge_vectors. The
  backward pass is an explicit part of the graph (see :mod:`pair_student.export.onnx`,
  ``docs/onnx.md``).

Every file is verified before it is reported written: its per-atom energies, edge gradients
and forces on sample frames (``--frames``, or a rattled periodic cell of the model's elements
and a small cluster, once with all atoms local and once with part of them as ghosts) must
match the eager model; otherwise the command fails and leaves no file behind.

A local student is tabulated by default, in both formats (``--table-points``,
:mod:`pair_student.models.tabulated`): its radial network becomes cubic Hermite tables, which
``pair_style student`` runs in a native CPU kernel and ONNX evaluates with Gather and
arithmetic ops, so both files of one checkpoint are the same function; the forces change by
the tabulation error, ~1e-5 relative at 256 points, which is measured on the verification
frames, recorded in the provenance, and must stay below 1e-3. A tabulated student keeps its
tables.

Quantization (``--quantize``) replaces every ``nn.Linear`` by a weight-only int8 (per output
channel, symmetric) or fp16 copy that is dequantized in ``forward``, so forces stay exact
gradients of the (quantized) energy. ``torch.ao.quantization.quantize_dynamic`` is not used:
its ``quantized::linear_dynamic`` has no autograd formula and returns wrong forces silently.
It only shrinks Linear weights, is slower and costs accuracy, so it is not recommended
(docs/onnx.md has the numbers); the verifier compares the file against the quantized eager
model. TorchScript only: the ONNX exporter folds the dequantization back into float weights.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ase.io import read

from .verify import TOLERANCE, ExportVerificationError
from .write import FORMATS, export


def main(argv: Optional[List[str]] = None, prog: str = "pair-student export") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="training checkpoint to export, or a student's .pt to re-export")
    parser.add_argument("--format", choices=FORMATS, default="torchscript")
    parser.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64")
    parser.add_argument("--quantize", choices=("int8", "fp16"), default=None,
                        help="weight-only quantization of Linear layers (smaller, slower; not recommended)")
    parser.add_argument("--out", default=None, help="output directory or file (.pt/.onnx)")
    parser.add_argument("--frames", default=None, help="extxyz frames to verify on (default: generated)")
    parser.add_argument("--table-points", type=int, default=None,
                        help="intervals of the radial tables of a local student (default 256; 0: keep "
                             "the radial network, which pair_style student then runs through libtorch; "
                             "a tabulated student keeps its tables)")
    parser.add_argument("--core-from", default=None, metavar="DATASET",
                        help="labelled dataset whose training split sets the core repulsion windows of a "
                             "student that has none (a student trained with them keeps its own)")
    parser.add_argument("--uncertainty-from", default=None, metavar="DATASET",
                        help="labelled dataset whose training split gives the per-atom uncertainty its "
                             "statistics and whose validation split calibrates it (default: the "
                             "checkpoint's dataset, where it exists; a file keeps its own)")
    args = parser.parse_args(argv)
    frames = read(args.frames, index=":8") if args.frames else None
    try:
        path = export(args.checkpoint, format=args.format, dtype=args.dtype, quantize=args.quantize,
                      out=args.out, frames=frames, table_points=args.table_points,
                      core_from=args.core_from, uncertainty_from=args.uncertainty_from)
    except ExportVerificationError as exc:
        print(f"{prog}: verification failed, nothing written: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB, {args.format}, {args.dtype}"
          + (f", {args.quantize}" if args.quantize else "") + ", verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
