"""Graphs of the student contract built from ASE atoms, and the edge-gradient algebra.

Everything that turns ``edge_grad`` into forces, virial and per-atom virial lives here, so
the ASE calculator, training and analysis all use the arithmetic the C++ pair style uses.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list

from .contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES


def species_of(atoms: Atoms, elements: Sequence[str]) -> np.ndarray:
    """Index of each atom's symbol in ``elements``; a clear error for an unknown element."""
    lookup = {el: i for i, el in enumerate(elements)}
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(lookup))
    if unknown:
        raise ValueError(
            f"structure contains {unknown}, which this student does not know; "
            f"it was trained for {list(elements)}"
        )
    return np.fromiter((lookup[s] for s in symbols), dtype=np.int64, count=len(symbols))


def atoms_to_graph(
    atoms: Atoms,
    cutoff: float,
    elements: Sequence[str],
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Dict[str, torch.Tensor | int]:
    """The contract's inputs for ``atoms``: one node per atom, periodic images as edges."""
    if atoms.pbc.all() and abs(atoms.cell.volume) < 1e-12:
        raise ValueError("periodic structure has a zero-volume cell; set atoms.cell or pbc=False")
    i, j, d = neighbor_list("ijD", atoms, float(cutoff), self_interaction=False)
    return {
        SPECIES: torch.as_tensor(species_of(atoms, elements), device=device),
        EDGE_INDEX: torch.as_tensor(np.stack([i, j]).astype(np.int64), device=device),
        EDGE_VECTORS: torch.as_tensor(d, dtype=dtype, device=device),
        NUM_LOCAL: len(atoms),
    }


def edge_forces(edge_index: torch.Tensor, edge_grad: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``(num_nodes, 3)`` forces: ``+g`` on the center, ``-g`` on the neighbor of each edge."""
    forces = torch.zeros((num_nodes, 3), dtype=edge_grad.dtype, device=edge_grad.device)
    forces.index_add_(0, edge_index[0], edge_grad)
    forces.index_add_(0, edge_index[1], -edge_grad)
    return forces


def edge_virials(edge_vectors: torch.Tensor, edge_grad: torch.Tensor) -> torch.Tensor:
    """``(num_edges, 3, 3)`` virial of each edge, ``-r (x) g`` (LAMMPS sign convention)."""
    return -edge_vectors.unsqueeze(2) * edge_grad.unsqueeze(1)


def atom_virials(
    edge_index: torch.Tensor, edge_vectors: torch.Tensor, edge_grad: torch.Tensor, num_nodes: int
) -> torch.Tensor:
    """``(num_nodes, 3, 3)`` per-atom virial: each edge's virial split half to either end."""
    half = 0.5 * edge_virials(edge_vectors, edge_grad)
    out = torch.zeros((num_nodes, 3, 3), dtype=edge_grad.dtype, device=edge_grad.device)
    out.index_add_(0, edge_index[0], half)
    out.index_add_(0, edge_index[1], half)
    return out
