"""Cheap MD drivers (a classical potential in LAMMPS) and close-contact frames."""

import numpy as np
import pytest
from ase.build import bulk, molecule

from pair_student.data.contact import contact_frames, contact_kinds, reference_lengths
from pair_student.data.lammps_md import resolve_driver
from pair_student.data.sample import sample


def _si8():
    a = bulk("Si", "diamond", a=5.431, cubic=True)
    a.info["system"] = "si8"
    return a


def test_classical_driver_runs_md_in_lammps_without_a_teacher():
    start = _si8()
    kw = dict(teacher=None, n_frames=6, seed=1, methods=["md"], temperatures=(600,), pressures=(0.0, 4.0),
              md_stride=10, md_equilibrate=50, driver="sw-si")
    frames = sample([start], **kw)
    assert len(frames) == 6
    provs = [f.info["provenance"] for f in frames]
    assert provs[:3] == [f"md nvt T=600K driver=sw-si step={k} dt=1fs" for k in (10, 20, 30)]
    assert all(p.startswith("md npt T=600K P=4GPa driver=sw-si") for p in provs[3:])
    # atoms really moved (600 K, not the lattice) and the NPH barostat shrank the cell at 4 GPa
    assert all(0.02 < np.abs(f.get_all_distances(mic=True) - start.get_all_distances(mic=True)).max() < 1.5
               for f in frames)
    assert frames[-1].get_volume() < 0.99 * start.get_volume()
    assert frames[0].get_volume() == pytest.approx(start.get_volume(), rel=1e-6)
    # the same seed gives the same frames; another seed other frames
    again = sample([start], **kw)
    np.testing.assert_allclose(again[2].positions, frames[2].positions, atol=1e-8)
    other = sample([start], **{**kw, "seed": 2})
    assert not np.allclose(other[2].positions, frames[2].positions, atol=1e-3)


def test_driver_names_are_checked_before_any_md():
    with pytest.raises(ValueError, match=r"unknown MD driver 'lj'; use one of: teacher, sw-si"):
        resolve_driver("lj", ["Si"])
    with pytest.raises(ValueError, match="MD driver sw-si has no parameters for Ga, N"):
        sample([bulk("GaN", "wurtzite", a=3.19, c=5.19)], n_frames=2, seed=0, methods=["md"], driver="sw-si")
    with pytest.raises(ValueError, match="student driver file 'nope.pt' does not exist"):
        resolve_driver("student:nope.pt", ["Si"])


def test_pair_contacts_reach_the_asked_range():
    si = _si8()
    r0 = reference_lengths(si)[("Si", "Si")]
    assert r0 == pytest.approx(2.352, abs=1e-3)
    rng = np.random.default_rng(0)
    frames = contact_frames(si, 12, rng, contact_range=(0.7, 0.8), min_volume=0.85)
    pairs = [(a, p) for a, p in frames if p.startswith("contact pair Si-Si")]
    assert len(pairs) == 6 and len(frames) - len(pairs) == 6  # two kinds, cycled
    for atoms, prov in pairs:
        ratios = [float(x) for x in prov.split("ratio=")[1].split(",")]
        assert 1 <= len(ratios) <= 3 and all(0.7 <= r <= 0.8 for r in ratios)
        d = atoms.get_all_distances(mic=True)
        np.fill_diagonal(d, np.inf)
        # the shortest distance is one of the pushed pairs: inside the range, not below it
        assert 0.7 * r0 - 1e-9 <= d.min() <= 0.8 * r0 + 1e-9
        assert np.sort(d[np.triu_indices(len(atoms), 1)])[len(ratios) - 1] <= 0.8 * r0 + 1e-9
    for atoms, prov in frames:
        if prov.startswith("contact compress"):
            v = float(prov.split("V=")[1])
            assert 0.85 <= v <= 0.97
            assert atoms.get_volume() == pytest.approx(v * si.get_volume(), rel=1e-4)  # V= has 4 decimals


def test_molecules_get_bond_compressions_and_stretches():
    mol = molecule("CH3CH2OH")
    kinds = contact_kinds(mol)
    assert {"bond C-H compress", "bond C-H stretch", "bond H-O compress", "bond C-O stretch",
            "bond C-C compress", "pair H-H"} <= set(kinds)
    assert "compress" not in kinds  # no cell to compress
    frames = contact_frames(mol, 3 * len(kinds), np.random.default_rng(1))
    for atoms, prov in frames:
        words = prov.split()
        if words[1] != "bond":
            continue
        r0 = float(prov.split("r0=")[1].split()[0])
        ratio = float(prov.split("ratio=")[1])
        lo, hi = (0.65, 0.9) if words[3] == "compress" else (1.1, 1.5)
        assert lo <= ratio <= hi
        # the changed bond is there: some pair of the bond's elements sits at ratio x r0
        a, b = words[2].split("-")
        sym = np.array(atoms.get_chemical_symbols())
        d = atoms.get_all_distances()[np.ix_(sym == a, sym == b)]
        assert np.isclose(d, ratio * r0, atol=2e-3).any()  # provenance rounds ratio and r0


def test_contact_method_in_sample_and_bad_ranges():
    frames = sample([_si8()], n_frames=4, seed=0, methods=["contact"])
    assert [f.info["provenance"].split()[:2] for f in frames] == [["contact", "pair"], ["contact", "compress"]] * 2
    with pytest.raises(ValueError, match="contact_range must be two ratios"):
        sample([_si8()], n_frames=2, seed=0, methods=["contact"], contact_range=(0.9, 1.2))


def test_a_shipped_student_drives_md_through_pair_style_student():
    from pair_student.registry import DEMO_DIR

    student = DEMO_DIR / "si" / "ultra-tiny_model_traced.pt"
    start = _si8()
    frames = sample([start], n_frames=2, seed=0, methods=["md"], temperatures=(500,), pressures=(0.0,),
                    md_stride=5, md_equilibrate=20, driver=f"student:{student}")
    assert [f.info["provenance"] for f in frames] == [
        f"md nvt T=500K driver=student:{student} step={k} dt=1fs" for k in (5, 10)]
    moved = np.abs(frames[1].get_all_distances(mic=True) - start.get_all_distances(mic=True)).max()
    assert 0.01 < moved < 1.0
    with pytest.raises(ValueError, match="knows Si, not Ga, N"):
        resolve_driver(f"student:{student}", ["Ga", "N"])
