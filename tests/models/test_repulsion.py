"""Core repulsion (models/repulsion.py): ZBL as LAMMPS computes it, exact gradients through the
switching window, pure ZBL below it, nothing changed above it, and the windows survive
checkpoints, tabulation, TorchScript and the rebuild from a student file."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list

from pair_student.contract import load_student, save_student
from pair_student.graph import atoms_to_graph
from pair_student.models import build_student
from pair_student.models.repulsion import (_closest_pairs, core_windows, dimer_slopes, fit_windows, push_slopes, shortest_distances,
                                          switch, zbl)
from pair_student.models.student_file import model_from_student_file
from pair_student.models.tabulated import tabulate
from pair_student.runtime.runner import read_dump, run_lammps

from model_harness import CUTOFF, ELEMENTS, assert_forces_are_minus_gradient, distorted_cell, energy_of, local_model

LAMMPS_DIMER = """
units metal
atom_style atomic
boundary f f f
region box block -10 10 -10 10 -10 10
create_box 2 box
mass * 1.0
create_atoms 1 single 0 0 0
create_atoms 2 single {r} 0 0
pair_style zbl 2.5 3.0
pair_coeff 1 1 13 13
pair_coeff 1 2 13 29
pair_coeff 2 2 29 29
dump d all custom 1 dump.out id fx fy fz
run 0
"""


def with_windows(model, atoms, inner_fraction=0.6):
    graph = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    inner, outer = core_windows(ELEMENTS, shortest_distances([graph], ELEMENTS), inner_fraction)
    model.set_core_repulsion(inner, outer)
    return model


@pytest.mark.parametrize("r", [0.3, 1.0, 2.0])
def test_zbl_force_is_the_lammps_pair_style_zbl(tmp_path, r):
    """Below its inner cutoff LAMMPS' zbl is the bare ZBL force (its switch only shifts energies)."""
    run_lammps(LAMMPS_DIMER.format(r=r), workdir=tmp_path).check()
    lammps_force = read_dump(tmp_path / "dump.out")["fx"][1]
    x = torch.tensor([r], dtype=torch.float64, requires_grad=True)
    v = zbl(x, torch.tensor([13.0], dtype=torch.float64), torch.tensor([29.0], dtype=torch.float64))
    (dv,) = torch.autograd.grad(v.sum(), x)
    assert -dv.item() == pytest.approx(lammps_force, rel=1e-5)


def test_switch_is_c2_and_spans_the_window():
    inner, outer = torch.tensor(1.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64)
    r = torch.linspace(0.5, 2.5, 401, dtype=torch.float64, requires_grad=True)
    s = switch(r, inner, outer)
    (ds,) = torch.autograd.grad(s.sum(), r, create_graph=True)
    (d2s,) = torch.autograd.grad(ds.sum(), r)
    assert torch.all(s[r <= 1.0] == 1.0) and torch.all(s[r >= 2.0] == 0.0)
    assert torch.all(ds <= 0)  # monotone hand-over
    for edge in (1.0, 2.0):  # value, slope and curvature continuous at both ends
        near = (r - edge).abs() < 0.011
        assert ds[near].abs().max() < 1e-2 and d2s[near].abs().max() < 0.7


def test_forces_are_finite_difference_derivatives_inside_the_windows():
    atoms = distorted_cell()
    m = with_windows(local_model(), atoms, inner_fraction=0.6)
    stretched = atoms.copy()  # push one pair deep into its window
    stretched.positions[1] = stretched.positions[0] + 0.8 * (stretched.positions[1] - stretched.positions[0])
    assert_forces_are_minus_gradient(m, stretched, atol=1e-6)


def test_below_inner_the_pair_is_bare_zbl_and_above_outer_the_network():
    atoms = distorted_cell()
    plain = local_model()
    m = with_windows(local_model(), atoms)
    assert energy_of(m, atoms)[0] == energy_of(plain, atoms)[0]  # the data's distances: untouched
    alone = energy_of(plain, Atoms("Al", positions=[[0, 0, 0]]))[0] + energy_of(plain, Atoms("Cu", positions=[[0, 0, 0]]))[0]
    inner = m.core_inner.view(2, 2)[0, 1].item()
    for r in (0.2, 0.5, 0.9 * inner):
        dimer = Atoms("AlCu", positions=[[0, 0, 0], [r, 0, 0]])
        bare = zbl(torch.tensor(r, dtype=torch.float64), torch.tensor(13.0, dtype=torch.float64),
                   torch.tensor(29.0, dtype=torch.float64)).item()
        assert energy_of(m, dimer)[0] == pytest.approx(alone + bare, rel=1e-12)


def test_windows_survive_checkpoint_tabulation_script_and_rebuild(tmp_path):
    atoms = distorted_cell()
    m = with_windows(local_model(), atoms)
    rebuilt = build_student(m.config()).double()
    rebuilt.load_state_dict(m.state_dict())
    assert torch.equal(rebuilt.core_outer, m.core_outer) and torch.equal(rebuilt.core_inner, m.core_inner)
    table = tabulate(m, 128)
    assert table.config()["core_outer"] == m.config()["core_outer"]
    path = save_student(table, tmp_path / "model.pt", {"elements": ELEMENTS, "cutoff": CUTOFF})
    scripted, _ = load_student(path)
    assert torch.equal(scripted.core_outer, m.core_outer)
    again, _ = model_from_student_file(path)
    assert torch.equal(again.core_inner, m.core_inner) and torch.equal(again.core_z, m.core_z)
    close = atoms.copy()
    close.positions[1] = close.positions[0] + 0.5 * (close.positions[1] - close.positions[0])
    g = atoms_to_graph(close, CUTOFF, ELEMENTS)
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    assert again(*args)[0].sum().item() == pytest.approx(scripted(*args)[0].sum().item(), rel=1e-12)


def test_shortest_distances_per_pair():
    atoms = distorted_cell()
    found = shortest_distances([atoms_to_graph(atoms, CUTOFF, ELEMENTS)], ELEMENTS)
    i, j, d = neighbor_list("ijd", atoms, CUTOFF)  # periodic images of an atom itself count too
    symbols = np.array(atoms.get_chemical_symbols())
    for (a, b), value in found.items():
        assert value == pytest.approx(d[(symbols[i] == a) & (symbols[j] == b)].min(), rel=1e-12)
    assert set(found) == {("Al", "Al"), ("Al", "Cu"), ("Cu", "Cu")}


def test_windows_need_symmetry_order_and_positive_distances():
    m = local_model()
    with pytest.raises(ValueError, match="symmetric"):
        m.set_core_repulsion(torch.tensor([1.0, 1.0, 0.5, 1.0]), torch.tensor([2.0, 2.0, 2.0, 2.0]))
    with pytest.raises(ValueError, match="inner < outer"):
        m.set_core_repulsion(torch.tensor([2.0, 1.0, 1.0, 1.0]), torch.tensor([2.0, 2.0, 2.0, 2.0]))
    with pytest.raises(ValueError, match="positive"):
        core_windows(ELEMENTS, {("Al", "Cu"): 0.0})
    inner, outer = core_windows(ELEMENTS, {("Cu", "Al"): 2.0})  # Al-Al and Cu-Cu unseen: covalent radii
    assert outer.tolist()[1] == outer.tolist()[2] == 2.0 and 1.5 < outer[0] < 2.5 and np.allclose(inner, 0.6 * outer)


def test_fit_windows_makes_pairs_repulsive_below_their_windows_and_never_raises_one():
    m = local_model(seed=1)
    start = torch.full((4,), 3.2, dtype=torch.float64)
    m.set_core_repulsion(0.6 * start, start)
    probe = distorted_cell()
    report = fit_windows(m, [probe], fractions=(0.6, 0.8), step=0.1)
    assert set(report) == {"Al-Al", "Al-Cu", "Cu-Cu"}
    assert report["Al-Cu"]["repulsive"] and report["Cu-Cu"]["repulsive"]
    for i, j, name in ((0, 0, "Al-Al"), (0, 1, "Al-Cu"), (1, 1, "Cu-Cu")):
        outer, inner = m.core_outer.view(2, 2)[i, j].item(), m.core_inner.view(2, 2)[i, j].item()
        assert outer == report[name]["outer"] <= 3.2 and inner == pytest.approx(report[name]["inner"])
        assert any(inner == pytest.approx(f * outer) for f in (0.6, 0.8))
        steepest = dimer_slopes(m, i, j, torch.linspace(0.2, outer, 240, dtype=torch.float64)).max().item()
        assert (steepest < 0) == (report[name]["max_slope"] < 0)  # the report says what the model does
        push = report[name]["push_max_slope"]
        assert report[name]["repulsive"] == (steepest < 0 and (push is None or push < 0))
    moved = [k for k, v in report.items() if v["outer"] < 3.2 or v["inner"] != pytest.approx(0.6 * 3.2)]
    assert moved, "the fixture should need a window moved or narrowed"
    # pushed together inside the probe, the closest Al-Cu pair repels below its window too
    d = probe.get_all_distances(mic=True)
    al, cu = np.flatnonzero(probe.numbers == 13), np.flatnonzero(probe.numbers == 29)
    a, b = np.unravel_index(d[np.ix_(al, cu)].argmin(), (len(al), len(cu)))
    outer = report["Al-Cu"]["outer"]
    assert push_slopes(m, probe, int(al[a]), int(cu[b]), torch.linspace(0.2, outer, 40, dtype=torch.float64)).max() < 0


def test_a_lone_atom_of_an_element_gives_no_push_of_its_like_pair():
    """One Al in the probe: there is no Al-Al pair to push (an atom pushed onto itself would have
    no direction and a zero slope, read as 'not repulsive')."""
    probe = distorted_cell()
    probe.symbols[:] = "Cu"
    probe.symbols[3] = "Al"
    pushes = _closest_pairs([probe], ELEMENTS)
    assert (0, 0) not in pushes and (0, 1) in pushes and (1, 1) in pushes
    for _, a, b in pushes[(0, 1)] + pushes[(1, 1)]:
        assert a != b
