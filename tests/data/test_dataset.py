"""The one rule for what counts as a labelled frame (training and analysis both use it)."""

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator

from pair_student.data.dataset import dataset_file, frame_labels, has_labels

VOIGT = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # xx yy zz yz xz xy
FULL = np.array([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])


def _cell():
    return bulk("Cu", "fcc", a=3.6, cubic=True)


def test_labels_from_the_calculator_as_an_extxyz_dataset_has_them(tmp_path):
    atoms = _cell()
    forces = np.arange(12.0).reshape(4, 3)
    atoms.calc = SinglePointCalculator(atoms, energy=-3.0, forces=forces, stress=VOIGT)
    ase.io.write(tmp_path / "d.extxyz", atoms)
    (read,) = ase.io.read(tmp_path / "d.extxyz", ":")
    labels = frame_labels(read)
    assert labels["energy"] == -3.0 and labels["forces"].dtype == np.float64
    np.testing.assert_array_equal(labels["forces"], forces)
    np.testing.assert_array_equal(labels["stress"], VOIGT)
    assert has_labels(read)


def test_labels_from_info_and_arrays_and_a_full_stress_tensor():
    atoms = _cell()
    atoms.info["energy"] = -2.5
    atoms.arrays["forces"] = np.zeros((4, 3))
    atoms.info["stress"] = FULL
    labels = frame_labels(atoms)
    assert labels["energy"] == -2.5
    np.testing.assert_array_equal(labels["stress"], VOIGT)  # Voigt, as Teacher.compute returns it


@pytest.mark.parametrize("store", ["calc", "info"])
def test_a_cluster_has_no_stress(store):
    atoms = molecule("H2O")
    if store == "calc":
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((3, 3)), stress=VOIGT)
    else:
        atoms.info.update(energy=-1.0, stress=VOIGT)
        atoms.arrays["forces"] = np.zeros((3, 3))
    assert frame_labels(atoms)["stress"] is None


def test_a_frame_without_energy_or_forces_is_unlabelled():
    assert frame_labels(_cell()) is None and not has_labels(_cell())
    energy_only = _cell()
    energy_only.calc = SinglePointCalculator(energy_only, energy=-1.0)
    assert not has_labels(energy_only)
    forces_only = _cell()
    forces_only.arrays["forces"] = np.zeros((4, 3))
    assert not has_labels(forces_only)


def test_dataset_file_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.extxyz"):
        dataset_file(tmp_path / "missing.extxyz")
    (tmp_path / "d.extxyz").write_text("")
    assert dataset_file(str(tmp_path / "d.extxyz")) == tmp_path / "d.extxyz"
