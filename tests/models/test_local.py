"""LocalStudent: exact gradients, invariances, smooth cutoff, TorchScript, ghosts, presets."""

import copy

import numpy as np
import pytest
import torch
from ase import Atoms

from pair_student.contract import evaluate
from pair_student.graph import atoms_to_graph, edge_forces, edge_virials
from pair_student.models import PRESETS, LocalStudent, build_student

from model_harness import CUTOFF, ELEMENTS, assert_forces_are_minus_gradient, distorted_cell, energy_of, local_model

@pytest.mark.parametrize("lmax", [1, 2, 3])
def test_forces_and_virial_are_finite_difference_derivatives(lmax):
    m, atoms = local_model(lmax), distorted_cell()
    assert_forces_are_minus_gradient(m, atoms)
    _, g, grad = energy_of(m, atoms)
    virial = edge_virials(g["edge_vectors"], grad).sum(0).numpy()
    h = 1e-5
    dE = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            out = []
            for s in (h, -h):
                eps = np.eye(3)
                eps[a, b] += s
                x = atoms.copy()
                x.set_cell(atoms.cell @ eps.T, scale_atoms=True)  # r -> (I + eps) r
                out.append(energy_of(m, x)[0])
            dE[a, b] = (out[0] - out[1]) / (2 * h)
    np.testing.assert_allclose(virial, -dE.T, atol=1e-7)


@pytest.mark.parametrize("lmax", [2, 3])
def test_rotation_translation_permutation_invariance(lmax):
    m, atoms = local_model(lmax), distorted_cell(1)
    e0, g, grad = energy_of(m, atoms)
    f0 = edge_forces(g["edge_index"], grad, len(atoms)).numpy()
    q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))
    rot = atoms.copy()
    rot.set_cell(atoms.cell @ q.T, scale_atoms=True)
    e1, g1, grad1 = energy_of(m, rot)
    # rounding of the rotated positions, amplified by the deliberately wild random weights:
    # ~1e-10 here, where a broken invariant gives O(1)
    assert e1 == pytest.approx(e0, abs=1e-8)
    np.testing.assert_allclose(edge_forces(g1["edge_index"], grad1, len(atoms)).numpy(), f0 @ q.T,
                               atol=1e-9 * np.abs(f0).max())
    moved = atoms.copy()
    moved.positions += [0.3, -1.1, 2.0]
    assert energy_of(m, moved)[0] == pytest.approx(e0, abs=1e-10)
    perm = np.random.default_rng(4).permutation(len(atoms))
    assert energy_of(m, atoms[perm])[0] == pytest.approx(e0, abs=1e-10)


def test_energy_and_force_vanish_smoothly_at_cutoff():
    m = local_model()

    def dimer(r):
        atoms = Atoms("AlCu", positions=[[0, 0, 0], [r, 0, 0]], pbc=False)
        e, g, grad = energy_of(m, atoms)
        return e, edge_forces(g["edge_index"], grad, 2).numpy()

    e_far, _ = dimer(CUTOFF + 0.5)
    for d in (1e-2, 1e-3):
        e, f = dimer(CUTOFF - d)
        # the envelope has vanishing value, slope and curvature at the cutoff: E ~ d^3, F ~ d^2
        assert abs(e - e_far) < 1.0 * d**3
        assert np.abs(f).max() < 10.0 * d**2


@pytest.mark.parametrize("lmax", [2, 3])
def test_scripted_matches_eager_float64_and_float32(lmax):
    m, atoms = local_model(lmax), distorted_cell(2)
    s = torch.jit.script(m)
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    for a, b in zip(m(*args), evaluate(s, *args)):
        assert torch.equal(a, b)
    s32 = torch.jit.script(copy.deepcopy(m)).float()  # scripting shares parameters: copy first
    e32, g32 = evaluate(s32, g["species"], g["edge_index"], g["edge_vectors"].float(), g["num_local"])
    assert e32.dtype == torch.float32 and g32.dtype == torch.float32
    np.testing.assert_allclose(e32.detach().double().numpy(), m(*args)[0].detach().numpy(), atol=1e-4)


def test_ghost_nodes_and_ghost_centres_do_not_change_local_energies():
    m, atoms = local_model(), distorted_cell(3)
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    e0, grad0 = m(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    n_local = 5
    keep = g["edge_index"][0] < n_local  # LAMMPS: only local atoms are centres
    e1, grad1 = m(g["species"], g["edge_index"][:, keep], g["edge_vectors"][keep], n_local)
    assert e1.shape == (n_local,)
    torch.testing.assert_close(e1, e0[:n_local], atol=1e-12, rtol=0)
    # ghost-centred edges present anyway: same local energies, zero gradient on those edges
    e2, grad2 = m(g["species"], g["edge_index"], g["edge_vectors"], n_local)
    torch.testing.assert_close(e2, e0[:n_local], atol=1e-12, rtol=0)
    assert grad2[~keep].abs().max() == 0


def test_presets_sizes_and_registry():
    targets = {"original": 430_000, "tiny": 77_000, "ultra-tiny": 27_500}
    for name, target in targets.items():
        m = build_student({"architecture": "local", "preset": name, "elements": ["Si"], "cutoff": 5.0})
        n = sum(p.numel() for p in m.parameters())
        assert abs(n - target) / target < 0.1, (name, n)
        rebuilt = build_student(m.config())
        assert sum(p.numel() for p in rebuilt.parameters()) == n
    assert set(PRESETS) == set(targets)
    m = build_student({"architecture": "local", "preset": "tiny", "channels": 8, "elements": ["Si"]})
    assert m.channels == 8
    with pytest.raises(ValueError, match="unknown preset"):
        LocalStudent(["Si"], preset="huge")
