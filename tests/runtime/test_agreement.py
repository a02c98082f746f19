"""lmp and the ASE calculator agree to 1e-10 in float64: energy, forces, virial, per-atom values."""

import re

import numpy as np
import pytest

from runtime_harness import assert_close, make_model, QUANTITIES, reference, run_student, SYSTEMS



@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_lammps_equals_ase(tmp_path, system, num_layers):
    build, elements, boundary = SYSTEMS[system]
    model = make_model(tmp_path / "model.pt", elements, num_layers=num_layers)
    lmp = run_student(tmp_path, build(), model, boundary=boundary, specorder=elements)
    ref = reference(lmp["atoms"], model)
    for key in QUANTITIES:
        assert_close(lmp[key], ref[key], what=f"{system} {key}")
    assert np.abs(ref["forces"]).max() > 1e-3  # the structure is not at a trivial minimum
    if num_layers == 2 and boundary.startswith("p"):
        assert "ghost cutoff raised to 11 A" in lmp["output"]


def test_multi_image_cell_is_really_small(tmp_path):
    atoms = SYSTEMS["si_small"][0]()
    assert min(atoms.cell.cellpar()[:3]) < 4.5  # the cutoff exceeds the periodic length


def test_swapped_element_order_gives_identical_physics(tmp_path):
    build, elements, boundary = SYSTEMS["gan"]
    model = make_model(tmp_path / "model.pt", elements)
    atoms = build()
    straight = run_student(tmp_path / "a", atoms, model, boundary=boundary, specorder=["Ga", "N"])
    swapped = run_student(tmp_path / "b", atoms, model, boundary=boundary, specorder=["N", "Ga"])
    assert "Ga N" in (tmp_path / "a" / "in.lammps").read_text()
    assert "N Ga" in (tmp_path / "b" / "in.lammps").read_text()
    for key in QUANTITIES:
        assert_close(swapped[key], straight[key], rtol=1e-12, what=key)


def test_float32_runs_close_to_float64(tmp_path):
    build, elements, boundary = SYSTEMS["gan"]
    model = make_model(tmp_path / "model.pt", elements)
    atoms = build()
    f64 = run_student(tmp_path / "64", atoms, model, boundary=boundary, specorder=elements)
    f32 = run_student(tmp_path / "32", atoms, model, boundary=boundary, specorder=elements,
                      options="dtype float32")
    assert "float32" in f32["output"]
    assert_close(f32["forces"], f64["forces"], rtol=1e-4, what="float32 forces")
    assert not np.array_equal(f32["forces"], f64["forces"])  # the option really changed the dtype


@pytest.mark.parametrize("nprocs,processors", [(2, ""), (3, "processors 3 1 1")])
@pytest.mark.parametrize("system", ["gan", "ethanol"])
def test_mpi_equals_serial(tmp_path, system, nprocs, processors):
    build, elements, boundary = SYSTEMS[system]
    model = make_model(tmp_path / "model.pt", elements, num_layers=2)
    atoms = build()
    serial = run_student(tmp_path / "1", atoms, model, boundary=boundary, specorder=elements)
    parallel = run_student(tmp_path / "n", atoms, model, boundary=boundary, specorder=elements,
                           nprocs=nprocs, processors=processors)
    grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid", parallel["output"])
    assert grid and np.prod([int(g) for g in grid.groups()]) == nprocs
    for key in QUANTITIES:
        assert_close(parallel[key], serial[key], what=f"{nprocs} ranks {key}")
    if system == "ethanol" and nprocs == 3:  # the molecule sits in the first third of the box
        assert re.search(r"Nlocal:\s+3 ave\s+9 max\s+0 min", parallel["output"])
