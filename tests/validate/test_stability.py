"""Hot/long MD stability (validate/stability.py): a reference student judged by itself passes, a
teacher that disagrees fails at the first snapshot naming the check, and the structural checks
see collapse, coordination change and broken/new bonds on hand-made structures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase.build import bulk, molecule
from ase.calculators.calculator import Calculator, all_changes

from pair_student import StudentCalculator
from pair_student.contract import save_student
from pair_student.models import ReferenceStudent
from pair_student.runtime.plugin import PLUGIN_NAME, plugin_dir
from pair_student.validate.cli import main
from pair_student.validate.stability import (TOLERANCES, default_temperature, sampled_temperature, stability_report,
                                             stability_table, structure_checks, structure_reference,
                                             write_stability_report)

needs_plugin = pytest.mark.skipif(not (Path(plugin_dir()) / PLUGIN_NAME).is_file(),
                                  reason="pair_style student plugin is not built; run install.sh")


class ScaledForces(Calculator):
    """The student's energy, forces times ``factor``: R2 = 1 - (1 - 1/f)^2 ... below 0.9 for f = 2."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, inner, factor: float):
        super().__init__()
        self.inner, self.factor = inner, factor

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms.copy()
        a.calc = self.inner
        self.results = {"energy": a.get_potential_energy(), "forces": a.get_forces() * self.factor}


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    path = tmp_path_factory.mktemp("stab") / "ref.pt"
    return save_student(ReferenceStudent(["Si"], cutoff=4.0), path, {"elements": ["Si"], "cutoff": 4.0})


def _fcc():
    # ReferenceStudent pulls diamond Si into a denser phase (its pair minimum is the covalent
    # sum, 2.2 A); close-packed at 2.4 A is a structure it keeps at 300 K
    return bulk("Si", "fcc", a=2.4 * 2 ** 0.5, cubic=True) * (2, 2, 2)


@needs_plugin
def test_self_teacher_passes(student, tmp_path):
    rep = stability_report(student, StudentCalculator(student), _fcc(), temperature=300, time_ps=0.2,
                           snapshots=4, seed=7, workdir=tmp_path / "run")
    assert rep["passed"], rep["reason"]
    assert rep["failed_at_ps"] is None and len(rep["snapshots"]) == 4
    assert [s["time_ps"] for s in rep["snapshots"]] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    for s in rep["snapshots"]:
        assert s["force_r2"] == pytest.approx(1.0, abs=1e-9)
        assert s["energy_diff"] == pytest.approx(0.0, abs=1e-8)
        assert s["force_rmse"] < 1e-6
    paths = write_stability_report(rep, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["passed"] and paths["png"].stat().st_size > 0
    assert "PASS" in stability_table([rep])


@needs_plugin
def test_disagreeing_teacher_fails_at_first_snapshot(student, tmp_path):
    rep = stability_report(student, ScaledForces(StudentCalculator(student), 2.0), _fcc(), temperature=300,
                           time_ps=0.2, snapshots=4, seed=7, workdir=tmp_path / "run")
    assert not rep["passed"]
    assert rep["failed_at_ps"] == pytest.approx(rep["snapshots"][0]["time_ps"]) == pytest.approx(0.05)
    assert rep["reason"].startswith("force_r2")
    assert "FAIL at 0.05 ps" in stability_table([rep])


@needs_plugin
def test_cli_stability_only_exit_code(student, tmp_path):
    cell = tmp_path / "fcc.extxyz"
    _fcc().write(cell)
    args = ["--teacher", f"student:{student}", "--students", str(student), "--structure", str(cell),
            "--stability", "only", "--stability-ps", "0.1", "--stability-snapshots", "2", "--stability-temp", "300",
            "--out", str(tmp_path / "rep")]
    assert main(args) == 0
    assert (tmp_path / "rep" / "fcc" / "stability.json").is_file()
    # a teacher with another cutoff disagrees with the student from the first snapshot on
    other = save_student(ReferenceStudent(["Si"], cutoff=3.0), tmp_path / "other.pt", {"elements": ["Si"], "cutoff": 3.0})
    args[args.index(f"student:{student}")] = f"student:{other}"
    assert main(args) == 1
    (failed,) = json.loads((tmp_path / "rep" / "fcc" / "stability.json").read_text())  # one report per student
    assert not failed["passed"] and failed["failed_at_ps"] == pytest.approx(0.05)


def test_structure_checks_crystal():
    crystal = bulk("Si", "diamond", a=5.43, cubic=True)
    ref = structure_reference(crystal)
    assert ref["coordination"] == pytest.approx(4.0) and ref["min_distance"] == pytest.approx(5.43 * 3 ** 0.5 / 4)
    assert structure_checks(crystal, ref)["failed"] == []
    squeezed = crystal.copy()
    squeezed.positions[1] = squeezed.positions[0] + [0.9, 0.9, 0.0]  # 1.27 A < 0.7 x 2.35 A
    assert any(f.startswith("min_distance") for f in structure_checks(squeezed, ref)["failed"])
    dense = crystal.copy()
    dense.set_cell(crystal.cell * 0.72, scale_atoms=True)  # second shell (3.84 A x 0.72) moves inside 2.82 A
    out = structure_checks(dense, ref)
    assert out["coordination"] == pytest.approx(16.0)
    assert any(f.startswith("coordination") for f in out["failed"])


def test_structure_checks_molecule_bonds():
    mol = molecule("H2O")
    mol.center(vacuum=5.0)
    ref = structure_reference(mol)
    assert sorted(ref["bonds"]) == [(0, 1), (0, 2)]
    assert structure_checks(mol, ref)["failed"] == []
    broken = mol.copy()
    broken.positions[1] += (broken.positions[1] - broken.positions[0]) * 0.8  # O-H 0.97 -> 1.75 A
    assert "bond 0-1 broke" in structure_checks(broken, ref)["bond_problems"][0]
    formed = mol.copy()
    formed.positions[2] = formed.positions[1] + [0.0, 0.0, 0.6]  # H-H at 0.6 A < 1.2 x 0.62 A: a new bond
    problems = structure_checks(formed, ref)["bond_problems"]
    assert any(p.startswith("new bond 1-2") for p in problems)


def test_default_temperature(student, tmp_path):
    assert sampled_temperature(student) == 1200.0 and default_temperature(student) == pytest.approx(1800.0)
    meta = {"elements": ["Si"], "cutoff": 4.0,
            "provenance": {"command": "pair-student distill --structures si --temperatures 300,900,2000 --sizes tiny"}}
    hot = save_student(ReferenceStudent(["Si"], cutoff=4.0), tmp_path / "hot.pt", meta)
    assert sampled_temperature(hot) == 2000.0 and default_temperature(hot) == pytest.approx(3000.0)
    assert set(TOLERANCES) == {"force_r2", "energy_diff", "min_distance", "coordination", "bonds"}
