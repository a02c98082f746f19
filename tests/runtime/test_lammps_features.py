"""pair_style student inside real LAMMPS workflows: NULL types with hybrid/overlay,
minimization, MD with changing neighbour lists, isolated atoms and the edge-list debug dump."""

import re

import numpy as np
from ase import Atoms

from runtime_harness import SYSTEMS, assert_close, make_model, reference, run_student, write_data
from pair_student.runtime.runner import read_thermo, run_lammps

HYBRID = """
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style hybrid/overlay student model.pt lj/cut 6.0
pair_coeff * * student Ga N NULL
pair_coeff * * lj/cut 0.01 2.5
compute pst all pair student
compute plj all pair lj/cut
thermo_style custom step pe c_pst c_plj
thermo_modify format float %.17g
run 0
"""


def test_hybrid_overlay_with_null_type(tmp_path):
    build, _, _ = SYSTEMS["gan"]
    atoms = build()
    atoms.symbols[:10] = "Ar"  # type 3: seen by lj/cut only
    model = make_model(tmp_path / "model.pt", ["Ga", "N"])
    lammps_atoms = write_data(atoms, tmp_path / "system.data", ["Ga", "N", "Ar"])
    run_lammps(HYBRID, workdir=tmp_path).check()
    thermo = read_thermo(tmp_path / "log.lammps")
    without_ar = lammps_atoms[[s != "Ar" for s in lammps_atoms.get_chemical_symbols()]]
    expected = reference(without_ar, model)["energy"]
    assert_close(thermo["c_pst"][-1], expected, what="student part")
    assert abs(thermo["c_plj"][-1]) > 1e-6
    assert_close(thermo["PotEng"][-1], thermo["c_pst"][-1] + thermo["c_plj"][-1], rtol=1e-12, what="sum")


MINIMIZE = """
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style student model.pt
pair_coeff * * Si
thermo_style custom step pe fnorm
thermo_modify format float %.17g
minimize 0 1e-6 500 5000
"""


def test_minimize_converges(tmp_path):
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=0)
    make_model(tmp_path / "model.pt", ["Si"])
    write_data(atoms, tmp_path / "system.data", ["Si"])
    run_lammps(MINIMIZE, workdir=tmp_path).check()
    thermo = read_thermo(tmp_path / "log.lammps")
    assert thermo["PotEng"][-1] < thermo["PotEng"][0] - 0.1
    assert thermo["Fnorm"][-1] < 1e-5


NVE = """
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style student model.pt
pair_coeff * * Ga N
velocity all create 600 4928459 mom yes rot yes dist gaussian
neighbor 0.5 bin
neigh_modify every 1 delay 0 check yes
timestep 0.0005
fix 1 all nve
thermo_style custom step pe ke etotal
thermo_modify format float %.17g
thermo 50
run 400
"""


def test_nve_conserves_energy_across_neighbor_rebuilds(tmp_path):
    build, elements, _ = SYSTEMS["gan"]
    make_model(tmp_path / "model.pt", elements)
    write_data(build(), tmp_path / "system.data", elements)
    result = run_lammps(NVE, workdir=tmp_path).check()
    thermo = read_thermo(tmp_path / "log.lammps")
    builds = int(result.output.split("Neighbor list builds =")[1].split()[0])
    assert builds > 2  # the graph really changed size between steps
    assert re.search(r"pair_style student timing: 401 calls, model [\d.]+ ms/call", result.output)
    drift = np.ptp(thermo["TotEng"]) / 256
    assert drift < 1e-4, f"total energy wanders by {drift:.2e} eV/atom"
    assert np.ptp(thermo["PotEng"]) > 50 * np.ptp(thermo["TotEng"])  # there was real motion


def test_isolated_atom_and_edge_debug_dump(tmp_path):
    build, elements, _ = SYSTEMS["ethanol"]
    atoms = build()
    atoms += Atoms("O", positions=[[25.0, 25.0, 25.0]])  # no neighbour within the cutoff
    model = make_model(tmp_path / "model.pt", elements)
    lmp = run_student(tmp_path, atoms, model, boundary="f f f", specorder=elements, options="debug yes")
    ref = reference(lmp["atoms"], model)
    assert_close(lmp["energies"], ref["energies"], what="per-atom energies")
    assert np.all(lmp["forces"][-1] == 0.0)
    edges = np.loadtxt(tmp_path / "student_edges.0.dat")
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", lmp["atoms"], 4.5)
    assert sorted(zip(edges[:, 0].astype(int), edges[:, 1].astype(int))) == sorted(zip(i + 1, j + 1))


TWO_STEPS = """
units metal
atom_style atomic
boundary p p p
read_data system.data
pair_style student model.pt debug yes
pair_coeff * * Si
velocity all create 3000 4928459 mom yes dist gaussian
fix 1 all nve
run 1
"""


def test_edge_debug_file_holds_every_step(tmp_path):
    """run 1 computes forces at steps 0 and 1: both edge lists are in the file, in order, and the
    second has the moved atoms' vectors (the file is not rewritten per step)."""
    build, elements, _ = SYSTEMS["si_small"]
    make_model(tmp_path / "model.pt", elements)
    write_data(build(), tmp_path / "system.data", elements)
    run_lammps(TWO_STEPS, workdir=tmp_path).check()
    text = (tmp_path / "student_edges.0.dat").read_text()
    steps = re.findall(r"^# step (\d+):", text, flags=re.M)
    assert steps == ["0", "1"]
    blocks = [np.loadtxt(block.splitlines()[1:]) for block in re.split(r"^(?=# step)", text, flags=re.M)[1:]]
    assert all(len(block) > 0 for block in blocks)
    assert sorted(map(tuple, blocks[0][:, :2])) == sorted(map(tuple, blocks[1][:, :2]))
    assert not np.array_equal(blocks[0][:, 2:], blocks[1][:, 2:])
