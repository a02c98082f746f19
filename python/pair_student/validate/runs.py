"""Run one LAMMPS input with the teacher and with each student, and read back what it wrote.

A :class:`Model` says how a force field enters the input (the ``potential`` file, see
:mod:`.teacher_fix`); :func:`run_protocol` runs one input for one model in its own folder
(students and classical teachers as an ``lmp`` subprocess, so a crashing student cannot take
the validator down; a Python teacher in-process through ``fix external``) and returns a
:class:`Run` with the thermo table, the dumped frames, the loop timing and the stability
verdict.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.io import write

from ..runtime.runner import read_thermo, run_lammps
from ..teachers.lammps import PRESETS, potentials_dir, preset_of
from .teacher_fix import TeacherFix, classical_lines, python_teacher_lines, run_inprocess, split_at_potential

INPUTS_DIR = Path(__file__).resolve().parent.parent / "inputs"
PROTOCOLS = ("minimize", "nve", "nvt", "npt")
# Columns the comparison reads; the shipped inputs print exactly these.
THERMO_COLUMNS = ("Step", "Time", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume", "Atoms")
DUMP_COLUMNS = ("id", "type", "x", "y", "z", "fx", "fy", "fz")



@dataclass
class Model:
    """A force field to validate with.

    Attributes:
        label: name in tables and plots (``teacher`` or the student's file stem).
        kind: ``"student"`` (pair_style student), ``"classical"`` (a LAMMPS pair style) or
            ``"python"`` (a teacher object evaluated through fix external).
        lines: the force-field lines written to ``potential.in``.
        teacher: the Python teacher object (``kind == "python"`` only).
        path: the student file (``kind == "student"`` only).
    """

    label: str
    kind: str
    lines: List[str]
    teacher: object = None
    path: Optional[Path] = None


@dataclass
class Run:
    """One input run with one model."""

    model: str
    protocol: str
    workdir: Path
    natoms: int
    error: Optional[str] = None
    thermo: Dict[str, np.ndarray] = field(default_factory=dict)
    frames: List[Atoms] = field(default_factory=list)
    loop_seconds: Optional[float] = None
    loop_steps: Optional[int] = None
    wall_seconds: float = 0.0
    unstable: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.unstable

    @property
    def atom_steps_per_s(self) -> Optional[float]:
        if not self.loop_seconds or not self.loop_steps:
            return None
        return self.loop_steps * self.natoms / self.loop_seconds


def classical_teacher_lines(name: str, elements: Sequence[str]) -> Optional[List[str]]:
    """LAMMPS lines of a classical registry teacher (``sw-si``, ``sw-gan``, ``tersoff-gan``),
    None for any other name. Types map to ``elements`` in order."""
    # A classical teacher runs as its own pair style, not through fix external: its Teacher
    # object exposes only an ASE calculator, so the lines come from the preset it was built from.
    key = preset_of(name)
    if key is None:
        return None
    style, fname, known = PRESETS[key]
    unknown = sorted(set(elements) - set(known))
    if unknown:
        raise ValueError(f"teacher {name} knows {list(known)}, the structure also has {unknown}")
    return classical_lines(pair_style=style, pair_coeff=f"* * {potentials_dir() / fname} {' '.join(elements)}")


def python_teacher_model(teacher, *, label: str = "teacher", cutoff: float = 3.0) -> Model:
    """A Python teacher (anything with ``compute(atoms)``) run through fix external."""
    return Model(label=label, kind="python", lines=python_teacher_lines(cutoff=cutoff), teacher=teacher)


def check_input(path: Path) -> str:
    """The text of a validation input; a clear error when it cannot work with the validator."""
    if not path.is_file():
        raise FileNotFoundError(f"LAMMPS input {str(path)!r} does not exist")
    text = path.read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    missing = [v for v in ("potential", "data") if not re.search(r"\$\{%s\}|\$%s\b|v_%s\b" % (v, v, v), code)
               and not (v == "potential" and "is_defined(variable,potential)" in code.replace(" ", ""))]
    if missing:
        raise ValueError(
            f"{path} does not use the variable(s) {', '.join(missing)} the validator sets: read the "
            "structure with `read_data ${data}` and the force field with `include ${potential}` "
            "(see the header of lammps_inputs/nvt.in)"
        )
    if "dump.lammpstrj" not in code:
        raise ValueError(f"{path} writes no dump.lammpstrj (dump custom ... id type x y z fx fy fz) for the validator")
    split_at_potential(text)
    return text


def write_data(atoms: Atoms, path: Path, elements: Sequence[str]) -> None:
    """LAMMPS data file with a Masses section, types in ``elements`` order."""
    write(path, atoms, format="lammps-data", masses=True, specorder=list(elements), atom_style="atomic")


def read_dump_frames(path: Path, elements: Sequence[str]) -> List[Atoms]:
    """Every frame of a text ``dump custom`` with id type x y z fx fy fz, as ASE ``Atoms``
    (sorted by id, forces in ``atoms.arrays['forces']``, timestep in ``atoms.info['step']``)."""
    numbers = np.array([atomic_numbers[e] for e in elements])
    lines = Path(path).read_text().splitlines()
    frames, k = [], 0
    while k < len(lines):
        if not lines[k].startswith("ITEM: TIMESTEP"):
            k += 1
            continue
        step = int(lines[k + 1])
        natoms = int(lines[k + 3])
        bounds_head = lines[k + 4].split()
        flags = bounds_head[3:]
        rows = [list(map(float, lines[k + 5 + i].split())) for i in range(3)]
        header = lines[k + 8].split()[2:]
        missing = [c for c in DUMP_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: the dump lacks columns {missing}; write id type x y z fx fy fz")
        data = np.array([lines[k + 9 + i].split() for i in range(natoms)], dtype=float)
        data = data[np.argsort(data[:, header.index("id")])]
        col = lambda *names: data[:, [header.index(n) for n in names]]  # noqa: E731
        cell, origin = _box(rows, triclinic=len(rows[0]) == 3)
        pbc = [f.startswith("pp") for f in flags[-3:]] if len(flags) >= 3 else [True] * 3
        atoms = Atoms(numbers=numbers[col("type")[:, 0].astype(int) - 1], positions=col("x", "y", "z") - origin,
                      cell=cell, pbc=pbc)
        atoms.arrays["forces"] = col("fx", "fy", "fz")
        atoms.info["step"] = step
        frames.append(atoms)
        k += 9 + natoms
    return frames


def _box(rows, *, triclinic: bool):
    """LAMMPS dump box (bounding box + tilts for triclinic cells) -> (cell, origin)."""
    if not triclinic:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = (r[:2] for r in rows)
        xy = xz = yz = 0.0
    else:
        (xlo, xhi, xy), (ylo, yhi, xz), (zlo, zhi, yz) = rows
        xlo, xhi = xlo - min(0.0, xy, xz, xy + xz), xhi - max(0.0, xy, xz, xy + xz)
        ylo, yhi = ylo - min(0.0, yz), yhi - max(0.0, yz)
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]], dtype=float)
    return cell, np.array([xlo, ylo, zlo])


_LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms")


def _loop_time(log: Path):
    """(seconds, steps) of the last ``Loop time`` line of a LAMMPS log."""
    hits = _LOOP.findall(log.read_text()) if log.is_file() else []
    return (float(hits[-1][0]), int(hits[-1][1])) if hits else (None, None)


def stability_problems(thermo: Dict[str, np.ndarray], *, natoms: int, temp: float, protocol: str,
                       steps: int, explode_temp_factor: float = 5.0, explode_pe: float = 1.0) -> List[str]:
    """Why a finished run is not physically sane: NaN, lost atoms, runaway temperature or
    potential energy, or a run that stopped early. Empty when it looks fine."""
    problems = []
    for name in ("Temp", "PotEng", "TotEng", "Press"):
        if name in thermo and not np.all(np.isfinite(thermo[name])):
            problems.append(f"{name} became NaN/inf")
    if "Atoms" in thermo and np.any(thermo["Atoms"] != natoms):
        problems.append(f"lost atoms ({int(thermo['Atoms'].min())} of {natoms} left)")
    if protocol != "minimize" and "Temp" in thermo and len(thermo["Temp"]):
        hot = np.nanmax(thermo["Temp"])
        if hot > explode_temp_factor * max(temp, 1.0):
            problems.append(f"exploded: temperature reached {hot:.0f} K (> {explode_temp_factor:g} x {temp:g} K)")
    if "PotEng" in thermo and len(thermo["PotEng"]) > 1:
        rise = (np.nanmax(thermo["PotEng"]) - thermo["PotEng"][0]) / natoms
        if rise > explode_pe:
            problems.append(f"exploded: potential energy rose {rise:.2f} eV/atom (> {explode_pe:g})")
    if protocol != "minimize" and "Step" in thermo and len(thermo["Step"]) and thermo["Step"][-1] < steps:
        problems.append(f"stopped at step {int(thermo['Step'][-1])} of {steps}")
    return problems


def run_protocol(
    *,
    model: Model,
    protocol: str,
    script: str,
    workdir: Path,
    data: Path,
    elements: Sequence[str],
    natoms: int,
    variables: Dict[str, object],
    nprocs: int = 1,
    timeout: float = 1800,
    progress=None,
    explode_temp_factor: float = 5.0,
) -> Run:
    """Run ``script`` (the text of the protocol's input) with ``model`` in ``workdir``.

    Args:
        model: the force field; its lines are written to ``workdir/potential.in``.
        protocol: ``minimize``, ``nve``, ``nvt`` or ``npt`` (decides the stability checks).
        data: LAMMPS data file of the starting structure.
        elements: element of each atom type.
        natoms: number of atoms (lost-atom check, speed).
        variables: the input's other variables (temp, steps, dt, seed, every, ...).
        nprocs: MPI ranks for students and classical teachers (a Python teacher uses one).
        timeout: seconds before a subprocess run is abandoned as hung.
        progress: a tqdm-like bar advanced per teacher step (Python teacher only).
        explode_temp_factor: temperature above this x ``temp`` counts as an explosion.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("dump.lammpstrj", "log.lammps"):
        (workdir / stale).unlink(missing_ok=True)
    (workdir / "potential.in").write_text("\n".join(model.lines) + "\n")
    var = {**variables, "potential": "potential.in", "data": str(Path(data).resolve()), "elements": " ".join(elements)}
    run = Run(model=model.label, protocol=protocol, workdir=workdir, natoms=natoms)
    start = time.perf_counter()
    run.error = _execute(model, script, workdir=workdir, variables=var, elements=elements, nprocs=nprocs,
                         timeout=timeout, progress=progress)
    run.wall_seconds = time.perf_counter() - start
    _read_outputs(run, elements)
    if run.thermo:
        run.unstable = stability_problems(run.thermo, natoms=natoms, temp=float(variables.get("temp", 300)),
                                          protocol=protocol, steps=int(variables.get("steps", 0)),
                                          explode_temp_factor=explode_temp_factor)
    for atoms in run.frames:
        if not np.all(np.isfinite(atoms.positions)) or not np.all(np.isfinite(atoms.arrays["forces"])):
            run.unstable.append("NaN in dumped positions or forces")
            break
    return run


def _execute(model: Model, script: str, *, workdir: Path, variables: Dict[str, object], elements: Sequence[str],
             nprocs: int, timeout: float, progress) -> Optional[str]:
    """Run the input: a Python teacher in this process, anything else as ``lmp``; returns why
    the run failed, or None."""
    if model.kind == "python":
        last = [0]

        def advance(step: int) -> None:
            if progress is not None and step > last[0]:
                progress.update(step - last[0])
                last[0] = step

        fix = TeacherFix(teacher=model.teacher, elements=elements, on_step=advance)
        out = run_inprocess(script=script, workdir=workdir, variables=variables, teacher_fix=fix)
        return fix.error or out["error"]
    try:
        res = run_lammps(script, workdir=workdir, nprocs=nprocs, variables=variables, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"lmp did not finish within {timeout:.0f} s"
    if res.returncode != 0:
        return res.error or f"lmp exited with code {res.returncode}: {res.output.strip()[-400:]}"
    return None


def _read_outputs(run: Run, elements: Sequence[str]) -> None:
    """Thermo table, dumped frames and loop timing of a finished run; the first problem found
    becomes ``run.error`` unless the run already had one."""
    workdir = run.workdir
    log = workdir / "log.lammps"
    try:
        run.thermo = read_thermo(log)
    except (ValueError, FileNotFoundError, IndexError) as exc:
        run.error = run.error or f"no thermo output: {exc}"
    missing = [c for c in THERMO_COLUMNS if run.thermo and c not in run.thermo]
    if missing and run.error is None:
        run.error = f"thermo lacks columns {missing}; use thermo_style custom {' '.join(c.lower() for c in THERMO_COLUMNS)}"
    if (workdir / "dump.lammpstrj").is_file():
        try:
            run.frames = read_dump_frames(workdir / "dump.lammpstrj", elements)
        except (ValueError, IndexError) as exc:
            run.error = run.error or f"unreadable dump.lammpstrj: {exc}"
    elif run.error is None:
        run.error = "the input wrote no dump.lammpstrj"
    run.loop_seconds, run.loop_steps = _loop_time(log)


def md_every(steps: int) -> int:
    """Thermo/dump interval: about 20 samples per run, never 0."""
    return max(1, int(math.ceil(steps / 20)))
