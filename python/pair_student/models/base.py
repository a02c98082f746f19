"""Base class of every student: subclasses give per-atom energies, the base adds the gradient."""

from __future__ import annotations

from typing import Tuple

import torch


class StudentModel(torch.nn.Module):
    """A student following :mod:`pair_student.contract`.

    Subclasses implement :meth:`atom_energies`; :meth:`forward` returns the energies with
    their gradient with respect to the edge vectors, built with ``create_graph`` while training
    so that force losses reach the parameters.
    """

    def atom_energies(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if not edge_vectors.requires_grad:
            edge_vectors = edge_vectors.detach().requires_grad_(True)
        energy = self.atom_energies(species, edge_index, edge_vectors, num_local)
        grads = torch.autograd.grad(
            [energy.sum()], [edge_vectors], create_graph=self.training, allow_unused=True
        )
        grad = grads[0]
        if grad is None:  # no edges contribute, e.g. isolated atoms
            grad = torch.zeros_like(edge_vectors)
        return energy, grad


def polynomial_cutoff(r: torch.Tensor, cutoff: float, p: int = 6) -> torch.Tensor:
    """Smooth envelope, 1 at r=0 and 0 at ``cutoff`` with ``p`` vanishing derivatives there.

    The polynomial of the DimeNet/NequIP family, so energies, forces and their first derivative
    go to zero continuously and MD conserves energy.
    """
    x = r / cutoff
    f = (
        1.0
        - 0.5 * (p + 1) * (p + 2) * x**p
        + p * (p + 2) * x ** (p + 1)
        - 0.5 * p * (p + 1) * x ** (p + 2)
    )
    return torch.where(x < 1.0, f, torch.zeros_like(f))
