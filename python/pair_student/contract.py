"""The contract between Python students and ``pair_style student``.

A student file is a TorchScript module saved with ``torch.jit.save`` whose

``forward(species, edge_index, edge_vectors, num_local) -> (atom_energy, edge_grad)``

takes

- ``species``       ``(num_nodes,)`` int64: index of each node's element in ``elements``;
  nodes are the local atoms first (``0 .. num_local-1``), then ghosts/periodic images if any.
- ``edge_index``    ``(2, num_edges)`` int64: ``[center, neighbor]`` node indices. The list is
  full (both directions present) and holds every pair closer than ``cutoff``. For a model with
  ``num_layers == 1`` only local atoms need to appear as centers.
- ``edge_vectors``  ``(num_edges, 3)`` float: ``x[neighbor] - x[center]`` in Angstrom, the
  periodic image or ghost shift already applied.
- ``num_local``     int: number of atoms whose energy is wanted.

and returns

- ``atom_energy``   ``(num_local,)``: energy of each local atom in eV.
- ``edge_grad``     ``(num_edges, 3)``: ``dE/d edge_vectors`` with ``E = atom_energy.sum()``.

Forces and virial follow from ``edge_grad`` alone, identically in ASE and in LAMMPS
(periodic images in ASE and ghost atoms in LAMMPS are the same thing)::

    F[center]   += edge_grad[e]
    F[neighbor] -= edge_grad[e]
    virial      -= outer(edge_vectors[e], edge_grad[e])     # LAMMPS sign; stress = -virial / V

The metadata travels in the file as TorchScript extra files (plain text, one value each, so
the C++ side needs no JSON parser), named by :data:`METADATA_KEYS`; ``provenance`` is JSON.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, Tuple

import torch

from .atomic import atomic_path

CONTRACT_VERSION = 1
"""Bumped whenever inputs, outputs or metadata change meaning; the pair style refuses others."""

UNITS = "metal"  # eV, Angstrom

# Keys of the graph dict :func:`pair_student.graph.atoms_to_graph` builds: the inputs of ``forward``.
SPECIES = "species"  # (num_nodes,) int64
EDGE_INDEX = "edge_index"  # (2, num_edges) int64, [center, neighbor]
EDGE_VECTORS = "edge_vectors"  # (num_edges, 3) float, x[neighbor] - x[center]
NUM_LOCAL = "num_local"  # int

# Extra files of a student .pt; the C++ pair style reads the same names.
METADATA_KEYS = (
    "contract_version",  # int
    "elements",  # space-separated chemical symbols, index = species
    "cutoff",  # float, Angstrom
    "num_layers",  # int, message-passing depth; ghost shell = num_layers * cutoff
    "units",  # "metal"
    "dtype",  # "float32" | "float64": the dtype the file was saved in
    "provenance",  # JSON: teacher, dataset, metrics, command, ...
)


class ContractError(ValueError):
    """A file or module does not follow the student contract."""


def encode_metadata(metadata: Dict[str, Any]) -> Dict[str, str]:
    """``metadata`` as the plain-text values stored under :data:`METADATA_KEYS` (TorchScript
    extra files, ONNX ``metadata_props``); the C++ pair style reads the same names."""
    missing = [k for k in ("elements", "cutoff") if k not in metadata]
    if missing:
        raise ContractError(f"student metadata lacks {missing}; give at least elements and cutoff")
    elements = list(metadata["elements"])
    if not elements or any(not isinstance(e, str) or " " in e for e in elements):
        raise ContractError(f"elements must be a non-empty list of symbols, got {elements!r}")
    return {
        "contract_version": str(CONTRACT_VERSION),
        "elements": " ".join(elements),
        "cutoff": repr(float(metadata["cutoff"])),
        "num_layers": str(int(metadata.get("num_layers", 1))),
        "units": metadata.get("units", UNITS),
        "dtype": str(metadata.get("dtype", "float64")),
        "provenance": json.dumps(metadata.get("provenance", {}), sort_keys=True, default=str),
    }


def _decode(raw: Dict[str, str], path: str) -> Dict[str, Any]:
    if not raw.get("contract_version"):
        raise ContractError(
            f"{path} is a TorchScript file without student metadata; export it with "
            "pair_student.contract.save_student (or pair-student export)"
        )
    version = int(raw["contract_version"])
    if version != CONTRACT_VERSION:
        raise ContractError(
            f"{path} follows student contract v{version}, this pair_student reads "
            f"v{CONTRACT_VERSION}; re-export the model with this version"
        )
    return {
        "contract_version": version,
        "elements": raw["elements"].split(),
        "cutoff": float(raw["cutoff"]),
        "num_layers": int(raw["num_layers"]),
        "units": raw["units"],
        "dtype": raw["dtype"],
        "provenance": json.loads(raw.get("provenance") or "{}"),
    }


def read_metadata(path: str | os.PathLike) -> Dict[str, Any]:
    """Metadata of a student file as a dict (``elements``, ``cutoff``, ``num_layers``, ...).

    Reads only the zip's extra files, so it is cheap even for large models.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"student model file {path!r} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            raw = {}
            for name in zf.namelist():
                parts = name.split("/")
                if len(parts) == 3 and parts[1] == "extra" and parts[2] in METADATA_KEYS:
                    raw[parts[2]] = zf.read(name).decode()
    except zipfile.BadZipFile as exc:
        raise ContractError(f"{path} is not a TorchScript student file (not a zip archive)") from exc
    return _decode(raw, path)


def save_student(module: torch.nn.Module, path: str | os.PathLike, metadata: Dict[str, Any]) -> Path:
    """Script ``module`` (unless already scripted) and write it atomically with its metadata.

    ``metadata["dtype"]`` is filled from the module's parameters when absent.
    """
    path = Path(path)
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
    meta = dict(metadata)
    if "dtype" not in meta:
        floats = [p.dtype for p in scripted.parameters() if p.is_floating_point()]
        floats += [b.dtype for b in scripted.buffers() if b.is_floating_point()]
        meta["dtype"] = str(floats[0]).replace("torch.", "") if floats else "float64"
    extra = encode_metadata(meta)
    with atomic_path(path) as tmp:
        torch.jit.save(scripted, str(tmp), _extra_files=extra)
    return path


def evaluate(
    module: torch.nn.Module, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Call a student the way ``pair_style student`` does: TorchScript's optimizing executor
    off, so a scripted file gives the same numbers (bitwise, on CPU) as the eager model."""
    with torch.jit.optimized_execution(False):
        return module(species, edge_index, edge_vectors, num_local)


def carries_uncertainty(module: torch.nn.Module) -> bool:
    """Whether a student (eager or TorchScript) holds per-atom uncertainty statistics, i.e. has a
    non-empty ``uncertainty_mean`` and so an ``atom_uncertainty`` that answers (files exported
    before the uncertainty, or without a dataset, have none)."""
    held = getattr(module, "uncertainty_mean", None)
    return held is not None and held.shape[0] > 0


def load_student(
    path: str | os.PathLike, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> Tuple[torch.jit.ScriptModule, Dict[str, Any]]:
    """Load a student file; returns ``(module, metadata)`` on ``device`` in ``dtype``."""
    metadata = read_metadata(path)
    try:
        module = torch.jit.load(str(path), map_location=torch.device(device))
    except RuntimeError as exc:
        raise ContractError(f"{path} could not be loaded as TorchScript: {exc}") from exc
    if dtype is None:
        dtype = getattr(torch, metadata["dtype"])
    module = module.to(dtype)
    module.eval()
    return module, metadata
