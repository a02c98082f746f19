"""Property checks (validate/properties.py): EMT Cu as crystal teacher and student, a reference
student file on ethanol for the molecule path, and deliberately wrong students that must fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from pair_student import StudentCalculator
from pair_student.contract import save_student
from pair_student.models import ReferenceStudent
from pair_student.validate.cli import main
from pair_student.validate.molecule import kabsch_rmsd as _kabsch_rmsd
from pair_student.validate.properties import TOLERANCES, property_report, write_property_report


class Strained(Calculator):
    """EMT seen through a cell scaled by ``factor``: same physics, lattice constant off by 1/factor."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, factor: float):
        super().__init__()
        self.factor, self.inner = factor, EMT()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        scaled = self.atoms.copy()
        scaled.set_cell(scaled.cell * self.factor, scale_atoms=True)
        scaled.calc = self.inner
        self.results = {"energy": scaled.get_potential_energy(), "forces": scaled.get_forces() * self.factor}


class Scaled(torch.nn.Module):
    """A student whose energy and gradient are ``factor`` times too large: same minimum, stiffer."""

    def __init__(self, inner: torch.nn.Module, factor: float):
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int):
        energy, grad = self.inner(species, edge_index, edge_vectors, num_local)
        return energy * self.factor, grad * self.factor


def _by_name(report):
    return {p["property"]: p for p in report["properties"]}


@pytest.fixture(scope="module")
def cu_report():
    cell = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)  # 32 atoms: a vacancy is 3 %, EMT is instant
    return property_report(EMT(), {"same": EMT(), "strained": Strained(1.03)}, cell)


@pytest.fixture(scope="module")
def cho_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cho")
    meta = {"elements": ["C", "H", "O"], "cutoff": 4.0}
    ref = ReferenceStudent(meta["elements"], cutoff=4.0)
    return {"ref": save_student(ref, root / "ref.pt", meta),
            "stiff": save_student(Scaled(ref, 1.3), root / "stiff.pt", meta)}


def test_emt_copper_matches_itself_and_known_values(cu_report, tmp_path):
    props = _by_name(cu_report)
    assert set(props) == {"lattice_ratio", "bulk_modulus_GPa", "vacancy_energy_eV"}
    for p in props.values():
        assert p["students"]["same"]["pass"] is True
        assert abs(p["students"]["same"]["difference"]) < 1e-9
    assert 120.0 < props["bulk_modulus_GPa"]["teacher"] < 160.0  # EMT Cu: ~134 GPa
    assert 0.3 < props["vacancy_energy_eV"]["teacher"] < 2.5  # EMT Cu: ~1.2 eV
    assert 0.98 < props["lattice_ratio"]["teacher"] < 1.01  # EMT a0 ~3.59 A, input 3.6 A
    assert cu_report["teacher_data"]["vacancy"]["converged"]
    paths = write_property_report(cu_report, tmp_path)
    assert json.loads(paths["json"].read_text())["students_passed"] == {"same": True, "strained": False}
    assert paths["png"].stat().st_size > 1000


def test_strained_student_fails_the_lattice_check(cu_report):
    lattice = _by_name(cu_report)["lattice_ratio"]
    strained = lattice["students"]["strained"]
    assert strained["pass"] is False
    assert strained["value"] == pytest.approx(lattice["teacher"] / 1.03, rel=2e-3)
    assert abs(strained["difference"]) / lattice["teacher"] > TOLERANCES["lattice_ratio"][0]
    assert cu_report["passed"] is False


def test_kabsch_rmsd_ignores_rigid_motion():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(9, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    assert _kabsch_rmsd(a @ q.T + 1.5, a) < 1e-10
    assert _kabsch_rmsd(a + rng.normal(scale=0.1, size=a.shape), a) > 0.05


def test_molecule_self_consistent_and_stiff_student_fails(cho_files):
    teacher = StudentCalculator(cho_files["ref"])
    students = {"same": StudentCalculator(cho_files["ref"]), "stiff": StudentCalculator(cho_files["stiff"])}
    report = property_report(teacher, students, "ethanol")
    props = _by_name(report)
    assert report["kind"] == "molecule"
    assert props["geometry_rmsd_A"]["students"]["same"]["value"] < 1e-6
    assert props["frequency_mare"]["students"]["same"]["value"] < 1e-6
    assert report["students_passed"]["same"] is True
    # a uniformly scaled energy keeps the minimum but scales frequencies by sqrt(1.3)
    assert props["geometry_rmsd_A"]["students"]["stiff"]["pass"] is True
    assert props["frequency_mare"]["students"]["stiff"]["value"] == pytest.approx(np.sqrt(1.3) - 1, rel=0.05)
    assert props["frequency_mare"]["students"]["stiff"]["pass"] is False
    assert len(report["student_data"]["same"]["compared_frequencies_cm"]) >= 15  # 3N-6 = 21 modes


def test_cli_properties_only_exit_code(cho_files, tmp_path):
    common = ["--teacher", f"student:{cho_files['ref']}", "--structure", "ethanol", "--properties", "only",
              "--no-progress"]
    assert main(common + ["--students", str(cho_files["ref"]), "--out", str(tmp_path / "ok")]) == 0
    report = json.loads((tmp_path / "ok" / "ethanol" / "properties.json").read_text())
    assert report["students_passed"] == {"ref": True}
    assert (tmp_path / "ok" / "ethanol" / "properties.png").is_file()
    assert main(common + ["--students", str(cho_files["stiff"]), "--out", str(tmp_path / "bad")]) == 1
    assert main(common + ["--students", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x")]) == 2


def test_missing_minimum_fails_with_a_note():
    # a purely repulsive "crystal": no E-V minimum, so nothing can be compared and nothing passes
    from ase.calculators.lj import LennardJones

    cell = bulk("Cu", "fcc", a=2.0, cubic=True)
    calc = LennardJones(sigma=2.5, epsilon=0.01, rc=3.0)
    report = property_report(calc, {"same": LennardJones(sigma=2.5, epsilon=0.01, rc=3.0)}, cell)
    lattice = {p["property"]: p for p in report["properties"]}["lattice_ratio"]
    assert lattice["students"]["same"]["pass"] is False
    assert any("teacher" in n and "EOS" in n for n in report["notes"])
