"""A round's exploration: the current student drives MD in LAMMPS with its per-atom
uncertainty on (``pair_style student FILE uncertainty yes every STRIDE``); every ``stride``
steps a snapshot is kept with the largest atom uncertainty of that step. A trajectory whose
uncertainty passes ``stop`` (the student is lost: a blow-up is starting) ends there, and the
snapshots before it are kept; so does one LAMMPS stops with an error (atoms lost)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable, List

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from ..calculator import StudentCalculator
from ..data.lammps_md import Driver, md_script, open_lammps, snapshot, write_data
from .starts import Start


def _uncertainty_lines(student: Path, elements: List[str], stride: int) -> tuple:
    return (f"pair_style student {student.resolve()} uncertainty yes every {stride}",
            f"pair_coeff * * {' '.join(elements)}",
            "compute unc all pair student", "variable umax equal c_unc[1]",
            f"thermo {stride}", "thermo_style custom step temp pe v_umax",
            "thermo_modify lost error")


def _trajectory(student: Path, start: Start, temp: float, pres: float, *, steps: int, stride: int,
                stop: float, seed: int) -> List[Atoms]:
    atoms = start.atoms
    elements = sorted(set(atoms.get_chemical_symbols()), key=lambda e: atomic_numbers[e])
    frames: List[Atoms] = []
    with tempfile.TemporaryDirectory(prefix="explore-") as tmp:
        data = Path(tmp) / "data.lmp"
        periodic, triclinic = write_data(atoms, data, elements)
        lmp = open_lammps(Driver(f"student:{student}"))
        numbers = np.array([atomic_numbers[e] for e in elements])
        try:
            lmp.commands_string(md_script(periodic=periodic, temp=temp, pres=pres, triclinic=triclinic, dt_fs=1.0,
                                          equilibrate=0, seeds=[seed + 1, seed + 2],
                                          ff_lines=_uncertainty_lines(student, elements, stride), data=data))
            # step 0 counts too: a start the student cannot handle (an interstitial it never saw)
            # may pass the stop at its first snapshot, and would otherwise teach nothing
            for k in range(steps // stride + 1):
                if k:
                    lmp.command(f"run {stride} pre {'yes' if k == 1 else 'no'} post no")
                umax = float(lmp.extract_variable("umax"))
                if not np.isfinite(umax) or (k and umax > stop):
                    break
                frame = snapshot(lmp, numbers)
                frame.pbc = atoms.pbc
                frame.info.update({"explore": start.kind, "temperature": temp, "pressure": pres,
                                   "step": k * stride, "uncertainty_max": umax})
                frames.append(frame)
        except Exception:  # noqa: BLE001 -- LAMMPS stops a lost trajectory with a bare Exception
            pass  # the trajectory ends here; its earlier snapshots were sane and are kept
        finally:
            lmp.close()
    return frames


def _static(student: Path, start: Start) -> List[Atoms]:
    frame = start.atoms.copy()
    frame.calc = StudentCalculator(student, uncertainty=True)
    frame.get_potential_energy()
    umax = float(np.max(frame.calc.results["uncertainty"]))
    frame.calc = None
    # kept past the stop, like a trajectory's first snapshot: a frame the student cannot handle
    # is what the teacher should label
    if not np.isfinite(umax):
        return []
    frame.info.update({"explore": start.kind, "temperature": 0.0, "pressure": 0.0, "step": 0,
                       "uncertainty_max": umax})
    return [frame]


def explore(student: Path, starts: Iterable[Start], *, steps: int, stride: int, stop: float, seed: int,
            progress=None) -> List[Atoms]:
    """Every snapshot of every start's trajectories, each with ``info["uncertainty_max"]``."""
    frames: List[Atoms] = []
    for n, start in enumerate(starts):
        if start.static:
            frames += _static(student, start)
        else:
            for m, (temp, pres) in enumerate((t, p) for t in start.temperatures for p in start.pressures):
                frames += _trajectory(student, start, temp, pres, steps=steps, stride=stride, stop=stop,
                                      seed=seed + 1000 * n + 10 * m)
        if progress is not None:
            progress.update(1)
    return frames
