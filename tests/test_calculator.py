"""StudentCalculator: forces are -dE/dx and stress is dE/d(strain)/V, checked numerically in float64."""

import numpy as np
import pytest
from ase.build import bulk, molecule

from pair_student import StudentCalculator
from pair_student.contract import save_student
from pair_student.models import ReferenceStudent


@pytest.fixture(params=[1, 2], ids=["local", "two-layer"])
def gan_model(tmp_path, request):
    model = ReferenceStudent(["Ga", "N"], cutoff=4.0, num_layers=request.param)
    return save_student(model, tmp_path / "m.pt", {"elements": ["Ga", "N"], "cutoff": 4.0,
                                                     "num_layers": request.param})


def gan(model):
    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (2, 2, 1)
    atoms.rattle(0.05, seed=7)
    atoms.calc = StudentCalculator(model)
    return atoms


def numeric_forces(atoms, h=1e-5):
    forces = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                atoms.positions[a, k] += sign * h
                energies.append(atoms.get_potential_energy())
                atoms.positions[a, k] -= sign * h
            forces[a, k] = -(energies[0] - energies[1]) / (2 * h)
    return forces


def numeric_stress(atoms, h=1e-6):
    cell, volume = atoms.cell.copy(), atoms.get_volume()
    stress = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[i, j] += sign * h
                atoms.set_cell(cell @ strain, scale_atoms=True)
                energies.append(atoms.get_potential_energy())
            atoms.set_cell(cell, scale_atoms=True)
            stress[i, j] = (energies[0] - energies[1]) / (2 * h) / volume
    return stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]


def test_forces_are_minus_numeric_gradient(gan_model):
    atoms = gan(gan_model)
    np.testing.assert_allclose(atoms.get_forces(), numeric_forces(atoms), atol=1e-7)


def test_stress_is_numeric_strain_derivative(gan_model):
    atoms = gan(gan_model)
    np.testing.assert_allclose(atoms.get_stress(), numeric_stress(atoms), atol=1e-8)


def test_per_atom_energies_and_stresses_sum_to_totals(gan_model):
    atoms = gan(gan_model)
    assert atoms.get_potential_energies().sum() == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(atoms.get_stresses().sum(0), atoms.get_stress(), atol=1e-12)


def test_molecule_without_pbc(tmp_path):
    model = save_student(ReferenceStudent(["C", "H", "O"]), tmp_path / "m.pt",
                         {"elements": ["C", "H", "O"], "cutoff": 4.0})
    atoms = molecule("CH3CH2OH")
    atoms.calc = StudentCalculator(model)
    np.testing.assert_allclose(atoms.get_forces(), numeric_forces(atoms), atol=1e-7)
    np.testing.assert_allclose(atoms.get_forces().sum(0), 0.0, atol=1e-12)  # no external force


def test_unknown_element_is_named(gan_model):
    atoms = bulk("Si")
    atoms.calc = StudentCalculator(gan_model)
    with pytest.raises(ValueError, match=r"\['Si'\].*trained for \['Ga', 'N'\]"):
        atoms.get_potential_energy()


def test_non_finite_positions_are_refused(gan_model):
    """A NaN position drops out of the neighbour search, so the energy would come back finite."""
    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (2, 2, 2)
    atoms.calc = StudentCalculator(gan_model)
    assert np.isfinite(atoms.get_potential_energy())
    atoms.positions[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"positions of 1 atom\(s\) are not finite \(the first: atom 5\)"):
        atoms.get_potential_energy()


def test_cuda_request_without_gpu_is_clear(gan_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        StudentCalculator(gan_model, device="cuda")
