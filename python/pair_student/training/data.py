"""Labelled frames -> contract graphs with targets, and batches of several structures.

A batch concatenates graphs: node indices of structure ``b`` are offset by the nodes before it,
``batch`` gives each node's structure, per-structure energies are an ``index_add`` of atom
energies and per-structure virials an ``index_add`` of edge virials by the centre's structure,
exactly the algebra of :mod:`pair_student.graph` that the pair style uses.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import ase.io
import numpy as np
import torch
from ase import Atoms
from ase.stress import voigt_6_to_full_3x3_stress

from ..data.dataset import dataset_file, frame_labels, has_labels, uncompressed
from ..graph import atoms_to_graph, edge_forces, edge_virials

Graph = Dict[str, object]


def read_frames(path, split: Optional[str] = None) -> List[Atoms]:
    """All frames of a dataset in memory, optionally one split. Unlike
    :func:`pair_student.data.dataset.read_dataset` (which streams, and reads extxyz only) the
    format is ASE's guess from the name, and an empty or unreadable file raises ASE's error,
    which :func:`read_labelled` turns into advice."""
    path = dataset_file(path)
    frames = ase.io.read(uncompressed(path), ":", format="extxyz") if path.suffix == ".gz" else ase.io.read(path, ":")
    if split is not None:
        frames = [a for a in frames if a.info.get("split") == split]
    return frames


def read_labelled(path) -> List[Atoms]:
    """The frames of a dataset to train on; one clear error, before any model is built, for a
    file that is empty, not a structure file, or holds frames without teacher labels."""
    try:
        frames = read_frames(path)
    except (ase.io.formats.UnknownFileTypeError, StopIteration) as exc:
        raise ValueError(f"dataset {str(path)!r} holds no frames ({exc}); make one with "
                         "`pair-student label FRAMES --out dataset.extxyz`") from exc
    if not frames:
        raise ValueError(f"dataset {str(path)!r} holds no frames; make one with `pair-student label`")
    unlabelled = [i for i, atoms in enumerate(frames) if not has_labels(atoms)]
    if unlabelled:
        raise ValueError(
            f"{len(unlabelled)} of {len(frames)} frames of {str(path)!r} (the first: frame {unlabelled[0]}) carry no "
            "energy and forces; label them with `pair-student label FRAMES --out dataset.extxyz`")
    return frames


def frame_to_graph(atoms: Atoms, cutoff: float, elements: Sequence[str], dtype=torch.float32) -> Graph:
    g = atoms_to_graph(atoms, cutoff, elements, dtype=dtype)
    labels = frame_labels(atoms)
    if labels is None:
        raise ValueError("a frame to train on carries no teacher energy and forces")
    energy, forces, stress = labels["energy"], labels["forces"], labels["stress"]
    if stress is not None:
        stress = voigt_6_to_full_3x3_stress(stress)
    g["energy"] = torch.tensor(energy, dtype=torch.float64)
    g["forces"] = torch.as_tensor(forces, dtype=dtype)
    g["has_stress"] = stress is not None
    g["stress"] = torch.as_tensor(stress if stress is not None else np.zeros((3, 3)), dtype=dtype)
    g["volume"] = float(atoms.get_volume()) if stress is not None else 1.0
    return g


def frames_to_graphs(frames: Sequence[Atoms], cutoff: float, elements: Sequence[str], dtype=torch.float32) -> List[Graph]:
    return [frame_to_graph(a, cutoff, elements, dtype) for a in frames]


def collate(graphs: Sequence[Graph], device="cpu") -> Dict[str, torch.Tensor]:
    """Concatenate graphs into one batch (all nodes local, as in ASE)."""
    species, edges, vectors, batch, edge_batch, forces = [], [], [], [], [], []
    offset = 0
    for b, g in enumerate(graphs):
        n = int(g["num_local"])
        species.append(g["species"])
        edges.append(g["edge_index"] + offset)
        vectors.append(g["edge_vectors"])
        batch.append(torch.full((n,), b, dtype=torch.long))
        edge_batch.append(torch.full((g["edge_index"].shape[1],), b, dtype=torch.long))
        forces.append(g["forces"])
        offset += n
    out = {
        "species": torch.cat(species),
        "edge_index": torch.cat(edges, dim=1),
        "edge_vectors": torch.cat(vectors),
        "batch": torch.cat(batch),
        "edge_batch": torch.cat(edge_batch),
        "num_atoms": torch.tensor([int(g["num_local"]) for g in graphs], dtype=torch.long),
        "energy": torch.stack([g["energy"] for g in graphs]),
        "forces": torch.cat(forces),
        "stress": torch.stack([g["stress"] for g in graphs]),
        "has_stress": torch.tensor([bool(g["has_stress"]) for g in graphs]),
        "volume": torch.tensor([float(g["volume"]) for g in graphs], dtype=torch.float64),
    }
    return {k: v.to(device) for k, v in out.items()}


def predict(model, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Energies (B,), forces (N,3) and stresses (B,3,3) of a batch, the pair style's algebra."""
    n_nodes = batch["species"].shape[0]
    n_struct = batch["num_atoms"].shape[0]
    atom_energy, edge_grad = model(batch["species"], batch["edge_index"], batch["edge_vectors"], n_nodes)
    energy = torch.zeros(n_struct, dtype=atom_energy.dtype, device=atom_energy.device).index_add(
        0, batch["batch"], atom_energy
    )
    forces = edge_forces(batch["edge_index"], edge_grad, n_nodes)
    virial = torch.zeros((n_struct, 3, 3), dtype=edge_grad.dtype, device=edge_grad.device).index_add(
        0, batch["edge_batch"], edge_virials(batch["edge_vectors"], edge_grad)
    )
    stress = -virial / batch["volume"].to(virial.dtype).view(-1, 1, 1)  # ASE sign
    return {"energy": energy, "forces": forces, "stress": stress}


def fit_shifts(graphs: Sequence[Graph], num_elements: int) -> torch.Tensor:
    """Per-element energy shifts: least squares of energy vs composition (min-norm if singular)."""
    counts = np.zeros((len(graphs), num_elements))
    energies = np.zeros(len(graphs))
    for i, g in enumerate(graphs):
        counts[i] = np.bincount(g["species"].numpy(), minlength=num_elements)
        energies[i] = float(g["energy"])
    shifts, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return torch.as_tensor(shifts, dtype=torch.float64)


def force_rms(graphs: Sequence[Graph]) -> float:
    sq = sum(float((g["forces"].double() ** 2).sum()) for g in graphs)
    n = sum(g["forces"].numel() for g in graphs)
    return max((sq / max(n, 1)) ** 0.5, 1e-3)


def mean_neighbors(graphs: Sequence[Graph]) -> float:
    edges = sum(g["edge_index"].shape[1] for g in graphs)
    nodes = sum(int(g["num_local"]) for g in graphs)
    return max(edges / max(nodes, 1), 1.0)
