"""What the tests of the runtime share: structures, reference models, a LAMMPS-vs-ASE runner,
an input that ends in an ERROR, and the shipped students with the cells their stored values
were taken on. Fixtures are in conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import read, write

from pair_student import StudentCalculator
from pair_student.contract import EDGE_INDEX, EDGE_VECTORS, evaluate, save_student
from pair_student.graph import atom_virials, atoms_to_graph, edge_virials
from pair_student.data.structures import demo_structure
from pair_student.models import ReferenceStudent
from pair_student.models.shipped import shipped_models
from pair_student.runtime.runner import NKTV2P_METAL, read_dump, read_thermo, run_lammps


def make_model(path: Path, elements: Sequence[str], cutoff: float = 4.5, num_layers: int = 1) -> Path:
    model = ReferenceStudent(elements, cutoff=cutoff, num_layers=num_layers)
    meta = {"elements": list(elements), "cutoff": cutoff, "num_layers": num_layers}
    return save_student(model, path, meta)


def gan_supercell() -> Atoms:
    """256 atoms, two elements, hexagonal (triclinic in LAMMPS), rattled."""
    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (4, 4, 4)
    atoms.rattle(0.08, seed=3)
    return atoms


def si_small_cell() -> Atoms:
    """2-atom primitive cell: a 4.5 A cutoff reaches several images of every atom."""
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.positions[1] += [0.05, -0.03, 0.02]
    return atoms


def ethanol() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.cell = [30.0, 30.0, 30.0]
    atoms.positions += [5.0, 15.0, 15.0]  # left third of the box: domains on the right stay empty
    atoms.pbc = False
    return atoms


SYSTEMS = {"gan": (gan_supercell, ["Ga", "N"], "p p p"),
           "si_small": (si_small_cell, ["Si"], "p p p"),
           "ethanol": (ethanol, ["C", "H", "O"], "f f f")}

TEMPLATE = """
units metal
atom_style atomic
boundary {boundary}
atom_modify map yes
{processors}
read_data system.data
pair_style student {model} {options}
pair_coeff * * {coeff}
compute pe all pe/atom
compute sa all stress/atom NULL virial
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] vol
thermo_modify format float %.17g norm no
dump d all custom 1 dump.out id type x y z fx fy fz c_pe c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]
dump_modify d format float %.17g
run 0
"""


def write_data(atoms: Atoms, path: Path, specorder: Sequence[str]) -> Atoms:
    """Write a LAMMPS data file and return the structure as LAMMPS sees it (rotated frame)."""
    write(path, atoms, format="lammps-data", specorder=list(specorder), masses=True)
    z_of_type = {i + 1: Atoms(el).numbers[0] for i, el in enumerate(specorder)}
    back = read(path, format="lammps-data", Z_of_type=z_of_type)
    back.pbc = atoms.pbc
    return back


def run_student(workdir: Path, atoms: Atoms, model: Path, *, boundary: str, specorder: Sequence[str],
                coeff: Sequence[str] | None = None, nprocs: int = 1, processors: str = "",
                options: str = "") -> Dict[str, np.ndarray]:
    """Write ``atoms`` as a data file, ``run 0`` in LAMMPS; returns energy, forces, per-atom
    energies and virials (eV units) and ``atoms`` as LAMMPS sees them (rotated frame)."""
    workdir.mkdir(parents=True, exist_ok=True)
    lammps_atoms = write_data(atoms, workdir / "system.data", specorder)
    result = run_lammps(
        TEMPLATE.format(boundary=boundary, processors=processors, model=model, options=options,
                        coeff=" ".join(coeff or specorder)),
        workdir=workdir, nprocs=nprocs).check()
    thermo = read_thermo(workdir / "log.lammps")
    dump = read_dump(workdir / "dump.out")
    volume = thermo["Volume"][-1]
    vir = np.array([thermo[f"c_vir[{k}]"][-1] for k in range(1, 7)]) * volume / NKTV2P_METAL
    return {
        "output": result.output,
        "atoms": lammps_atoms,
        "energy": thermo["PotEng"][-1],
        "forces": np.stack([dump["fx"], dump["fy"], dump["fz"]], 1),
        "energies": dump["c_pe"],
        "virial": vir,  # xx yy zz xy xz yz
        "atom_virial": -np.stack([dump[f"c_sa[{k}]"] for k in range(1, 7)], 1) / NKTV2P_METAL,
    }


def reference(atoms: Atoms, model: Path) -> Dict[str, np.ndarray]:
    """The same quantities from the ASE calculator and the contract's edge algebra."""
    calc = StudentCalculator(model)
    atoms = atoms.copy()
    atoms.calc = calc
    graph = atoms_to_graph(atoms, calc.cutoff, calc.elements)
    _, grad = evaluate(calc.module, *(graph[k] for k in ("species", "edge_index", "edge_vectors")), len(atoms))
    w = edge_virials(graph[EDGE_VECTORS], grad.detach()).sum(0).numpy()
    wa = atom_virials(graph[EDGE_INDEX], graph[EDGE_VECTORS], grad.detach(), len(atoms)).numpy()
    voigt = lambda m: np.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2],  # noqa: E731
                                0.5 * (m[..., 0, 1] + m[..., 1, 0]), 0.5 * (m[..., 0, 2] + m[..., 2, 0]),
                                0.5 * (m[..., 1, 2] + m[..., 2, 1])], -1)
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
            "energies": atoms.get_potential_energies(), "virial": voigt(w), "atom_virial": voigt(wa)}


def assert_close(a, b, rtol=1e-10, what=""):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.abs(b).max(), 1e-12)
    err = np.abs(a - b).max() / scale
    assert err <= rtol, f"{what}: max relative deviation {err:.3g} > {rtol:g}"


INPUT = """
units {units}
atom_style atomic
boundary p p p
{newton}
read_data system.data
pair_style student {model} {options}
pair_coeff * * {coeff}
run 0
"""


def run(workdir, *, model="model.pt", coeff="Ga N", units="metal", options="", newton=""):
    script = INPUT.format(units=units, model=model, coeff=coeff, options=options, newton=newton)
    return run_lammps(script, workdir=workdir)


def assert_lammps_error(result, *fragments):
    assert result.returncode > 0, f"expected a LAMMPS error exit, got {result.returncode}"
    assert result.error is not None, result.output[-2000:]
    for fragment in fragments:
        assert fragment in result.error, f"{fragment!r} not in {result.error!r}"


QUANTITIES = ("energy", "forces", "energies", "virial", "atom_virial")


def shipped_cases():
    return [(system, size, path) for system, sizes in shipped_models().items() for size, path in sizes.items()]


def rattled(system: str):
    atoms = demo_structure(system)
    atoms.rattle(0.05, seed=11)
    if not atoms.pbc.any():
        atoms.cell = [20.0, 20.0, 20.0]
        atoms.center()
    return atoms


def variants(signature: str):
    """(dtype, gemm) pairs to record and compare; ``gemm auto`` picks by timing, so it is not
    reproducible, and ``packed`` exists only in AVX-512 builds."""
    gemms = ("blas", "packed") if "avx512f" in signature.split() else ("blas",)
    return [(dtype, gemm) for dtype in ("float64", "float32") for gemm in gemms]


def cpu_signature() -> str:
    """The vector extensions the plugin was compiled for (-march=native): the same source
    rounds differently with and without FMA/AVX-512, so bit equality is only owed on a CPU with
    the flags the reference was recorded on."""
    flags = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    keep = ("avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_fp16")
    return " ".join(f for f in keep if f in flags)
