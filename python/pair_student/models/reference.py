"""The reference student: a small analytic many-body potential that follows the contract.

It exists so that the pair style, the calculator and the export path can be tested exactly
before any distillation. Per atom ``i`` with neighbours ``j`` inside the cutoff::

    E_i = 1/2 sum_j D_ij fc(r) [exp(-2a(r - r0_ij)) - 2 exp(-a(r - r0_ij))]     Morse pairs
          - c_i sqrt(1 + rho_i) + b_i |sum_j fc(r) r_hat|^2                     density, angles
          (+ w_i sum_j fc(r) rho_j  with ``num_layers=2``: one message-passing step)

with ``rho_i = sum_j fc(r_ij)`` and ``r0`` the sum of covalent radii. The ``num_layers=2``
variant reads the density of neighbours, so LAMMPS must hold a ghost shell two cutoffs deep:
it is how the pair style's ghost handling for message-passing students is tested.
"""

from __future__ import annotations

from typing import Sequence

import torch
from ase.data import atomic_numbers, covalent_radii

from .base import StudentModel, polynomial_cutoff


class ReferenceStudent(StudentModel):
    def __init__(self, elements: Sequence[str], cutoff: float = 4.0, num_layers: int = 1):
        super().__init__()
        if num_layers not in (1, 2):
            raise ValueError(f"num_layers must be 1 or 2, got {num_layers}")
        self.elements = list(elements)
        self.cutoff = float(cutoff)
        self.num_layers = int(num_layers)
        n = len(self.elements)
        radii = torch.tensor([covalent_radii[atomic_numbers[e]] for e in self.elements], dtype=torch.float64)
        index = torch.arange(n, dtype=torch.float64)
        self.register_buffer("r0", radii[:, None] + radii[None, :])
        self.register_buffer("depth", 0.6 + 0.1 * (index[:, None] + index[None, :]))
        self.register_buffer("alpha", torch.full((n, n), 1.6, dtype=torch.float64))
        self.register_buffer("density_weight", 0.8 + 0.2 * index)
        self.register_buffer("angle_weight", 0.05 + 0.02 * index)
        self.register_buffer("message_weight", 0.03 + 0.01 * index)
        self.register_buffer("shift", -1.0 - 0.5 * index)

    def atom_energies(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> torch.Tensor:
        center, neighbor = edge_index[0], edge_index[1]
        zi, zj = species[center], species[neighbor]
        r = torch.linalg.norm(edge_vectors, dim=1)
        fc = polynomial_cutoff(r, self.cutoff)
        x = torch.exp(-self.alpha[zi, zj] * (r - self.r0[zi, zj]))
        pair = 0.5 * self.depth[zi, zj] * fc * (x * x - 2.0 * x)

        num_nodes = species.shape[0]
        rho = torch.zeros(num_nodes, dtype=r.dtype, device=r.device).index_add(0, center, fc)
        moment = torch.zeros((num_nodes, 3), dtype=r.dtype, device=r.device).index_add(
            0, center, fc.unsqueeze(1) * edge_vectors / r.unsqueeze(1)
        )
        node = (
            self.shift[species]
            - self.density_weight[species] * torch.sqrt(1.0 + rho)
            + self.angle_weight[species] * (moment * moment).sum(1)
        )
        energy = node.index_add(0, center, pair)
        if self.num_layers == 2:
            energy = energy.index_add(0, center, self.message_weight[zi] * fc * rho[neighbor])
        return energy[:num_local]
