"""Every shipped demo student passes the pair style's agreement test: lmp (native kernel)
equals the ASE calculator (TorchScript) to 1e-10 in float64 (energy, forces, virial, per-atom
values), serial and on 2 ranks, and to float32 rounding in float32."""

import numpy as np
import pytest

from pair_student import read_metadata
from pair_student.models.shipped import shipped_models
from pair_student.registry import DEMO_NAMES, SIZES
from runtime_harness import QUANTITIES, assert_close, rattled, reference, run_student, shipped_cases

SHIPPED = shipped_cases()


def test_every_demo_system_ships_three_sizes():
    found = {system: sorted(sizes) for system, sizes in shipped_models().items()}
    assert found == {s: sorted(SIZES) for s in DEMO_NAMES}


@pytest.mark.parametrize("system,size,path", SHIPPED, ids=[f"{s}-{z}" for s, z, _ in SHIPPED])
def test_shipped_student_lammps_equals_ase(tmp_path, system, size, path):
    meta = read_metadata(path)
    assert meta["dtype"] == "float64" and meta["provenance"]["size"] == size
    atoms = rattled(system)
    elements = meta["elements"]
    boundary = "p p p" if atoms.pbc.all() else "f f f"
    assert meta["provenance"]["tabulated"]["force_difference"] < 1e-4
    lmp = run_student(tmp_path, atoms, path, boundary=boundary, specorder=elements)
    assert "native kernel" in lmp["output"]  # the shipped files run in the native kernel on CPU
    ref = reference(lmp["atoms"], path)
    for key in QUANTITIES:
        assert_close(lmp[key], ref[key], what=f"{system}/{size} {key}")
    assert np.abs(ref["forces"]).max() > 0.05  # a rattled crystal or molecule has real forces


def test_shipped_student_on_two_ranks_equals_serial(tmp_path):
    path = shipped_models()["gan"]["tiny"]
    atoms = rattled("gan")
    elements = read_metadata(path)["elements"]
    serial = run_student(tmp_path / "1", atoms, path, boundary="p p p", specorder=elements)
    parallel = run_student(tmp_path / "2", atoms, path, boundary="p p p", specorder=elements, nprocs=2)
    for key in QUANTITIES:
        assert_close(parallel[key], serial[key], what=f"2 ranks {key}")


@pytest.mark.parametrize("size", ["ultra-tiny", "original"])
def test_shipped_student_in_float32(tmp_path, size):
    path = shipped_models()["si"][size]
    atoms = rattled("si")
    lmp = run_student(tmp_path, atoms, path, boundary="p p p", specorder=["Si"], options="dtype float32")
    ref = reference(lmp["atoms"], path)
    for key in ("energy", "forces", "virial"):
        assert_close(lmp[key], ref[key], rtol=1e-4, what=f"si/{size} float32 {key}")
