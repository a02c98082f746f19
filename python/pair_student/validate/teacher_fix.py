"""The teacher inside LAMMPS: the force-field lines each model gets, and a Python teacher
evaluated through ``fix external`` in the same LAMMPS process.

Every validation run executes the *same* input file; only the file named by the ``potential``
variable differs (:func:`potential_lines`):

* a student:          ``pair_style student FILE`` + ``pair_coeff * * ELEMENTS``
* a classical teacher: its own pair style (``pair_style sw`` + ``pair_coeff * * Si.sw Si``)
* a Python teacher:   ``pair_style zero`` (neighbour lists only) + ``fix teacher all external
  pf/callback 1 1``; :class:`TeacherFix` then evaluates the teacher on the current atoms each
  step and hands LAMMPS forces, energy and virial, so teacher and students share integrator,
  thermostat, neighbour settings and input.

``fix external`` callbacks see only the atoms local to an MPI rank and the teacher wants the
whole structure, so the Python-teacher path runs on a single rank (the students may use more).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from ..runtime.plugin import open_lammps

FIX_ID = "teacher"

# Lines that pull in the force field: the validator registers the teacher callback right after
# the first one, because fix external refuses to run before a callback is set.
_POTENTIAL_REF = re.compile(r"\$\{potential\}|\$\(.*is_defined\(\s*variable\s*,\s*potential\s*\).*\)|\bv_potential\b")


def student_lines(*, model: str | os.PathLike, elements: Sequence[str]) -> List[str]:
    """Force-field lines for a student file, types mapped to ``elements`` in order."""
    return [f"pair_style student {Path(model).resolve()}", f"pair_coeff * * {' '.join(elements)}"]


def classical_lines(*, pair_style: str, pair_coeff: str) -> List[str]:
    """Force-field lines of a classical teacher (``pair_coeff`` without the ``pair_coeff``)."""
    return [f"pair_style {pair_style}", f"pair_coeff {pair_coeff}"]


def python_teacher_lines(*, cutoff: float = 3.0) -> List[str]:
    """Force-field lines of a Python teacher: a zero pair style so LAMMPS still builds
    neighbour lists and ghosts as for the students, plus the fix that calls the teacher.
    ``energy yes virial yes`` makes thermo ``pe``/``press`` and the barostat include it."""
    return [
        f"pair_style zero {cutoff:g}",
        "pair_coeff * *",
        f"fix {FIX_ID} all external pf/callback 1 1",
        f"fix_modify {FIX_ID} energy yes virial yes",
    ]


def split_at_potential(text: str) -> tuple[str, str]:
    """Split an input after the first top-level line that includes ``${potential}``.

    Continuation lines (``&``) count as one line. Raises ``ValueError`` when the input never
    uses the ``potential`` variable.
    """
    lines = text.splitlines(keepends=True)
    logical, buf = [], ""
    for line in lines:
        buf += line
        if line.rstrip().endswith("&"):
            continue
        logical.append(buf)
        buf = ""
    if buf:
        logical.append(buf)
    for k, line in enumerate(logical):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("if") else line
        if _POTENTIAL_REF.search(code):
            return "".join(logical[: k + 1]), "".join(logical[k + 1 :])
    raise ValueError("the input never includes ${potential}; see the header of lammps_inputs/nvt.in")


def _cell_from_box(box) -> tuple[np.ndarray, np.ndarray, List[bool]]:
    """(cell, origin, pbc) from ``lammps.extract_box()``; LAMMPS' triclinic convention is
    a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz)."""
    boxlo, boxhi, xy, yz, xz, periodicity, _ = box
    lx, ly, lz = (hi - lo for hi, lo in zip(boxhi, boxlo))
    cell = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    return cell, np.asarray(boxlo, dtype=float), [bool(p) for p in periodicity]


class TeacherFix:
    """Evaluate a teacher on LAMMPS' current atoms from a ``fix external`` callback.

    Args:
        teacher: a :class:`pair_student.teachers.Teacher` (``compute(atoms)`` returns energy,
            forces and stress) or any object with that method.
        elements: element of each LAMMPS atom type, in type order.
        fix_id: ID of the ``fix external`` in the input.
        on_step: called with the timestep after each evaluation (progress bars).
    """

    def __init__(
        self,
        *,
        teacher,
        elements: Sequence[str],
        fix_id: str = FIX_ID,
        on_step: Optional[Callable[[int], None]] = None,
    ) -> None:
        self.teacher = teacher
        self.numbers = np.array([atomic_numbers[e] for e in elements])
        self.fix_id = fix_id
        self.on_step = on_step
        self.error: Optional[str] = None
        self.lmp = None

    def attach(self, lmp) -> None:
        """Register the callback on a LAMMPS instance whose input defined the fix."""
        if not lmp.has_id("fix", self.fix_id):
            raise RuntimeError(f"the potential lines did not define fix {self.fix_id!r} (fix external)")
        self.lmp = lmp
        lmp.set_fix_external_callback(self.fix_id, self._callback, None)

    def atoms(self, nlocal: int, x: np.ndarray) -> Atoms:
        """The local atoms as an ASE ``Atoms`` in LAMMPS' local order (the callback's order)."""
        cell, origin, pbc = _cell_from_box(self.lmp.extract_box())
        types = np.asarray(self.lmp.numpy.extract_atom("type"))[:nlocal]
        # Shift to the box origin: energies are translation invariant, ASE wants cell at 0.
        return Atoms(numbers=self.numbers[types - 1], positions=np.array(x[:nlocal]) - origin, cell=cell, pbc=pbc)

    def _callback(self, caller, ntimestep, nlocal, tag, x, f) -> None:
        # ctypes prints and swallows exceptions raised in a callback, so LAMMPS would go on with
        # zero forces: remember the first error, skip later evaluations, report it after the run.
        if self.error is not None:
            return
        try:
            self._evaluate(ntimestep, nlocal, x, f)
        except Exception as exc:  # any teacher failure must surface, whatever its type
            self.error = f"teacher {getattr(self.teacher, 'name', '')} failed at step {ntimestep}: {type(exc).__name__}: {exc}"

    def _evaluate(self, ntimestep, nlocal, x, f) -> None:
        atoms = self.atoms(nlocal, x)
        out = self.teacher.compute(atoms)
        f[:nlocal] = np.asarray(out["forces"], dtype=float).reshape(nlocal, 3)
        self.lmp.fix_external_set_energy_global(self.fix_id, float(out["energy"]))
        stress = out.get("stress")
        if stress is not None and all(atoms.pbc):
            # ASE stress (Voigt xx yy zz yz xz xy, sign: -virial/V) -> LAMMPS virial in eV
            # in the order xx yy zz xy xz yz.
            s = -np.asarray(stress, dtype=float).reshape(6) * atoms.get_volume()
            self.lmp.fix_external_set_virial_global(self.fix_id, [s[0], s[1], s[2], s[5], s[4], s[3]])
        if self.on_step is not None:
            self.on_step(int(ntimestep))


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_inprocess(
    *,
    script: str,
    workdir: str | Path,
    variables: Mapping[str, object],
    teacher_fix: Optional[TeacherFix] = None,
) -> Dict[str, object]:
    """Run ``script`` in this process (one rank) with the Python teacher attached.

    The input runs in two parts: up to the line that includes ``${potential}``, then, once the
    callback is registered, the rest. Returns ``{"returncode", "error"}``; LAMMPS errors are
    caught and reported, never raised, like :func:`pair_student.runtime.runner.run_lammps`.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.lammps").write_text(script)
    head, rest = split_at_potential(script)
    args = ["-log", "log.lammps", "-screen", "none", "-nocite"]
    for name, value in variables.items():
        args += ["-var", name, str(value)]
    error = None
    with _cwd(workdir):
        lmp = open_lammps(args)
        try:
            lmp.commands_string(head)
            if teacher_fix is not None:
                teacher_fix.attach(lmp)
            lmp.commands_string(rest)
        except Exception as exc:  # LAMMPS raises a generic Exception carrying its ERROR line
            error = str(exc).strip() or type(exc).__name__
        finally:
            lmp.close()
    return {"returncode": 0 if error is None else 1, "error": error}
