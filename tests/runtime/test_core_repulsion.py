"""The core repulsion in LAMMPS: the native kernel, ``kernel torch`` and the ASE calculator give
the same energies, forces and virials with edges below, inside and above their windows, on 1
and 2 ranks and in float32; a file without windows runs exactly as before."""

import numpy as np
import pytest
import torch

from runtime_harness import assert_close, gan_supercell, QUANTITIES, reference, run_student
from pair_student.contract import save_student
from pair_student.models import LocalStudent
from pair_student.models.tabulated import tabulate

ELEMENTS = ["Ga", "N"]
# Ga-Ga, Ga-N, N-Ga, N-N: the Ga-N bonds (~1.95 A) and the nearest like pairs (~3.2 A) of the
# rattled cell lie inside their windows, and the squeezed pair below in the pure-ZBL region
INNER = [2.9, 1.7, 1.7, 2.95]
OUTER = [3.4, 2.1, 2.1, 3.35]


def model_file(path, repulsion=True):
    torch.manual_seed(5)
    model = LocalStudent(ELEMENTS, 4.5, channels=5, radial_hidden=8, hidden=12, lmax=2).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    if repulsion:
        model.set_core_repulsion(torch.tensor(INNER), torch.tensor(OUTER))
    return save_student(tabulate(model, 64), path, {"elements": ELEMENTS, "cutoff": 4.5})


def squeezed_cell():
    atoms = gan_supercell()
    first_n = int(np.flatnonzero(atoms.numbers == 7)[0])
    bond = atoms.get_distance(0, first_n, mic=True, vector=True)
    atoms.positions[first_n] = atoms.positions[0] + 0.6 * bond / np.linalg.norm(bond)  # 0.6 A: ZBL only
    return atoms


def test_native_torch_and_ase_agree_with_repulsion(tmp_path):
    path = model_file(tmp_path / "model.pt")
    atoms = squeezed_cell()
    native = run_student(tmp_path / "native", atoms, path, boundary="p p p", specorder=ELEMENTS)
    assert "native kernel" in native["output"]
    torch_run = run_student(tmp_path / "torch", atoms, path, boundary="p p p", specorder=ELEMENTS,
                            options="kernel torch")
    parallel = run_student(tmp_path / "2", atoms, path, boundary="p p p", specorder=ELEMENTS, nprocs=2)
    single = run_student(tmp_path / "f32", atoms, path, boundary="p p p", specorder=ELEMENTS,
                         options="dtype float32 kernel native")
    ref = reference(native["atoms"], path)
    for key in QUANTITIES:
        assert_close(native[key], ref[key], what=f"native vs ASE {key}")
        assert_close(torch_run[key], ref[key], what=f"kernel torch vs ASE {key}")
        assert_close(parallel[key], native[key], what=f"2 ranks {key}")
        assert_close(single[key], ref[key], rtol=1e-4, what=f"float32 {key}")
    # the squeezed pair's repulsion is what the comparison exercised: without it, far less energy
    plain = reference(native["atoms"], model_file(tmp_path / "plain.pt", repulsion=False))
    assert native["energy"] - plain["energy"] > 50.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_windows_below_every_distance_are_exactly_the_network(tmp_path, dtype):
    atoms = gan_supercell()
    d = atoms.get_all_distances(mic=True)
    shortest = float(d[d > 0].min())
    torch.manual_seed(5)
    model = LocalStudent(ELEMENTS, 4.5, channels=5, radial_hidden=8, hidden=12, lmax=2).double()
    table = tabulate(model, 64)
    plain = save_student(table, tmp_path / "plain.pt", {"elements": ELEMENTS, "cutoff": 4.5})
    table.set_core_repulsion(torch.full((4,), 0.5 * shortest), torch.full((4,), 0.95 * shortest))
    core = save_student(table, tmp_path / "core.pt", {"elements": ELEMENTS, "cutoff": 4.5})
    options = f"dtype {dtype} kernel native"
    a = run_student(tmp_path / "a", atoms, plain, boundary="p p p", specorder=ELEMENTS, options=options)
    b = run_student(tmp_path / "b", atoms, core, boundary="p p p", specorder=ELEMENTS, options=options)
    for key in QUANTITIES:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
