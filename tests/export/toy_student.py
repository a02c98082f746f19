"""A small trainable student for tests: an MLP on a species-weighted radial basis."""

import torch

from pair_student.models.base import StudentModel, polynomial_cutoff


class ToyStudent(StudentModel):
    def __init__(self, elements, cutoff: float = 4.0, num_basis: int = 8, hidden: int = 16):
        super().__init__()
        self.elements, self.cutoff, self.num_layers = list(elements), float(cutoff), 1
        self.embed = torch.nn.Embedding(len(self.elements), num_basis)
        self.register_buffer("centers", torch.linspace(0.5, cutoff, num_basis))
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(num_basis, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, 1)
        )

    def atom_energies(self, species, edge_index, edge_vectors, num_local: int):
        center, neighbor = edge_index[0], edge_index[1]
        r = torch.linalg.norm(edge_vectors, dim=1)
        basis = torch.exp(-((r.unsqueeze(1) - self.centers) ** 2)) * polynomial_cutoff(r, self.cutoff).unsqueeze(1)
        feat = basis * self.embed(species[neighbor])
        node = torch.zeros((species.shape[0], feat.shape[1]), dtype=feat.dtype, device=feat.device)
        return self.mlp(node.index_add(0, center, feat)).squeeze(1)[:num_local]
