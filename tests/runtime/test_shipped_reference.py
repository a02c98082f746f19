"""Every shipped student gives the same energy and forces in ``lmp`` as the values stored in
``shipped_reference.json`` (recorded by ``make_shipped_reference.py`` before the package was
restructured): to the bit on a CPU with the vector extensions they were recorded with, else to
the rounding of a different instruction mix."""

import json
from pathlib import Path

import numpy as np
import pytest

from pair_student import read_metadata
from runtime_harness import cpu_signature, rattled, run_student, shipped_cases, variants

STORED = json.loads((Path(__file__).with_name("shipped_reference.json")).read_text())
SAME_CPU = STORED["cpu"] == cpu_signature()
CASES = [(s, z, p, d, g) for s, z, p in shipped_cases() for d, g in variants(STORED["cpu"])]


def _decode(record):
    return float.fromhex(record["energy"]), np.array([float.fromhex(v) for v in record["forces"]])


def test_every_shipped_student_has_stored_values():
    """A student added to or dropped from demo/ must not silently go unchecked."""
    assert sorted(STORED["records"]) == sorted(f"{s}/{z}/{d}/{g}" for s, z, _, d, g in CASES)


@pytest.mark.parametrize("system,size,path,dtype,gemm", CASES, ids=[f"{s}-{z}-{d}-{g}" for s, z, _, d, g in CASES])
def test_shipped_student_matches_stored_values(tmp_path, system, size, path, dtype, gemm):
    energy, forces = _decode(STORED["records"][f"{system}/{size}/{dtype}/{gemm}"])
    atoms = rattled(system)
    lmp = run_student(tmp_path, atoms, path, boundary="p p p" if atoms.pbc.all() else "f f f",
                      specorder=read_metadata(path)["elements"], options=f"dtype {dtype} gemm {gemm}")
    got = lmp["forces"].ravel()
    if SAME_CPU:
        assert lmp["energy"] == energy
        assert np.array_equal(got, forces), f"{np.abs(got - forces).max():.3g} eV/A from the stored forces"
    else:
        # another instruction mix (FMA contraction, vector width) moves the last bits only
        rtol = 1e-10 if dtype == "float64" else 1e-5
        assert abs(lmp["energy"] - energy) <= rtol * abs(energy)
        assert np.abs(got - forces).max() <= rtol * np.abs(forces).max()
