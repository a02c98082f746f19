"""Speed and memory of a potential in LAMMPS (NVE MD of a replicated demo structure), and the
teacher's cost per atom.

Cost is LAMMPS' ``Loop time`` of a timed run after a warm-up run, divided by atoms x steps
(µs per atom-step); the number of steps is chosen from a short calibration run so that each
timed run lasts about ``target_s`` seconds. Peak memory is the lmp process' max RSS (see
:func:`.common.run_lmp`), which includes libtorch for the students; LAMMPS' own per-rank estimate
is kept next to it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk, molecule

from pair_student import teachers
from pair_student.data.structures import GAN_A, GAN_C, SI_A, demo_structure

from .common import Potential, lammps_memory_mb, loop_time, plugin_split_ms, run_lmp, section_seconds, write_data

SCRIPT = """units metal
atom_style atomic
atom_modify map array
boundary p p p
read_data system.data
{commands}
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create 300 4928459 dist gaussian
timestep {timestep}
fix 1 all nve
thermo {thermo}
run {warmup}
run {steps}
"""


def unit_cell(system: str) -> Atoms:
    """An orthogonal cell of the demo system to replicate (ethanol: one molecule per 10 Å cube,
    so that molecules stay further apart than any cutoff here, as in the single-molecule
    training data: the cost per atom of isolated molecules)."""
    if system == "si":
        return bulk("Si", "diamond", a=SI_A, cubic=True)
    if system == "gan":
        return bulk("GaN", "wurtzite", a=GAN_A, c=GAN_C, orthorhombic=True)
    if system == "ethanol":
        mol = molecule("CH3CH2OH")
        mol.positions -= mol.positions.mean(axis=0) - 5.0
        mol.cell = np.eye(3) * 10.0
        mol.pbc = True
        return mol
    raise ValueError(f"unknown system {system!r}")


def supercell(system: str, natoms: int) -> Atoms:
    """The unit cell replicated (as cubically as possible) to about ``natoms`` atoms."""
    unit = unit_cell(system)
    lengths = unit.cell.lengths()
    volume_per_atom = unit.get_volume() / len(unit)
    edge = (natoms * volume_per_atom) ** (1 / 3)
    reps = [max(1, int(round(edge / length))) for length in lengths]
    return unit * reps


def time_potential(potential: Potential, atoms: Atoms, workdir: Path, *, nprocs: int = 1, target_s: float = 3.0,
                   min_steps: int = 3, max_steps: int = 2000, guess_us: Optional[float] = None) -> Dict[str, float]:
    """µs per atom-step of ``potential`` on ``atoms`` in ``lmp`` with ``nprocs`` MPI ranks."""
    workdir.mkdir(parents=True, exist_ok=True)
    write_data(workdir / "system.data", atoms, potential.elements)
    n = len(atoms)
    timestep = 0.0005 if "H" in potential.elements else 0.001

    def once(steps: int, warmup: int):
        script = SCRIPT.format(commands="\n".join(potential.commands()), timestep=timestep, thermo=max(steps, 1),
                               warmup=warmup, steps=steps)
        run = run_lmp(script, workdir, nprocs=nprocs).check(f"timing {potential.name} ({n} atoms)")
        loop = loop_time(run.output)
        return run, loop

    if guess_us is None:
        run, loop = once(min_steps, 1)
        guess_us = 1e6 * loop["loop_s"] / (loop["steps"] * n)
        if loop["loop_s"] > 0.5 * target_s:
            return _row(run, loop, n, nprocs)
    steps = int(np.clip(target_s / (guess_us * 1e-6 * n), min_steps, max_steps))
    run, loop = once(steps, max(1, min(steps // 5, 20)))
    return _row(run, loop, n, nprocs)


def _row(run, loop, n: int, nprocs: int) -> Dict[str, float]:
    pair = section_seconds(run.output, "Pair")
    split = {}
    if "pair_style student timing:" in run.output:  # the plugin's own model vs glue split (rank 0)
        part = plugin_split_ms(run.output)
        split = {"model_ms": part["model_ms"], "glue_ms": part["glue_ms"],
                 "overhead_pct": 100 * part["glue_ms"] / part["model_ms"] if part["model_ms"] else None}
    return {**split, "natoms": n, "nprocs": nprocs, "steps": loop["steps"], "loop_s": loop["loop_s"],
            "us_per_atom_step": 1e6 * loop["loop_s"] / (loop["steps"] * n),
            "pair_fraction": (pair / loop["loop_s"]) if pair and loop["loop_s"] > 0 else None,
            "max_rss_mb": run.max_rss_mb, "lammps_memory_mb": lammps_memory_mb(run.output),
            "wall_s": run.wall_s}


# Fewest atoms the teacher is timed on. Its cost per call has a fixed part: on one 9-atom ethanol
# molecule SevenNet took 5,380 µs per atom, on 72 atoms (8 molecules) 2,920, on 576 3,070; on
# the 64-atom Si and 72-atom GaN cells its cost per atom was the lowest of the sizes up to 576.
TEACHER_MIN_ATOMS = 64


def teacher_cost(system: str, teacher_name: str = "sevennet", natoms: Optional[int] = None,
                 repeats: int = 2) -> Dict[str, float]:
    """µs per atom of one ``teacher.compute`` (energy, forces, stress) on the demo structure,
    replicated to at least ``TEACHER_MIN_ATOMS`` (or a supercell of about ``natoms``), called
    directly from Python on one thread: the teacher is not run inside LAMMPS (no fix external),
    which, if anything, flatters it."""
    torch.set_num_threads(1)
    if natoms is None:
        atoms = demo_structure(system)
        if len(atoms) < TEACHER_MIN_ATOMS:
            atoms = supercell(system, TEACHER_MIN_ATOMS)
    else:
        atoms = supercell(system, natoms)
    teacher = teachers.get_teacher(teacher_name)

    # every call gets freshly rattled positions: ASE calculators return cached results for
    # unchanged atoms, which would time a dictionary lookup
    def fresh(seed: int) -> Atoms:
        copy = atoms.copy()
        copy.rattle(0.01, seed=seed)
        return copy

    teacher.compute(fresh(0))  # warm-up: model load, first-call overheads
    times = []
    for k in range(repeats):
        trial = fresh(k + 1)
        start = time.perf_counter()
        teacher.compute(trial)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {"natoms": len(atoms), "seconds_per_call": best, "us_per_atom_step": 1e6 * best / len(atoms),
            "teacher": teacher_name, "threads": 1}


def available_mb() -> float:
    """MemAvailable of this machine in MB (inf where /proc/meminfo is absent)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def predicted_rss_mb(rows: List[Dict[str, float]], natoms: int) -> Optional[float]:
    """Peak RSS at ``natoms`` extrapolated linearly from the last two timed sizes: a student's
    per-edge activations are large, and a run past the machine's memory would be killed."""
    if len(rows) < 2 or not all(r.get("max_rss_mb") for r in rows[-2:]):
        return None
    (n0, m0), (n1, m1) = [(r["natoms"], r["max_rss_mb"]) for r in rows[-2:]]
    per_atom = (m1 - m0) / (n1 - n0) if n1 != n0 else 0.0
    return m1 + per_atom * (natoms - n1)
