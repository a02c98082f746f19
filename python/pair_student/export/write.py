"""``export``: from a checkpoint, a student file or a model to a verified student file.

The steps, each its own module: load (:mod:`.load`), tabulate (:mod:`.tabulate`), quantize
(:mod:`.quantize`), write (:mod:`.torchscript`, :mod:`.onnx`), verify (:mod:`.verify`) on
the frames of :mod:`.frames`. The file is verified under a temporary name and only then
renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from ase import Atoms

from ..atomic import atomic_path
from ..models.student_file import is_student_file
from . import onnx as onnx_writer
from . import torchscript as torchscript_writer
from .frames import sample_frames, verification_graphs
from .load import load_source, model_metadata
from .quantize import MODES, quantize_model
from .repulsion import with_core_repulsion
from .tabulate import tabulated
from .uncertainty import with_uncertainty
from .verify import TOLERANCE, verify_file

FORMATS = ("torchscript", "onnx")
SUFFIXES = {"torchscript": torchscript_writer.SUFFIX, "onnx": ".onnx"}


def export(
    checkpoint_or_module,
    *,
    format: str = "torchscript",
    dtype: str = "float64",
    quantize: Optional[str] = None,
    out: str | os.PathLike | None = None,
    frames: Optional[Sequence[Atoms]] = None,
    name: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
    table_points: Optional[int] = None,
    core_from: str | os.PathLike | None = None,
    uncertainty_from: str | os.PathLike | None = None,
) -> Path:
    """Export and verify a student; returns the path written.

    Args:
        checkpoint_or_module: a training checkpoint, a student ``.pt`` (see
            :func:`~.load.student_file_source`; shipped students included) or a
            ``StudentModel`` (with ``elements`` and ``cutoff`` attributes, or give them in
            ``metadata``).
        format: ``"torchscript"`` (``<name>_traced.pt``) or ``"onnx"`` (``<name>.onnx``).
        dtype: ``"float64"`` or ``"float32"``: the dtype of the file.
        quantize: None, ``"int8"`` or ``"fp16"`` weight-only quantization of Linear layers.
        out: a directory, or a file path ending in ``.pt``/``.onnx``; default: cwd.
        frames: ASE structures to verify on; default :func:`~.frames.sample_frames`.
        name: file stem; default: the checkpoint's stem (a student file's without
            ``_traced``), or ``"student"``.
        metadata: extra metadata (e.g. ``provenance``), overriding the checkpoint's.
        table_points: tabulate the radial network of a local student on this many intervals
            (:mod:`pair_student.models.tabulated`), which lets ``pair_style student`` run its
            native CPU kernel; ``None``: 256 (a tabulated student keeps its tables), ``0``:
            keep the network.
        core_from: a labelled dataset (the student's own) whose training split sets the core
            repulsion windows of a local student that has none; a student trained with them
            keeps its own. Either way each window is lowered until its dimer repels
            (:func:`~.repulsion.with_core_repulsion`).
        uncertainty_from: a labelled dataset (the student's own) whose training split gives the
            per-atom uncertainty its feature statistics and whose validation split calibrates it;
            default: the checkpoint's dataset where it exists (:func:`~.uncertainty.with_uncertainty`).
    Raises:
        ExportVerificationError: the written file does not reproduce the model (no file is
            left behind).
    """
    _check_options(format, dtype, quantize)
    model, meta, name = _source(checkpoint_or_module, name, metadata)
    frames = frames or sample_frames(meta["elements"])
    graphs = verification_graphs(frames, meta["elements"], meta["cutoff"], getattr(torch, dtype))
    model = tabulated(model, table_points, graphs, meta)
    model = with_core_repulsion(model, meta, core_from, frames)
    model = with_uncertainty(model, meta, uncertainty_from).to(getattr(torch, dtype)).eval()
    if quantize:
        model = quantize_model(model, quantize).eval()
        name = f"{name}_{quantize}"
        meta["provenance"] = {**(meta.get("provenance") or {}), "quantize": f"{quantize} weight-only (nn.Linear)"}
    meta["dtype"] = dtype
    path = _output_path(out, name, format)
    # verified before the rename: a failed export leaves nothing behind
    with atomic_path(path, suffix=path.suffix) as tmp:
        if format == "torchscript":
            torchscript_writer.write_torchscript(model, tmp, meta)
        else:
            onnx_writer.write_onnx(model, graphs[0], tmp, meta)
        verify_file(tmp, model, graphs, dtype=dtype)
    return path


def _check_options(format: str, dtype: str, quantize: Optional[str]) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if quantize and format == "onnx":
        # the ONNX exporter constant-folds the dequantization back into float weights: the file
        # would be as large as the float one, with the quantization error and no gain
        raise ValueError("--quantize applies to TorchScript only; for ONNX use onnxruntime.quantization "
                         "on the float file (see docs/onnx.md)")
    if quantize and quantize not in MODES:
        raise ValueError(f"quantize must be one of {MODES}, got {quantize!r}")
    if dtype not in TOLERANCE:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def _source(checkpoint_or_module, name: Optional[str],
            metadata: Optional[Dict[str, Any]]) -> Tuple[torch.nn.Module, Dict[str, Any], str]:
    """``(model, metadata, name)``; a model given by the caller is copied, so that casting it
    to the file's dtype leaves the caller's alone."""
    if isinstance(checkpoint_or_module, (str, os.PathLike)):
        source = Path(checkpoint_or_module)
        model, ckpt_meta = load_source(source)
        stem = source.name.split(".")[0]
        if is_student_file(source) and stem.endswith("_traced"):
            stem = stem[: -len("_traced")]  # tiny_model_traced.pt -> tiny_model.onnx
        name = name or stem
    else:
        model, ckpt_meta = copy.deepcopy(checkpoint_or_module), {}
    meta = model_metadata(model, {**ckpt_meta, **(metadata or {})})
    return model, meta, name or "student"


def _output_path(out, name: str, fmt: str) -> Path:
    suffix = SUFFIXES[fmt]
    if out is None:
        return Path(f"{name}{suffix}")
    out = Path(out)
    if out.suffix in (".pt", ".onnx"):
        return out
    return out / f"{name}{suffix}"
