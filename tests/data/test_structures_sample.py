import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from pair_student.data.cli import sample_main
from pair_student.data.sample import deduplicate, sample
from pair_student.data.structures import demo_structure, read_structures
from pair_student.registry import DEMO_NAMES
from pair_student.teachers import get_teacher


def test_demo_structures():
    built = {name: demo_structure(name) for name in DEMO_NAMES}
    assert {name: atoms.info["system"] for name, atoms in built.items()} == {name: name for name in DEMO_NAMES}
    si, gan, eth = built["si"], built["gan"], built["ethanol"]
    assert len(si) == 64 and si.pbc.all() and set(si.get_chemical_symbols()) == {"Si"}
    assert 72 <= len(gan) <= 96 and gan.pbc.all() and set(gan.get_chemical_symbols()) == {"Ga", "N"}
    assert eth.get_chemical_formula() == "C2H6O" and not eth.pbc.any()
    # nearest neighbours sane (Si-Si 2.35 A, Ga-N 1.95 A): catches a wrong lattice constant
    for atoms, d in ((si, 2.35), (gan, 1.95)):
        dist = atoms.get_all_distances(mic=True)
        np.fill_diagonal(dist, 10)
        assert dist.min() == pytest.approx(d, abs=0.03)
    with pytest.raises(ValueError, match=", ".join(DEMO_NAMES)):
        demo_structure("water")


@pytest.mark.parametrize("fmt,name", [("extxyz", "x.extxyz"), ("cif", "x.cif"), ("vasp", "POSCAR")])
def test_read_structures_formats(tmp_path, fmt, name):
    import ase.io

    atoms = demo_structure("gan")
    ase.io.write(tmp_path / name, atoms, format=fmt)
    (got,) = read_structures(tmp_path / name)
    assert got.get_chemical_formula() == atoms.get_chemical_formula()
    np.testing.assert_allclose(got.cell.cellpar(), atoms.cell.cellpar(), atol=1e-4)


def test_read_lammps_data_needs_species(tmp_path):
    import ase.io

    atoms = demo_structure("gan")
    ase.io.write(tmp_path / "gan.data", atoms, format="lammps-data", specorder=["Ga", "N"])
    (got,) = read_structures(tmp_path / "gan.data", style="atomic", species=["Ga", "N"])
    assert got.get_chemical_formula() == atoms.get_chemical_formula()
    (got2,) = read_structures(tmp_path / "gan.data", Z_of_type={1: 31, 2: 7})
    assert got2.get_chemical_formula() == atoms.get_chemical_formula()


def test_unreadable_files_get_clear_errors(tmp_path):
    bad = tmp_path / "garbage.extxyz"
    bad.write_text("this is not\na structure file\n")
    with pytest.raises(ValueError) as err:
        read_structures(bad)
    assert "garbage.extxyz" in str(err.value) and "extxyz" in str(err.value)
    with pytest.raises(FileNotFoundError, match="nope.cif"):
        read_structures(tmp_path / "nope.cif")
    data = tmp_path / "data.broken"
    data.write_text("LAMMPS data\n\n 2 atoms\n")
    with pytest.raises(ValueError, match="Z_of_type"):
        read_structures(data)


def test_sample_deterministic_with_provenance():
    teacher = get_teacher("sw-si")
    start = bulk("Si", "diamond", a=5.431, cubic=True)
    kw = dict(teacher=teacher, n_frames=16, temperatures=(300, 900), pressures=(0.0, 1.0),
              md_stride=2)
    a = sample([start], seed=3, **kw)
    b = sample([start], seed=3, **kw)
    c = sample([start], seed=4, **kw)
    assert len(a) == 16
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.positions, y.positions)
        np.testing.assert_array_equal(x.cell.array, y.cell.array)
        assert x.info["provenance"] == y.info["provenance"]
    assert not np.allclose(a[-1].positions, c[-1].positions)
    kinds = {f.info["provenance"].split()[0] for f in a}
    assert kinds == {"md", "rattle", "strain", "contact"}
    assert any("npt" in f.info["provenance"] and "P=1GPa" in f.info["provenance"] for f in a)
    strained = [f for f in a if f.info["provenance"].startswith("strain")]
    assert all(not np.allclose(f.cell.array, start.cell.array) for f in strained)
    md = [f for f in a if f.info["provenance"].startswith("md")]
    assert all("step=" in f.info["provenance"] and "T=" in f.info["provenance"] for f in md)
    assert all(f.calc is None for f in a)


def test_sample_molecule_uses_normal_modes_not_strain():
    teacher = get_teacher(EMT(), name="emt")
    mol = molecule("CH3CH2OH")
    frames = sample([mol], teacher=teacher, n_frames=10, seed=0, temperatures=(300,), md_stride=2)
    kinds = {f.info["provenance"].split()[0] for f in frames}
    assert kinds == {"md", "rattle", "normal_modes"}  # 10 frames leave none to contact's 10 %
    assert all(not f.pbc.any() for f in frames)
    nm = [f for f in frames if f.info["provenance"].startswith("normal_modes")]
    # harmonic displacements at 300 K, nonzero and bounded: each sample lies within ~1 A of the
    # minimum (H on the 200 cm^-1 floor moves most), so two independent samples differ by < 2 A
    assert all(0.001 < np.abs(f.positions - nm[0].positions).max() < 2.0 for f in nm[1:])


def test_sample_without_teacher_and_dedup():
    frames = sample([bulk("Cu", cubic=True)], teacher=None, n_frames=6, seed=0)
    assert {f.info["provenance"].split()[0] for f in frames} == {"rattle", "strain", "contact"}
    assert len(deduplicate(frames + [frames[0].copy()])) == len(frames)
    with pytest.raises(ValueError, match="unknown sampling methods"):
        sample([bulk("Cu")], teacher=None, n_frames=2, seed=0, methods=["qmmm"])


def test_sample_cli(tmp_path, capsys):
    import ase.io

    out = tmp_path / "f.extxyz"
    assert sample_main(["si", "--teacher", "sw-si", "--n-frames", "6", "--seed", "1",
                        "--md-stride", "1", "--temperatures", "300", "--out", str(out)]) == 0
    frames = ase.io.read(out, ":")
    assert len(frames) == 6 and all("provenance" in f.info for f in frames)


def test_cli_help_runs():
    for module in ("pair_student.data.sample", "pair_student.data.label"):
        res = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert "usage:" in res.stdout and "--teacher" in res.stdout and "--out" in res.stdout
