"""The crystal checks of ``validate --full`` (validate/crystal.py, elastic.py, phonons.py): EMT Cu
as its own student passes every one, a student with every energy 1.3x too large fails each of
them by the predicted amount; Stillinger-Weber Si reproduces its published relaxed-ion elastic
constants; the CLI wires --full and says in one line when phonopy is missing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.neighborlist import neighbor_list

from pair_student.teachers import get_teacher
from pair_student.validate import ValidationError, cli, crystal, elastic, phonons
from pair_student.validate.properties import property_report, property_table, write_property_report

NEW_CHECKS = ("C11_GPa", "C12_GPa", "C44_GPa", "interstitial_energy_eV", "surface_energy_J_m2", "phonon_rmse_THz")


class ScaledEMT(Calculator):
    """EMT with energy, forces and stress all ``factor`` times too large: every minimum stays
    where it was, every energy difference and stiffness scales by ``factor``."""

    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self, factor: float):
        super().__init__()
        self.factor, self.inner = factor, EMT()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms.copy()
        a.calc = self.inner
        self.results = {"energy": self.factor * a.get_potential_energy(), "forces": self.factor * a.get_forces(),
                        "stress": self.factor * a.get_stress()}


@pytest.fixture(scope="module")
def cu_full():
    cell = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)  # 32 atoms, 7.2 A wide
    with pytest.MonkeyPatch.context() as mp:
        # phonons on the cell itself: the 256-atom default supercell costs phonopy's symmetry
        # search ~10 s and tests nothing more
        mp.setattr(phonons, "PHONON_MIN_WIDTH", 7.0)
        return property_report(EMT(), {"same": EMT(), "stiff": ScaledEMT(1.3)}, cell, full=True)


def _by_name(report):
    return {p["property"]: p for p in report["properties"]}


def test_self_teacher_passes_every_full_check(cu_full, tmp_path):
    props = _by_name(cu_full)
    assert set(NEW_CHECKS) <= set(props) and "C14_GPa" not in props  # cubic: three independent constants
    for p in props.values():
        assert p["students"]["same"]["pass"] in (True, None), p["property"]
        assert abs(p["students"]["same"]["difference"]) < 1e-9, p["property"]
    assert cu_full["students_passed"]["same"] is True
    # EMT Cu: C11 ~ 173, C12 ~ 116, C44 ~ 90 GPa; B = (C11 + 2 C12) / 3 agrees with the E-V fit
    c11, c12, c44 = (props[k]["teacher"] for k in ("C11_GPa", "C12_GPa", "C44_GPa"))
    assert 160 < c11 < 185 and 105 < c12 < 125 and 80 < c44 < 100
    assert (c11 + 2 * c12) / 3 == pytest.approx(props["bulk_modulus_GPa"]["teacher"], rel=0.03)
    assert props["interstitial_energy_eV"]["teacher"] > props["vacancy_energy_eV"]["teacher"] > 0.5
    assert 0.8 < props["surface_energy_J_m2"]["teacher"] < 1.6
    text = property_table(cu_full)
    assert "relaxed-ion" in text and "1-atom primitive" in text


def test_property_json_has_no_nan_or_infinity(cu_full, tmp_path):
    report = json.loads(json.dumps(cu_full))
    report["properties"][0]["students"]["stiff"]["value"] = float("nan")
    report["teacher_data"]["eos"]["energies"][0] = float("inf")

    def refuse(name):
        raise AssertionError(f"{name} in properties.json")

    paths = write_property_report(report, tmp_path)
    data = json.loads(paths["json"].read_text(), parse_constant=refuse)
    assert data["properties"][0]["students"]["stiff"]["value"] is None
    assert data["students_passed"] == {"same": True, "stiff": False}
    assert paths["png"].stat().st_size > 1000


def test_scaled_student_fails_each_full_check_by_the_predicted_amount(cu_full):
    props = _by_name(cu_full)
    for name in NEW_CHECKS:
        assert props[name]["students"]["stiff"]["pass"] is False, name
    for name in ("C11_GPa", "C12_GPa", "C44_GPa", "interstitial_energy_eV", "surface_energy_J_m2"):
        assert props[name]["students"]["stiff"]["value"] == pytest.approx(1.3 * props[name]["teacher"], rel=2e-3), name
    # frequencies scale by sqrt(1.3): the RMSE is (sqrt(1.3) - 1) x the RMS teacher frequency
    f_t = np.array(cu_full["teacher_data"]["phonons"]["frequencies_THz"])
    expected = (np.sqrt(1.3) - 1) * np.sqrt(np.mean(f_t ** 2))
    assert props["phonon_rmse_THz"]["students"]["stiff"]["value"] == pytest.approx(expected, rel=0.02)
    assert props["lattice_ratio"]["students"]["stiff"]["pass"] is True  # the minimum did not move


def test_stillinger_weber_si_relaxed_ion_elastic_constants():
    """Published SW values (Cowley 1988): C11 151.4, C12 76.4, C44 56.4 GPa relaxed-ion; the
    clamped-ion C44 is about twice that, so a missing relaxation cannot pass."""
    sw = get_teacher("sw-si").calculator()
    prim = phonons.primitive_cell(bulk("Si", "diamond", a=5.431, cubic=True))
    assert len(prim) == 2
    out = elastic.elastic_constants(sw, prim)
    rotations = phonons.point_group(prim)
    c = elastic.symmetrize(out["C_GPa"], rotations)
    assert [c[0, 0], c[0, 1], c[3, 3]] == pytest.approx([151.4, 76.4, 56.4], abs=1.0)
    assert np.array(out["C_clamped_GPa"])[3, 3] > 1.5 * c[3, 3]
    assert [elastic.label(ij) for ij in elastic.independent_components(rotations)] == ["C11", "C12", "C44"]


def test_wurtzite_independent_components():
    rotations = phonons.point_group(bulk("GaN", "wurtzite", a=3.189, c=5.185))
    assert len(rotations) == 12
    assert [elastic.label(ij) for ij in elastic.independent_components(rotations)] == \
        ["C11", "C12", "C13", "C33", "C44", "C66"]


def test_largest_void_of_diamond_is_the_tetrahedral_site():
    a = 5.431
    site, clearance = crystal.largest_void(bulk("Si", "diamond", a=a, cubic=True).repeat(2))
    assert clearance == pytest.approx(a * np.sqrt(3) / 4, abs=1e-4)  # four atoms at a bond length
    frac = (site / a) % 1.0  # T sites of this basis: (1/2, 1/2, 1/2) and (3/4, 3/4, 3/4) + fcc
    assert any(np.allclose((frac - t) % 0.5, 0.0, atol=1e-4) or np.allclose((frac - t) % 0.5, 0.5, atol=1e-4)
               for t in (np.full(3, 0.5), np.full(3, 0.75)))


def test_slab_cuts_in_the_widest_gap():
    """Wurtzite's m-plane stacks atomic planes in close pairs: cutting between two pairs breaks
    one bond per surface atom, cutting inside a pair two. With the cell boundary moved into a
    pair, the slab must still be cut between pairs: every atom keeps three of its four bonds."""
    gan = bulk("GaN", "wurtzite", a=3.189, c=5.185).repeat((3, 3, 2))
    frac = gan.get_scaled_positions()
    frac[:, 0] -= 1 / 18  # planes at 0 and 1/9 form a close pair: the boundary now falls inside it
    gan.set_scaled_positions(frac % 1.0)
    normal = np.cross(gan.cell[1], gan.cell[2])
    normal /= np.linalg.norm(normal)

    def coordination(atoms):
        i, _ = neighbor_list("ij", atoms, 2.2)
        return np.bincount(i, minlength=len(atoms))

    naive = gan.copy()  # opened at the cell boundary
    naive.set_cell(gan.cell.array + np.outer([1, 0, 0], 10.0 * normal))
    assert coordination(naive).min() == 2
    slab, area = crystal.make_slab(gan, axis=0, vacuum=10.0)
    assert area == pytest.approx(np.linalg.norm(np.cross(gan.cell[1], gan.cell[2])))
    assert coordination(slab).min() == 3 and (coordination(slab) == 3).sum() == 24  # 2 faces x 12 atoms


def test_missing_phonopy_is_one_line_with_the_fix(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "phonopy", None)  # import phonopy now raises ImportError
    with pytest.raises(ValidationError, match="pip install phonopy"):
        property_report(EMT(), {"same": EMT()}, bulk("Cu", "fcc", a=3.6, cubic=True), full=True)
    cell = tmp_path / "cu.extxyz"
    bulk("Cu", "fcc", a=3.6, cubic=True).write(cell)
    code = cli.main(["--full", "--students", str(tmp_path / "any.pt"), "--structure", str(cell),
                     "--out", str(tmp_path / "rep"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pip install phonopy" in err


def test_cli_full_runs_every_check(monkeypatch, tmp_path):
    calls = []

    def fake_properties(**kw):
        calls.append(("properties", kw["full"]))
        return {"system": "si", "kind": "crystal", "natoms": 2, "properties": [], "passed": True}

    def fake_stability(**kw):
        calls.append(("stability", None))
        return {"reports": [], "passed": True}

    def fake_system(**kw):
        calls.append(("runs", None))
        return {"results": []}

    monkeypatch.setattr(cli.properties, "validate_properties", fake_properties)
    monkeypatch.setattr(cli.stability, "validate_stability", fake_stability)
    monkeypatch.setattr(cli, "validate_system", fake_system)
    monkeypatch.setattr(cli, "write_report", lambda **kw: {"passed": True, "results": [], "table": "", "wall_s": 0.0})
    common = ["--students", str(tmp_path / "a.pt"), "--structure", "si", "--out", str(tmp_path), "--no-progress"]
    assert cli.main(common + ["--full"]) == 0
    assert calls == [("runs", None), ("properties", True), ("stability", None)]
    calls.clear()
    assert cli.main(common + ["--full", "--properties", "only"]) == 0
    assert calls == [("properties", True), ("stability", None)]
    calls.clear()
    assert cli.main(common + ["--properties", "only"]) == 0
    assert calls == [("properties", False)]
