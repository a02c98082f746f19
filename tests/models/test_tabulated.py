"""TabulatedStudent: the radial tables reproduce the network, converge as spacing^3 in the
forces, and keep the model exact in itself (finite differences, invariance, TorchScript);
export tabulates local students by default and can re-export an existing file."""

import numpy as np
import pytest
import torch

from pair_student.contract import evaluate, load_student, read_metadata
from pair_student.export import TABULATION_TOLERANCE, export
from pair_student.graph import atoms_to_graph, edge_forces
from pair_student.models import ReferenceStudent
from pair_student.models.student_file import model_from_student_file
from pair_student.models.tabulated import TabulatedStudent, is_tabulated, tabulate

from model_harness import CUTOFF, ELEMENTS, distorted_cell, energy_of, local_model


def _relative_force_error(a, b, atoms):
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    fa = edge_forces(g["edge_index"], a(*args)[1], len(atoms))
    fb = edge_forces(g["edge_index"], b(*args)[1], len(atoms))
    return float((fa - fb).norm() / fb.norm())


def test_tables_converge_to_the_network():
    model, atoms = local_model(), distorted_cell(3)
    errors = [_relative_force_error(tabulate(model, n), model, atoms) for n in (32, 64, 128)]
    assert errors[-1] < 1e-4
    # cubic Hermite: value error ~ h^4, slope error ~ h^3: each halving gains well over 4x
    assert errors[0] / errors[1] > 4 and errors[1] / errors[2] > 4, errors
    # the presets' 24 Bessel functions (sharper radial weights, here with random weights on a
    # 4 A cutoff) still tabulate within export's tolerance at the default 256 intervals
    sharp = local_model(num_basis=24)
    assert _relative_force_error(tabulate(sharp, 256), sharp, atoms) < TABULATION_TOLERANCE


@pytest.mark.parametrize("lmax", [1, 2, 3])
def test_tabulated_forces_are_its_own_gradient_and_script(lmax):
    table, atoms = tabulate(local_model(lmax), 64), distorted_cell()
    e0, g, grad = energy_of(table, atoms)
    forces = edge_forces(g["edge_index"], grad, len(atoms)).numpy()
    h = 1e-5
    for i, k in ((0, 0), (3, 2)):
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, k] += h
        minus.positions[i, k] -= h
        assert forces[i, k] == pytest.approx(-(energy_of(table, plus)[0] - energy_of(table, minus)[0]) / (2 * h), abs=1e-7)
    q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((3, 3)))
    rot = atoms.copy()
    rot.set_cell(atoms.cell @ q.T, scale_atoms=True)
    assert energy_of(table, rot)[0] == pytest.approx(e0, abs=1e-8)
    scripted = torch.jit.script(table)
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    e_s, grad_s = evaluate(scripted, *args)
    assert torch.allclose(e_s, table(*args)[0], rtol=0, atol=1e-12)
    assert is_tabulated(scripted) and not hasattr(scripted, "radial_in")


def test_only_local_students_tabulate():
    with pytest.raises(TypeError, match="only a LocalStudent"):
        TabulatedStudent(ReferenceStudent(ELEMENTS, cutoff=CUTOFF))
    with pytest.raises(ValueError, match="points must be"):
        tabulate(local_model(), 4)


def test_export_tabulates_by_default_and_reexports_files(tmp_path):
    model = local_model()
    plain = export(model, out=tmp_path / "plain.pt", table_points=0)
    assert "tabulated" not in read_metadata(plain)["provenance"]
    rebuilt, meta = model_from_student_file(plain)
    atoms = distorted_cell(4)
    assert _relative_force_error(rebuilt, model, atoms) < 1e-12  # sizes read back off the weights
    table = export(plain, out=tmp_path / "table.pt")  # a .pt file is re-exported like a checkpoint
    info = read_metadata(table)["provenance"]["tabulated"]
    assert info["points"] == 256 and 0 < info["force_difference"] < 1e-4
    module, _ = load_student(table)
    assert is_tabulated(module)
    assert _relative_force_error(lambda *a: evaluate(module, *a), model, atoms) < 1e-4
    with pytest.raises(ValueError, match="table_points applies to local students"):
        export(ReferenceStudent(ELEMENTS, cutoff=CUTOFF), out=tmp_path / "ref.pt", table_points=64)
    # a tabulated file has no network left to tabulate again; it re-exports with its own tables
    with pytest.raises(ValueError, match="no radial network left to tabulate again"):
        export(table, out=tmp_path / "again.pt", table_points=128)
    again = export(table, out=tmp_path / "again.pt")
    assert read_metadata(again)["provenance"] == read_metadata(table)["provenance"]
    assert _relative_force_error(lambda *a: evaluate(load_student(again)[0], *a),
                                 lambda *a: evaluate(module, *a), atoms) < 1e-12
