"""Tiny float64 local students and a distorted two-element cell, shared by the model tests."""

import numpy as np
import torch
from ase.build import bulk

from pair_student.graph import atoms_to_graph, edge_forces
from pair_student.models import LocalStudent

ELEMENTS = ["Al", "Cu"]
CUTOFF = 4.0


def local_model(lmax=2, seed=0, num_basis=8, radial_mode="shared"):
    torch.manual_seed(seed)
    m = LocalStudent(ELEMENTS, CUTOFF, channels=6, num_basis=num_basis, radial_hidden=12, hidden=16, lmax=lmax,
                     radial_mode=radial_mode).double().eval()
    with torch.no_grad():  # random non-trivial readout so every invariant matters
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m


def distorted_cell(seed=0):
    a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    a.symbols[[1, 4]] = "Al"
    a.rattle(0.1, seed=seed)
    a.set_cell(a.cell @ (np.eye(3) + 0.02 * np.random.default_rng(seed).standard_normal((3, 3))), scale_atoms=True)
    return a


def energy_of(m, atoms):
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    e, grad = m(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    return e.sum().item(), g, grad


def assert_forces_are_minus_gradient(m, atoms, atol=1e-7, atoms_to_move=(0, 1, 5), h=1e-5):
    """The model's forces (from its edge gradients) against central finite differences of its energy."""
    _, g, grad = energy_of(m, atoms)
    forces = edge_forces(g["edge_index"], grad, len(atoms)).numpy()
    for i in atoms_to_move:
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            fd = -(energy_of(m, plus)[0] - energy_of(m, minus)[0]) / (2 * h)
            assert abs(forces[i, k] - fd) <= atol, f"atom {i} axis {k}: force {forces[i, k]} vs -dE/dx {fd}"
