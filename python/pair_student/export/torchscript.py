"""Exporting a student: loading a checkpoint or student file, tabulating, quantizing, writing
and verifying the file (``pair-student export`` is :mod:`.cli`)."""

from __future__ import annotations

import functools
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from ase import Atoms

from ..atomic import atomic_path
from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES, save_student
from ..graph import atoms_to_graph, edge_forces

FORMATS = ("torchscript", "onnx")
TOLERANCE = {"float64": 1e-10, "float32": 1e-6}
"""Verification tolerance: ||file - eager|| / ||eager|| (2-norm over all entries) per
quantity, on every verification frame; for float32 at least twice the model's own float32
rounding error (:func:`verification_tolerance`)."""


class ExportVerificationError(RuntimeError):
    """An exported file does not reproduce the eager model."""


# ----------------------------------------------------------------------------- loading
def load_checkpoint(path: str | os.PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """``(model, metadata)`` of a training checkpoint, or of a local student's TorchScript file
    (to re-export an older file, e.g. with radial tables)."""
    if _is_student_file(path):
        return local_student_from_file(path)
    from ..models.checkpoint import load_checkpoint_model

    return load_checkpoint_model(path)


def _is_student_file(path) -> bool:
    """A TorchScript student (its zip holds ``extra/contract_version``), not a torch.save checkpoint."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("/extra/contract_version") for name in zf.namelist())


def local_student_from_file(path: str | os.PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """The eager float64 :class:`LocalStudent` inside a student ``.pt``, with its metadata; its
    sizes are read off its attributes and stored weights."""
    from ..contract import ContractError, read_metadata
    from ..models import LocalStudent

    meta = read_metadata(path)
    scripted = torch.jit.load(str(path), map_location="cpu")
    state = scripted.state_dict()
    if "radial_in.weight" not in state or "readout_in.weight" not in state:
        raise ContractError(f"{path} is not an untabulated local student; give its training checkpoint instead")
    radial_hidden, num_basis = state["radial_in.weight"].shape
    model = LocalStudent(
        meta["elements"], meta["cutoff"], channels=int(scripted.channels), num_basis=num_basis,
        radial_hidden=radial_hidden, hidden=state["readout_in.weight"].shape[0],
        readout_layers=1 + sum(k.endswith(".weight") and k.startswith("readout_hidden.") for k in state),
        lmax=int(scripted.lmax), envelope_p=int(scripted.envelope_p),
    ).double()
    # TorchScript keeps non-persistent buffers too; those are rebuilt by the constructor
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    keep = {k: meta[k] for k in ("elements", "cutoff", "num_layers", "provenance")}
    return model.eval(), keep


def model_metadata(model: torch.nn.Module, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Contract metadata from the model's attributes, overridden by ``extra`` (checkpoint)."""
    meta: Dict[str, Any] = {}
    for key in ("elements", "cutoff", "num_layers"):
        if hasattr(model, key):
            meta[key] = getattr(model, key)
    meta.update(extra or {})
    if "elements" not in meta or "cutoff" not in meta:
        raise ValueError("model has no elements/cutoff attributes and the checkpoint metadata gives none")
    return meta


# ----------------------------------------------------------------------------- quantization
class QuantizedLinear(torch.nn.Module):
    """Weight-only quantized ``nn.Linear``: int8 (per-row scale) or fp16 storage, float compute.

    Dequantizing in ``forward`` keeps the layer differentiable with respect to its input,
    which conservative forces need.
    """

    def __init__(self, linear: torch.nn.Linear, mode: str):
        super().__init__()
        weight = linear.weight.detach()
        if mode == "int8":
            scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            self.register_buffer("qweight", torch.round(weight / scale[:, None]).to(torch.int8))
        elif mode == "fp16":
            scale = torch.ones(weight.shape[0], dtype=weight.dtype)
            self.register_buffer("qweight", weight.to(torch.float16))
        else:
            raise ValueError(f"quantize must be 'int8' or 'fp16', got {mode!r}")
        self.register_buffer("scale", scale)
        bias = linear.bias.detach().clone() if linear.bias is not None else torch.zeros(weight.shape[0], dtype=weight.dtype)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.qweight.to(x.dtype) * self.scale.to(x.dtype).unsqueeze(1)
        return torch.nn.functional.linear(x, weight, self.bias.to(x.dtype))


def quantize_model(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by :class:`QuantizedLinear`."""
    import copy

    model = copy.deepcopy(model)
    count = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, QuantizedLinear(child, mode))
                count += 1
    if count == 0:
        raise ValueError("--quantize: the model has no nn.Linear layers to quantize")
    return model


# ----------------------------------------------------------------------------- sample frames
def sample_frames(elements: Sequence[str], *, seed: int = 0) -> List[Atoms]:
    """A rattled periodic fcc cell holding every element and a 13-atom cluster.

    Nearest-neighbour distances follow the covalent radii, so the frames are physical for
    the model's elements and every atom has neighbours inside any reasonable cutoff.
    """
    from ase.build import bulk
    from ase.cluster import Icosahedron
    from ase.data import atomic_numbers, covalent_radii

    rng = np.random.default_rng(seed)
    d = 2.2 * float(np.mean([covalent_radii[atomic_numbers[e]] for e in elements]))
    cell = bulk("Cu", "fcc", a=d * np.sqrt(2.0), cubic=True).repeat((2, 2, 2))
    cell.symbols[:] = [elements[i % len(elements)] for i in rng.permutation(len(cell))]
    cell.positions += rng.normal(0.0, 0.05 * d, cell.positions.shape)
    cluster = Icosahedron("Cu", 2, latticeconstant=d * np.sqrt(2.0))
    cluster.symbols[:] = [elements[i % len(elements)] for i in range(len(cluster))]
    cluster.positions += rng.normal(0.0, 0.05 * d, cluster.positions.shape)
    cluster.pbc = False
    return [cell, cluster]


def verification_graphs(frames: Iterable[Atoms], elements, cutoff, dtype) -> List[Dict[str, Any]]:
    """Contract graphs of ``frames``, plus the last frame with a third of its atoms as ghosts
    (``num_local < num_nodes``), the situation of every LAMMPS domain."""
    graphs = [atoms_to_graph(a, cutoff, elements, dtype=dtype) for a in frames]
    last = dict(graphs[-1])
    last[NUM_LOCAL] = max(1, (2 * int(last[NUM_LOCAL])) // 3)
    return graphs + [last]


# ----------------------------------------------------------------------------- verification
def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().to(torch.float64), b.detach().to(torch.float64)
    if a.shape != b.shape:
        return float("inf")
    if not torch.isfinite(a).all():
        return float("inf")
    # norm-wise: one entry that cancels to ~0 in float32 must not dominate the measure
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b).clamp_min(1e-12)) if b.numel() else 0.0


def differences(run, reference: torch.nn.Module, graphs) -> Dict[str, float]:
    """Worst relative difference (see :func:`_relative`) of ``run(graph) -> (energy, grad)``
    against ``reference`` over ``graphs``, for per-atom energy, total energy, edge gradient
    and forces."""
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


def float32_noise(model: torch.nn.Module, graphs) -> float:
    """How far the float32 model itself is from its float64 copy on ``graphs``: two float32
    implementations (eager, TorchScript, onnxruntime) cannot agree much better than this."""
    import copy

    model64 = copy.deepcopy(model).to(torch.float64)
    graphs64 = [{**g, EDGE_VECTORS: g[EDGE_VECTORS].to(torch.float64)} for g in graphs]
    run = lambda *a: tuple(t.to(torch.float32) for t in model(a[0], a[1], a[2].to(torch.float32), a[3]))  # noqa: E731
    return max(differences(run, model64, graphs64).values())


def compare_outputs(run, reference: torch.nn.Module, graphs, *, tolerance: float) -> Dict[str, float]:
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


def torchscript_runner(path: str | os.PathLike, dtype: torch.dtype):
    from ..contract import ContractError, evaluate, load_student

    try:
        module, _ = load_student(path, dtype=dtype)
    except (ContractError, RuntimeError, ValueError) as exc:
        raise ExportVerificationError(f"exported file {path} cannot be loaded: {exc}") from exc
    return functools.partial(evaluate, module)


def onnx_runner(path: str | os.PathLike):
    import onnxruntime as ort

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


def verification_tolerance(model: torch.nn.Module, graphs, dtype: str) -> float:
    """``TOLERANCE[dtype]``, widened for float32 to twice the model's own float32 rounding
    error (:func:`float32_noise`), which for models with cancelling terms exceeds 1e-6."""
    if dtype == "float64":
        return TOLERANCE[dtype]
    return max(TOLERANCE[dtype], 2.0 * float32_noise(model, graphs))


def verify_file(path, reference: torch.nn.Module, graphs, *, dtype: str, tolerance: Optional[float] = None):
    """Check an exported ``.pt``/``.onnx`` against ``reference`` (see :func:`compare_outputs`);
    returns the worst relative differences."""
    torch_dtype = getattr(torch, dtype)
    run = onnx_runner(path) if str(path).endswith(".onnx") else torchscript_runner(path, torch_dtype)
    if tolerance is None:
        tolerance = verification_tolerance(reference, graphs, dtype)
    return compare_outputs(run, reference, graphs, tolerance=tolerance)


# ----------------------------------------------------------------------------- export
def _output_path(out, name: str, fmt: str) -> Path:
    suffix = "_traced.pt" if fmt == "torchscript" else ".onnx"
    if out is None:
        return Path(f"{name}{suffix}")
    out = Path(out)
    if out.suffix in (".pt", ".onnx"):
        return out
    return out / f"{name}{suffix}"


def _write_onnx(model, graphs, path: Path, metadata: Dict[str, Any]) -> None:
    import onnx

    from ..contract import _encode
    from .onnx import export_onnx

    export_onnx(model, graphs[0], path)
    proto = onnx.load(str(path))
    for key, value in _encode(metadata).items():
        proto.metadata_props.add(key=key, value=value)
    proto.metadata_props.add(key="interface", value="species,edge_index,edge_vectors,num_local -> atom_energy,edge_grad")
    onnx.save(proto, str(path))


TABULATION_TOLERANCE = 1e-3
"""Largest accepted relative force difference between a tabulated student and its network."""


def _tabulated(model, points: Optional[int], format: str, graphs, meta: Dict[str, Any]):
    """``model``, or its tabulated copy (see ``table_points`` of :func:`export`), with the
    tabulation error on the verification frames recorded in the provenance."""
    from ..models import LocalStudent
    from ..models.tabulated import DEFAULT_POINTS, TabulatedStudent, tabulate

    if isinstance(model, TabulatedStudent) or points == 0:
        return model
    if not isinstance(model, LocalStudent) or format != "torchscript":
        if points:
            raise ValueError("table_points applies to local students exported as TorchScript")
        return model
    model = model.to(torch.float64).eval()
    table = tabulate(model, points or DEFAULT_POINTS)
    graphs64 = [{**g, EDGE_VECTORS: g[EDGE_VECTORS].to(torch.float64)} for g in graphs]
    error = differences(table, model, graphs64)["forces"]
    if not error <= TABULATION_TOLERANCE:
        raise ExportVerificationError(
            f"the radial tables on {table.table_points} intervals change the forces by {error:.3g} "
            f"(relative, > {TABULATION_TOLERANCE}); use more table points")
    meta["provenance"] = {**(meta.get("provenance") or {}),
                          "tabulated": {"points": table.table_points, "force_difference": error}}
    return table


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
) -> Path:
    """Export and verify a student; returns the path written.

    Args:
        checkpoint_or_module: a checkpoint path or a ``StudentModel`` (with ``elements`` and
            ``cutoff`` attributes, or give them in ``metadata``).
        format: ``"torchscript"`` (``<name>_traced.pt``) or ``"onnx"`` (``<name>.onnx``).
        dtype: ``"float64"`` or ``"float32"``: the dtype of the file.
        quantize: None, ``"int8"`` or ``"fp16"`` weight-only quantization of Linear layers.
        out: a directory, or a file path ending in ``.pt``/``.onnx``; default: cwd.
        frames: ASE structures to verify on; default :func:`sample_frames`.
        name: file stem; default: the checkpoint's stem, or ``"student"``.
        metadata: extra metadata (e.g. ``provenance``), overriding the checkpoint's.
        table_points: tabulate the radial network of a local student on this many intervals
            (:mod:`pair_student.models.tabulated`), which lets ``pair_style student`` run its
            native CPU kernel; ``None``: 256 for a local student in TorchScript, ``0``: never.
    Raises:
        ExportVerificationError: the written file does not reproduce the model (no file is
            left behind).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if quantize and format == "onnx":
        # the ONNX exporter constant-folds the dequantization back into float weights: the file
        # would be as large as the float one, with the quantization error and no gain
        raise ValueError("--quantize applies to TorchScript only; for ONNX use onnxruntime.quantization "
                         "on the float file (see docs/onnx.md)")
    if dtype not in TOLERANCE:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if isinstance(checkpoint_or_module, (str, os.PathLike)):
        model, ckpt_meta = load_checkpoint(checkpoint_or_module)
        name = name or Path(checkpoint_or_module).name.split(".")[0]
    else:
        model, ckpt_meta = checkpoint_or_module, {}
    meta = model_metadata(model, {**ckpt_meta, **(metadata or {})})
    name = name or "student"
    torch_dtype = getattr(torch, dtype)
    graphs = verification_graphs(frames or sample_frames(meta["elements"]), meta["elements"], meta["cutoff"], torch_dtype)
    model = _tabulated(model, table_points, format, graphs, meta).to(torch_dtype).eval()
    if quantize:
        model = quantize_model(model, quantize).eval()
        name = f"{name}_{quantize}"
        provenance = dict(meta.get("provenance") or {})
        provenance["quantize"] = f"{quantize} weight-only (nn.Linear)"
        meta["provenance"] = provenance
    meta["dtype"] = dtype
    path = _output_path(out, name, format)
    # verified before the rename: a failed export leaves nothing behind
    with atomic_path(path, suffix=path.suffix) as tmp:
        if format == "torchscript":
            save_student(model, tmp, meta)
        else:
            _write_onnx(model, graphs, tmp, meta)
        verify_file(tmp, model, graphs, dtype=dtype)
    return path
