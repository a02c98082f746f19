"""Torsion scans of ``validate --full`` (validate/molecule.py) on ethanol with a toy valence force
field as teacher: the rotatable bonds are found, a self-teacher passes, and a student whose
torsion profile alone is wrong (same minimum, same curvature there) fails the torsion rows and
nothing else."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.build import molecule

from pair_student.data.structures import demo_structure
from pair_student.validate.compare import bond_pairs
from pair_student.validate.molecule import rotatable_dihedrals, torsion_scan
from pair_student.validate.properties import TOLERANCES, property_report, property_table

BARRIER = 0.015  # eV per dihedral term: 9 H-C-C-X terms make a methyl barrier of 0.135 eV, ethanol's size


def _dihedrals(p, idx):
    i, j, k, l = idx.T
    b0, b1, b2 = p[i] - p[j], p[k] - p[j], p[l] - p[k]
    b1 = b1 / b1.norm(dim=-1, keepdim=True)
    v = b0 - (b0 * b1).sum(-1, keepdim=True) * b1
    w = b2 - (b2 * b1).sum(-1, keepdim=True) * b1
    return torch.atan2((torch.cross(b1, v, dim=-1) * w).sum(-1), (v * w).sum(-1))


class ToyValence(Calculator):
    """Harmonic bonds and angles about ``ref``'s geometry plus a three-fold cosine on every
    dihedral, minimum at ``ref``; ``bump`` adds ``bump/4 (1 - cos 3 dphi)^2`` per dihedral, which
    has no gradient and no curvature at the minimum: only the torsion profile changes."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, ref, *, bump: float = 0.0):
        super().__init__()
        i, j, _ = bond_pairs(ref, 1.2)
        nb = {a: set() for a in range(len(ref))}
        for a, b in zip(i, j):
            nb[a].add(b)
            nb[b].add(a)
        self.bonds = np.array(list(zip(i, j)))
        self.angles = np.array([(a, c, b) for c in nb for a, b in itertools.combinations(sorted(nb[c]), 2)])
        self.dihedrals = np.array([(a, b, c, d) for b, c in self.bonds for a in nb[b] - {c} for d in nb[c] - {a, b}])
        self.bump = bump
        self.ref = self._internals(torch.tensor(ref.positions))

    def _internals(self, p):
        r = (p[self.bonds[:, 0]] - p[self.bonds[:, 1]]).norm(dim=-1)
        u, v = p[self.angles[:, 0]] - p[self.angles[:, 1]], p[self.angles[:, 2]] - p[self.angles[:, 1]]
        theta = torch.acos(((u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))).clamp(-1, 1))
        return r, theta, _dihedrals(p, self.dihedrals)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        p = torch.tensor(self.atoms.positions, requires_grad=True)
        (r, theta, phi), (r0, theta0, phi0) = self._internals(p), self.ref
        x = 1 - torch.cos(3 * (phi - phi0))
        e = (20 * ((r - r0) ** 2).sum() + 2 * ((theta - theta0) ** 2).sum() + BARRIER / 2 * x.sum()
             + self.bump / 4 * (x ** 2).sum())
        e.backward()
        self.results = {"energy": float(e.detach()), "forces": -p.grad.numpy().copy()}


@pytest.fixture(scope="module")
def ethanol_report():
    ref = demo_structure("ethanol")
    return property_report(ToyValence(ref), {"same": ToyValence(ref), "bumpy": ToyValence(ref, bump=0.03)},
                           "ethanol", full=True)


def _by_name(report):
    return {p["property"]: p for p in report["properties"]}


def test_rotatable_dihedrals():
    found = rotatable_dihedrals(molecule("CH3CH2OH"))
    assert [(d["label"], d["atoms"]) for d in found] == [("H-C-C-O", [6, 0, 1, 2]), ("C-C-O-H", [0, 1, 2, 3])]
    assert found[1]["moving"] == [2, 3]  # the hydroxyl turns, the rest stays
    assert rotatable_dihedrals(molecule("C6H6")) == []  # ring bonds do not rotate rigidly
    assert rotatable_dihedrals(molecule("H2O")) == []


def test_self_teacher_passes_and_profile_is_three_fold(ethanol_report):
    props = _by_name(ethanol_report)
    rows = [k for k in props if k.startswith("torsion_rmse_eV")]
    assert rows == ["torsion_rmse_eV [H-C-C-O 6-0-1-2]", "torsion_rmse_eV [C-C-O-H 0-1-2-3]"]
    assert ethanol_report["students_passed"]["same"] is True
    for name in rows:
        assert props[name]["students"]["same"]["value"] == pytest.approx(0.0, abs=1e-9)
    methyl = ethanol_report["teacher_data"]["torsions"][0]
    assert methyl["converged"] and len(methyl["profile_eV"]) == 12
    profile = np.array(methyl["profile_eV"])
    assert profile[0] == pytest.approx(0.0, abs=1e-3) and profile[2] == pytest.approx(9 * BARRIER, rel=0.05)
    assert profile[:4] == pytest.approx(profile[4:8], abs=2e-3)  # three-fold: 120 degrees apart
    assert "FixInternals" in property_table(ethanol_report)


def test_wrong_torsion_profile_fails_only_the_torsion_rows(ethanol_report):
    props = _by_name(ethanol_report)
    for name, p in props.items():
        verdict = p["students"]["bumpy"]["pass"]
        if name.startswith("torsion_rmse_eV"):
            assert verdict is False and p["students"]["bumpy"]["value"] > TOLERANCES["torsion_rmse_eV"][0], name
        else:
            assert verdict in (True, None), name
    assert ethanol_report["students_passed"] == {"same": True, "bumpy": False}


def test_relaxed_scan_holds_the_dihedral_and_lies_below_the_rigid_one():
    ref = demo_structure("ethanol")
    calc = ToyValence(ref)
    start = ref.copy()
    start.rattle(0.02, seed=3)  # strained bonds and angles: the constrained relaxation has work to do
    hydroxyl = rotatable_dihedrals(ref)[1]
    relaxed = torsion_scan(calc, start, hydroxyl, points=6)
    rigid = torsion_scan(calc, start, hydroxyl, points=6, relaxed=False)
    assert relaxed["converged"] and relaxed["steps"] > 0 and rigid["steps"] == 0
    assert relaxed["dihedral_drift_deg"] < 0.01
    assert np.all(np.array(relaxed["energies_eV"]) < np.array(rigid["energies_eV"]) - 1e-3)
