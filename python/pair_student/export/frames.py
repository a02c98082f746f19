"""Structures every export is verified on: physical for the model's elements, periodic and
finite, and with ghosts (``num_local < num_nodes``) as in every LAMMPS domain."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Sequence

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk
from ase.cluster import Icosahedron
from ase.data import atomic_numbers, covalent_radii

from ..contract import NUM_LOCAL
from ..graph import atoms_to_graph


def sample_frames(elements: Sequence[str], *, seed: int = 0) -> List[Atoms]:
    """A rattled periodic fcc cell holding every element and a 13-atom cluster.

    Nearest-neighbour distances follow the covalent radii, so the frames are physical for
    the model's elements and every atom has neighbours inside any reasonable cutoff.
    """
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


def verification_graphs(frames: Iterable[Atoms], elements: Sequence[str], cutoff: float,
                        dtype: torch.dtype) -> List[Dict[str, Any]]:
    """Contract graphs of ``frames``, plus the last frame with a third of its atoms as ghosts
    (``num_local < num_nodes``), the situation of every LAMMPS domain."""
    graphs = [atoms_to_graph(a, cutoff, list(elements), dtype=dtype) for a in frames]
    last = dict(graphs[-1])
    last[NUM_LOCAL] = max(1, (2 * int(last[NUM_LOCAL])) // 3)
    return graphs + [last]
