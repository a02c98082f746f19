"""Per-atom uncertainty (models/uncertainty.py): ~1 on the training atoms, large far from them,
calibrated on validation frames only, the same numbers from the eager model, its TorchScript
file, the rebuild from that file and the ASE calculator, and finite for an isolated atom."""

import numpy as np
import pytest
import torch
from ase import Atoms

from pair_student.calculator import StudentCalculator
from pair_student.contract import save_student
from pair_student.graph import atoms_to_graph
from pair_student.models.student_file import model_from_student_file
from pair_student.models.tabulated import tabulate
from pair_student.models.uncertainty import distances, fit_calibration, fit_statistics, fit_uncertainty

from model_harness import CUTOFF, ELEMENTS, distorted_cell, local_model


def labelled(model, atoms, noise, seed):
    """A frame labelled by ``model`` itself plus noise: the 'teacher' the student misses by ``noise``."""
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    _, grad = model(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    from pair_student.graph import edge_forces
    forces = edge_forces(g["edge_index"], grad.detach(), len(atoms)).numpy()
    atoms = atoms.copy()
    atoms.info["energy"] = 0.0
    atoms.arrays["forces"] = forces + noise * np.random.default_rng(seed).standard_normal(forces.shape)
    return atoms


def fitted_model():
    m = local_model()
    train = [distorted_cell(seed) for seed in range(6)]
    validation = [labelled(m, distorted_cell(100 + s), 0.05, s) for s in range(8)]
    report = fit_uncertainty(m, train, validation)
    return m, train, report


def uncertainty_of(m, atoms):
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    return m.atom_uncertainty(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"]).detach().numpy()


def test_distance_is_one_on_training_atoms_and_grows_far_from_them():
    m = local_model()
    train = [distorted_cell(seed) for seed in range(6)]
    mean, whiten = fit_statistics(m, train, ridge=1e-3)
    on = np.concatenate([distances(m, a, mean, whiten) for a in train])
    assert 0.5 < np.sqrt((on ** 2).mean()) <= 1.0 + 1e-9
    squeezed = distorted_cell(0)
    squeezed.set_cell(squeezed.cell * 0.8, scale_atoms=True)
    far = distances(m, squeezed, mean, whiten)
    assert far.min() > 3 * on.max()


def test_calibration_recovers_a_power_law():
    rng = np.random.default_rng(0)
    d = rng.uniform(0.5, 4.0, 4000)
    errors = 0.2 * d ** 1.5 * rng.chisquare(3, d.size) ** 0.5 / np.sqrt(3)
    a, p = fit_calibration(d, errors)
    assert p == pytest.approx(1.5, abs=0.1) and a == pytest.approx(0.2, rel=0.15)
    # a flat band of distances cannot set an exponent: it stays in its range
    assert fit_calibration(np.full(100, 1.0), errors[:100])[1] == pytest.approx(1.0)


def test_calibration_reads_only_validation_frames():
    m, _, report = fitted_model()
    assert report["train_frames"] == 6 and report["validation_frames"] == 8
    # noise 0.05 per component: RMS |dF| ~ 0.05 sqrt(3)
    assert report["validation_force_error_rms"] == pytest.approx(0.05 * np.sqrt(3), rel=0.2)
    u = np.concatenate([uncertainty_of(m, distorted_cell(100 + s)) for s in range(8)])
    assert np.sqrt((u ** 2).mean()) == pytest.approx(0.05 * np.sqrt(3), rel=0.35)


def test_no_statistics_is_a_clear_error():
    m = local_model()
    with pytest.raises(RuntimeError, match="no uncertainty statistics"):
        uncertainty_of(m, distorted_cell(0))
    with pytest.raises(ValueError, match="training frames of every element"):
        fit_statistics(m, [Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])])


def test_file_rebuild_and_calculator_agree(tmp_path):
    m, _, _ = fitted_model()
    t = tabulate(m, points=64)
    path = save_student(torch.jit.script(t), tmp_path / "u_traced.pt",
                        {"elements": ELEMENTS, "cutoff": CUTOFF, "num_layers": 1, "dtype": "float64"})
    atoms = distorted_cell(7)
    expected = uncertainty_of(t, atoms)
    rebuilt, _ = model_from_student_file(path)
    np.testing.assert_allclose(uncertainty_of(rebuilt, atoms), expected, rtol=1e-12)
    atoms.calc = StudentCalculator(path, uncertainty=True)
    atoms.get_potential_energy()
    np.testing.assert_allclose(atoms.calc.results["uncertainty"], expected, rtol=1e-12)
    # the uncertainty asks nothing of energies and forces
    plain = distorted_cell(7)
    plain.calc = StudentCalculator(path)
    np.testing.assert_array_equal(plain.get_forces(), atoms.get_forces())
    with pytest.raises(ValueError, match="no uncertainty statistics"):
        plain_path = save_student(torch.jit.script(tabulate(local_model(), points=64)), tmp_path / "p_traced.pt",
                                  {"elements": ELEMENTS, "cutoff": CUTOFF, "num_layers": 1, "dtype": "float64"})
        StudentCalculator(plain_path, uncertainty=True)


def test_isolated_atom_is_finite_and_far():
    m, _, _ = fitted_model()
    u = uncertainty_of(m, Atoms("Cu", positions=[[0, 0, 0]]))
    assert np.isfinite(u).all() and u[0] > 0
