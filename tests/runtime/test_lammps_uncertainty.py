"""The per-atom uncertainty in LAMMPS (``pair_style student ... uncertainty yes every N``): the
native kernel gives LocalStudent.atom_uncertainty of the file to 1e-10 in float64 (1e-4 in
float32), on 1, 2 and 4 ranks and through ``kernel torch``; energies and forces do not move by a
bit; an isolated atom (on a rank whose neighbour is empty) gets a finite value; ``every N``
computes only on its steps; ``fix halt`` on the global maximum stops a run; a file without
statistics, and fix pair asking while the uncertainty is off, are refused by name."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms

from pair_student.contract import save_student
from pair_student.graph import atoms_to_graph, edge_forces
from pair_student.models.tabulated import tabulate
from pair_student.models.uncertainty import fit_uncertainty
from pair_student.runtime.runner import read_dump, read_thermo, run_lammps
from runtime_harness import assert_close, assert_lammps_error, write_data

sys.path.append(str(Path(__file__).resolve().parents[1] / "models"))  # the model tests' harness
from model_harness import CUTOFF, ELEMENTS, distorted_cell, local_model  # noqa: E402

META = {"elements": ELEMENTS, "cutoff": CUTOFF, "num_layers": 1, "dtype": "float64"}

INPUT = """
units metal
atom_style atomic
boundary {boundary}
atom_modify map yes
read_data system.data
pair_style student {model} {options}
pair_coeff * * {coeff}
{extra}
compute pe all pe/atom
thermo_style custom step pe {thermo}
thermo_modify format float %.17g norm no
dump d all custom 1 dump.out id type fx fy fz c_pe {columns}
dump_modify d format float %.17g
{run}
"""

# the per-atom values through fix pair, their maximum and mean through compute pair
WATCH = "fix unc all pair 1 student uncertainty 1\ncompute u all pair student"


def labelled(model, atoms, noise, seed):
    """A frame labelled by ``model`` plus noise: the 'teacher' the student misses by ``noise``."""
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    _, grad = model(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    atoms = atoms.copy()
    atoms.info["energy"] = 0.0
    forces = edge_forces(g["edge_index"], grad.detach(), len(atoms)).numpy()
    atoms.arrays["forces"] = forces + noise * np.random.default_rng(seed).standard_normal(forces.shape)
    return atoms


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny tabulated float64 student with fitted statistics, the same without, and with its
    whitening turned by a rotation (the same distances from a full matrix, not a triangle)."""
    folder = tmp_path_factory.mktemp("uncertainty")
    m = local_model()
    paths = {"plain": save_student(torch.jit.script(tabulate(m, points=64)), folder / "plain.pt", META)}
    validation = [labelled(m, distorted_cell(100 + s), 0.05, s) for s in range(4)]
    fit_uncertainty(m, [distorted_cell(seed) for seed in range(4)], validation)
    t = tabulate(m, points=64)  # keeps the statistics
    paths["fitted"] = save_student(torch.jit.script(t), folder / "u.pt", META)
    rotation, _ = torch.linalg.qr(torch.randn(m.uncertainty_whiten.shape[1:], dtype=torch.float64,
                                              generator=torch.Generator().manual_seed(3)))
    t.set_uncertainty(m.uncertainty_mean, rotation @ m.uncertainty_whiten, m.uncertainty_calibration)
    paths["rotated"] = save_student(torch.jit.script(t), folder / "rotated.pt", META)
    return paths


def cell():
    """64 atoms, with one squeezed corner: atoms near the training set's features and far from them."""
    atoms = distorted_cell(7).repeat((2, 2, 2))
    atoms.positions[:4] = atoms.positions[0] + 0.8 * (atoms.positions[:4] - atoms.positions[0])
    return atoms


def lammps(workdir, atoms, model, *, options="uncertainty yes", extra=WATCH, nprocs=1, run="run 0",
           boundary="p p p"):
    """``run`` in LAMMPS; thermo (with c_u[1], c_u[2] when ``extra`` defines compute u), the last
    dump frame (with f_unc when it defines fix unc) and ``atoms`` as LAMMPS sees them."""
    watched = "compute u " in extra
    script = INPUT.format(boundary=boundary, model=model, options=options, coeff=" ".join(ELEMENTS),
                          extra=extra, thermo="c_u[1] c_u[2]" if watched else "",
                          columns="f_unc" if "fix unc" in extra else "", run=run)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lammps_atoms = write_data(atoms, workdir / "system.data", ELEMENTS)
    result = run_lammps(script, workdir=workdir, nprocs=nprocs)
    if result.returncode != 0:
        return {"result": result}
    return {"result": result, "atoms": lammps_atoms, "thermo": read_thermo(workdir / "log.lammps"),
            "dump": read_dump(workdir / "dump.out")}


def python_uncertainty(model_path, atoms):
    module = torch.jit.load(str(model_path))
    g = atoms_to_graph(atoms, CUTOFF, ELEMENTS)
    with torch.no_grad():
        u = module.atom_uncertainty(g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    return u.double().numpy()


def test_native_equals_python_on_every_rank_count_and_kernel(files, tmp_path):
    path = files["fitted"]
    atoms = cell()
    serial = lammps(tmp_path / "1", atoms, path)
    out = serial["result"].check().output
    assert "native kernel" in out and "per-atom uncertainty on, every 1 step(s)" in out
    expected = python_uncertainty(path, serial["atoms"])
    assert expected.max() > 3 * np.median(expected)  # the squeezed corner stands out
    assert_close(serial["dump"]["f_unc"], expected, what="native float64 vs atom_uncertainty")
    thermo = serial["thermo"]
    assert thermo["c_u[1]"][-1] == pytest.approx(expected.max(), rel=1e-10)
    assert thermo["c_u[2]"][-1] == pytest.approx(expected.mean(), rel=1e-10)
    for nprocs in (2, 4):
        parallel = lammps(tmp_path / str(nprocs), atoms, path, nprocs=nprocs)
        assert_close(parallel["dump"]["f_unc"], expected, what=f"{nprocs} ranks")
        assert parallel["thermo"]["c_u[1]"][-1] == pytest.approx(expected.max(), rel=1e-10)
        assert parallel["thermo"]["c_u[2]"][-1] == pytest.approx(expected.mean(), rel=1e-10)
    torch_kernel = lammps(tmp_path / "torch", atoms, path, options="uncertainty yes kernel torch")
    assert "libtorch autograd" in torch_kernel["result"].output
    assert_close(torch_kernel["dump"]["f_unc"], expected, what="kernel torch")
    single = lammps(tmp_path / "f32", atoms, path, options="uncertainty yes dtype float32 kernel native")
    assert_close(single["dump"]["f_unc"], expected, rtol=1e-4, what="native float32")


@pytest.mark.parametrize("options", ["", "dtype float32"])
def test_energies_and_forces_do_not_move(files, tmp_path, options):
    path = files["fitted"]
    on = lammps(tmp_path / "on", cell(), path, options=f"uncertainty yes {options}")
    off = lammps(tmp_path / "off", cell(), path, options=f"uncertainty no {options}", extra="")
    np.testing.assert_array_equal(on["thermo"]["PotEng"], off["thermo"]["PotEng"])
    for key in ("fx", "fy", "fz", "c_pe"):
        np.testing.assert_array_equal(on["dump"][key], off["dump"][key], err_msg=key)


def test_isolated_atom_is_finite_with_an_empty_rank(files, tmp_path):
    path = files["fitted"]
    atoms = Atoms("AlCu", positions=[[3.0, 5.0, 5.0], [3.0, 15.0, 15.0]], cell=[20.0, 20.0, 20.0], pbc=False)
    run = lammps(tmp_path, atoms, path, nprocs=2, boundary="f f f")
    u = run["dump"]["f_unc"]
    assert np.isfinite(u).all() and (u > 0).all()
    assert_close(u, python_uncertainty(path, run["atoms"]), what="isolated atoms")


def test_every_n_computes_on_its_steps_only(files, tmp_path):
    path = files["fitted"]
    md = "velocity all create 2000 5 dist gaussian\nfix nve all nve\nthermo 1\nrun 9"
    run = lammps(tmp_path, cell(), path, options="uncertainty yes every 3", extra="compute u all pair student",
                 run=md)
    assert "every 3 step(s)" in run["result"].output
    steps, umax = run["thermo"]["Step"].astype(int), run["thermo"]["c_u[1]"]
    assert list(steps) == list(range(10))
    for k in range(1, 10):  # the maximum moves with the atoms on multiples of 3, else holds
        assert (umax[k] != umax[k - 1]) == (k % 3 == 0), (k, umax)


def test_fix_halt_on_the_maximum_stops_the_run(files, tmp_path):
    path = files["fitted"]
    start = python_uncertainty(path, cell()).max()
    md = (f"variable umax equal c_u[1]\nfix stop all halt 4 v_umax > {0.5 * start} error soft\n"
          "fix nve all nve\nthermo 1\nrun 50")
    run = lammps(tmp_path, cell(), path, extra="compute u all pair student", run=md)
    out = run["result"].check().output
    assert "Fix halt condition for fix-id stop met on step 4" in out
    assert re.search(r"Loop time of \S+ on 1 procs for 4 steps", out)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_a_whitening_that_is_no_triangle_runs_in_full(files, tmp_path, dtype, rtol):
    run = lammps(tmp_path, cell(), files["rotated"], options=f"uncertainty yes dtype {dtype}")
    expected = python_uncertainty(files["rotated"], run["atoms"])
    assert_close(expected, python_uncertainty(files["fitted"], run["atoms"]), what="the rotation changes nothing")
    assert_close(run["dump"]["f_unc"], expected, rtol=rtol, what=f"full whitening, {dtype}")


def test_a_file_without_statistics_and_bad_requests_are_refused(files, tmp_path):
    run = lammps(tmp_path, cell(), files["plain"], extra="")
    assert_lammps_error(run["result"], "carries no uncertainty statistics",
                        "re-export it with 'pair-student export FILE --uncertainty-from DATASET'")
    assert_lammps_error(lammps(tmp_path / "every", cell(), files["fitted"], options="uncertainty yes every 0",
                               extra="")["result"], "every must be >= 1")
    off = lammps(tmp_path / "off", cell(), files["fitted"], options="uncertainty no", extra=WATCH)
    assert_lammps_error(off["result"], "the per-atom 'uncertainty' is asked for (fix pair) but is off",
                        "add 'uncertainty yes'")
