"""Whether a written student file reproduces the model it was written from.

The measure is norm-wise: ``||file - reference|| / ||reference||`` over all entries of each
of per-atom energy, total energy, edge gradient and forces, worst over the verification
graphs. Runners give every file type the same call, ``run(species, edge_index,
edge_vectors, num_local) -> (atom_energy, edge_grad)``.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES, ContractError, evaluate, load_student
from ..graph import edge_forces

Runner = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], Tuple[torch.Tensor, torch.Tensor]]
Graphs = List[Dict[str, Any]]

TOLERANCE = {"float64": 1e-10, "float32": 1e-6}
"""Verification tolerance: ||file - eager|| / ||eager|| (2-norm over all entries) per
quantity, on every verification frame; for float32 at least twice the model's own float32
rounding error (:func:`verification_tolerance`)."""


class ExportVerificationError(RuntimeError):
    """An exported file does not reproduce the eager model."""


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().to(torch.float64), b.detach().to(torch.float64)
    if a.shape != b.shape or not torch.isfinite(a).all():
        return float("inf")
    # norm-wise: one entry that cancels to ~0 in float32 must not dominate the measure
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b).clamp_min(1e-12)) if b.numel() else 0.0


def differences(run: Runner, reference: Runner, graphs: Graphs) -> Dict[str, float]:
    """Worst relative difference (see :func:`_relative`) of ``run`` against ``reference``
    over ``graphs``, for per-atom energy, total energy, edge gradient and forces."""
    worst = {"atom_energy": 0.0, "energy": 0.0, "edge_grad": 0.0, "forces": 0.0}
    for g in graphs:
        args = (g[SPECIES], g[EDGE_INDEX], g[EDGE_VECTORS], int(g[NUM_LOCAL]))
        ref_e, ref_g = reference(*args)
        try:
            e, grad = run(*args)
        except Exception as exc:  # a corrupted file may load but fail to run
            raise ExportVerificationError(f"exported model failed to run: {exc}") from exc
        n = g[SPECIES].shape[0]
        same = grad.shape == ref_g.shape
        pairs = {
            "atom_energy": (e, ref_e),
            "energy": (e.sum().reshape(1), ref_e.sum().reshape(1)),
            "edge_grad": (grad, ref_g),
            "forces": (edge_forces(g[EDGE_INDEX], grad.to(ref_g.dtype), n) if same else grad,
                       edge_forces(g[EDGE_INDEX], ref_g, n)),
        }
        for key, (a, b) in pairs.items():
            worst[key] = max(worst[key], _relative(a, b))
    return worst


def float32_noise(model: torch.nn.Module, graphs: Graphs) -> float:
    """How far the float32 model itself is from its float64 copy on ``graphs``: two float32
    implementations (eager, TorchScript, onnxruntime) cannot agree much better than this."""
    model64 = copy.deepcopy(model).to(torch.float64)
    graphs64 = [{**g, EDGE_VECTORS: g[EDGE_VECTORS].to(torch.float64)} for g in graphs]

    def run(species, edge_index, edge_vectors, num_local):
        energy, grad = model(species, edge_index, edge_vectors.to(torch.float32), num_local)
        return energy.to(torch.float32), grad.to(torch.float32)

    return max(differences(run, model64, graphs64).values())


def compare_outputs(run: Runner, reference: Runner, graphs: Graphs, *, tolerance: float) -> Dict[str, float]:
    """:func:`differences`, raising :class:`ExportVerificationError` above ``tolerance``."""
    worst = differences(run, reference, graphs)
    if os.environ.get("PAIR_STUDENT_EXPORT_DEBUG"):
        print("verification:", {k: f"{v:.2e}" for k, v in worst.items()}, f"tol={tolerance:.2e}", file=sys.stderr)
    bad = {k: v for k, v in worst.items() if not v <= tolerance}
    if bad:
        raise ExportVerificationError(
            "exported file does not reproduce the model: relative differences "
            + ", ".join(f"{k}={v:.3g}" for k, v in bad.items()) + f" exceed {tolerance:.3g}"
        )
    return worst


def torchscript_runner(path: str | os.PathLike, dtype: torch.dtype) -> Runner:
    """A student ``.pt`` called as ``pair_style student`` calls it."""
    try:
        module, _ = load_student(path, dtype=dtype)
    except (ContractError, RuntimeError, ValueError) as exc:
        raise ExportVerificationError(f"exported file {path} cannot be loaded: {exc}") from exc
    return functools.partial(evaluate, module)


def onnx_runner(path: str | os.PathLike) -> Runner:
    """An ``.onnx`` student in an onnxruntime CPU session."""
    import onnxruntime as ort  # optional: only ONNX exports need it

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportVerificationError(f"exported file {path} cannot be loaded by onnxruntime: {exc}") from exc

    def run(species, edge_index, edge_vectors, num_local):
        feed = {"species": species.numpy(), "edge_index": edge_index.numpy(),
                "edge_vectors": edge_vectors.detach().numpy(), "num_local": np.array(num_local, dtype=np.int64)}
        energy, grad = session.run(["atom_energy", "edge_grad"], feed)
        return torch.from_numpy(energy), torch.from_numpy(grad)

    return run


def verification_tolerance(model: torch.nn.Module, graphs: Graphs, dtype: str) -> float:
    """``TOLERANCE[dtype]``, widened for float32 to twice the model's own float32 rounding
    error (:func:`float32_noise`), which for models with cancelling terms exceeds 1e-6."""
    if dtype == "float64":
        return TOLERANCE[dtype]
    return max(TOLERANCE[dtype], 2.0 * float32_noise(model, graphs))


def verify_file(path: str | os.PathLike, reference: torch.nn.Module, graphs: Graphs, *, dtype: str,
                tolerance: Optional[float] = None) -> Dict[str, float]:
    """Check an exported ``.pt``/``.onnx`` against ``reference`` (see :func:`compare_outputs`);
    returns the worst relative differences."""
    run = onnx_runner(path) if str(path).endswith(".onnx") else torchscript_runner(path, getattr(torch, dtype))
    if tolerance is None:
        tolerance = verification_tolerance(reference, graphs, dtype)
    return compare_outputs(run, reference, graphs, tolerance=tolerance)
