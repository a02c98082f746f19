"""The properties a user checks first, computed with the teacher and each student on the same
inputs: a student whose test-split errors look fine can still have the wrong lattice constant,
stiffness, defect energy or vibrational spectrum, and that is what shows in production MD.

Crystals (``pbc`` all true):

* E-V curve: ``EOS_POINTS`` isotropic scalings of the input cell spanning +-``EOS_STRAIN`` in
  volume, atoms at their scaled (unrelaxed) positions, fitted with Birch-Murnaghan. Gives the
  equilibrium lattice constant as a ratio to the input cell's (``lattice_ratio``) and the bulk
  modulus in GPa.
* Vacancy formation energy: one atom (the first one of ``vacancy_element``, by default the
  element of atom 0, i.e. Ga in the GaN demo) removed from the input cell, positions relaxed at
  fixed cell (BFGS to ``VACANCY_FMAX``, at most ``VACANCY_STEPS`` steps);
  ``E_f = E_vac - (N-1)/N * E_bulk``, both at the input cell. For a compound this is the energy
  relative to the bulk per atom, not a chemical-potential-referenced value; it still compares
  teacher and student like for like.

Molecules (``pbc`` all false):

* Relaxed geometry: the teacher relaxes the input (BFGS to ``MOLECULE_FMAX``), each student
  relaxes from the teacher's minimum; the student's structure is compared with the teacher's
  after optimal rotation (Kabsch) as an RMSD, and bond by bond (bonds found on the teacher's
  structure with ASE's natural cutoffs).
* Vibrational frequencies: a central finite-difference Hessian of each model at its own minimum;
  the modes above ``FREQ_MIN_CM`` of the teacher are compared, sorted, with the student's as many
  highest ones, as a mean absolute relative error.

Every number is compared with the teacher's against :data:`TOLERANCES`.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from ase import Atoms, units
from ase.eos import EquationOfState
from ase.optimize import BFGS

from ..calculator import StudentCalculator
from ..teachers import get_teacher
from ..data.structures import demo_structure
from . import ValidationError, _labels, _structure, _system_name
from .compare import bond_pairs
from .report import write_outputs

EOS_POINTS = 7
EOS_STRAIN = 0.06  # +-6 % in volume: wide enough for a stable fit, narrow enough to stay harmonic-ish
VACANCY_FMAX = 0.05  # eV/A
VACANCY_STEPS = 150
MOLECULE_FMAX = 0.01  # eV/A; tighter than the vacancy: a loose minimum shifts the soft modes
MOLECULE_STEPS = 300
HESSIAN_DELTA = 0.01  # A
FREQ_MIN_CM = 100.0  # below this are near-zero rigid-body modes and numerical noise

#: name -> (tolerance, how the student's value is compared with the teacher's, unit, meaning)
TOLERANCES: Dict[str, tuple] = {
    "lattice_ratio": (0.005, "relative", "", "equilibrium lattice constant / input lattice constant"),
    "bulk_modulus_GPa": (0.10, "relative", "GPa", "Birch-Murnaghan bulk modulus"),
    "vacancy_energy_eV": (0.15, "absolute", "eV", "relaxed vacancy formation energy"),
    "geometry_rmsd_A": (0.02, "value", "A", "RMSD of the relaxed molecule vs the teacher's, after alignment"),
    "bond_length_max_dev_A": (None, "value", "A", "largest bond-length difference (report only)"),
    "frequency_mare": (0.03, "value", "", f"mean absolute relative error of frequencies > {FREQ_MIN_CM:.0f} cm-1"),
}


def _energy(calc, atoms: Atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def equation_of_state(calc, atoms: Atoms, *, points: int = EOS_POINTS, strain: float = EOS_STRAIN) -> dict:
    """E-V curve and Birch-Murnaghan fit; volumes and energies per atom."""
    n, v_in = len(atoms), atoms.get_volume()
    volumes, energies = [], []
    for f in np.linspace(1.0 - strain, 1.0 + strain, points):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell * f ** (1.0 / 3.0), scale_atoms=True)
        volumes.append(scaled.get_volume())
        energies.append(_energy(calc, scaled))
    out = {"volumes": [v / n for v in volumes], "energies": [e / n for e in energies],
           "lattice_ratio": None, "bulk_modulus_GPa": None, "v0": None, "e0": None, "error": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a minimum outside the range is reported below instead
            v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    except (RuntimeError, ValueError) as exc:  # no minimum inside the range: the student is far off
        out["error"] = f"EOS fit failed: {exc}"
        return out
    if not (min(volumes) <= v0 <= max(volumes)) or not math.isfinite(b):
        out["error"] = f"EOS minimum V0={v0:.3f} A^3 is outside the sampled range"
    out.update(lattice_ratio=float((v0 / v_in) ** (1.0 / 3.0)), bulk_modulus_GPa=float(b / units.GPa),
               v0=float(v0 / n), e0=float(e0 / n))
    return out


def _relax(calc, atoms: Atoms, fmax: float, steps: int) -> tuple[Atoms, bool, int]:
    atoms = atoms.copy()
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    return atoms, converged, int(opt.nsteps)


def vacancy_energy(calc, atoms: Atoms, *, element: Optional[str] = None) -> dict:
    """Relaxed vacancy formation energy at the input cell."""
    symbols = atoms.get_chemical_symbols()
    element = element or symbols[0]
    index = symbols.index(element)
    n, e_bulk = len(atoms), _energy(calc, atoms)
    defect = atoms.copy()
    del defect[index]
    relaxed, converged, steps = _relax(calc, defect, VACANCY_FMAX, VACANCY_STEPS)
    e_vac = float(relaxed.get_potential_energy())
    return {"vacancy_energy_eV": e_vac - (n - 1) / n * e_bulk, "element": element, "index": index,
            "converged": converged, "steps": steps}


def _kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD of ``a`` onto ``b`` after removing translation and the best rotation."""
    a, b = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))  # a reflection is not a rigid motion
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(((a @ rot - b) ** 2).sum(1).mean()))


def frequencies(calc, atoms: Atoms, *, delta: float = HESSIAN_DELTA) -> List[float]:
    """Harmonic frequencies in cm-1 (imaginary ones negative), from central differences of forces."""
    n = len(atoms)
    work = atoms.copy()
    work.calc = calc
    hessian = np.empty((3 * n, 3 * n))
    for i in range(n):
        for k in range(3):
            row = []
            for sign in (1, -1):
                disp = atoms.positions.copy()
                disp[i, k] += sign * delta
                work.positions = disp
                row.append(work.get_forces().ravel())
            hessian[3 * i + k] = -(row[0] - row[1]) / (2 * delta)
    hessian = 0.5 * (hessian + hessian.T)
    inv_sqrt_m = np.repeat(atoms.get_masses() ** -0.5, 3)
    eig = np.linalg.eigvalsh(hessian * inv_sqrt_m[:, None] * inv_sqrt_m[None, :])
    # eV/(A^2 amu) -> hbar*omega in eV -> cm-1, as ase.vibrations does it
    s = units._hbar * 1e10 / math.sqrt(units._e * units._amu)
    return [float(np.sign(x) * s * math.sqrt(abs(x)) / units.invcm) for x in eig]


def molecule_properties(calc, atoms: Atoms) -> dict:
    relaxed, converged, steps = _relax(calc, atoms, MOLECULE_FMAX, MOLECULE_STEPS)
    return {"positions": relaxed.positions.tolist(), "converged": converged, "steps": steps,
            "frequencies_cm": frequencies(calc, relaxed)}


def _bonds(atoms: Atoms) -> List[tuple]:
    i, j, _ = bond_pairs(atoms, 1.0)
    return sorted((int(a), int(b)) for a, b in zip(i, j))


def _bond_lengths(positions, bonds: List[tuple]) -> List[float]:
    pos = np.asarray(positions)
    return [float(np.linalg.norm(pos[i] - pos[j])) for i, j in bonds]


def _check(name: str, teacher_value, student_value) -> dict:
    """One student's value of one property against the teacher's and the tolerance."""
    tol, how = TOLERANCES[name][:2]
    if student_value is None or teacher_value is None or not math.isfinite(student_value):
        return {"value": student_value, "difference": None, "pass": False if tol is not None else None}
    if how == "value":  # the value already is the deviation from the teacher
        diff = dev = float(student_value)
    else:
        diff = float(student_value - teacher_value)
        dev = abs(diff) / abs(teacher_value) if how == "relative" and teacher_value else abs(diff)
    return {"value": float(student_value), "difference": diff,
            "pass": None if tol is None else bool(dev <= tol)}


def _crystal_values(data: dict) -> Dict[str, Optional[float]]:
    return {"lattice_ratio": data["eos"]["lattice_ratio"], "bulk_modulus_GPa": data["eos"]["bulk_modulus_GPa"],
            "vacancy_energy_eV": data["vacancy"]["vacancy_energy_eV"]}


def _molecule_values(atoms: Atoms, teacher: dict, data: dict) -> Dict[str, Optional[float]]:
    """Deviations of one model's relaxed molecule and spectrum from the teacher's."""
    bonds = _bonds(Atoms(atoms.numbers, positions=teacher["positions"]))
    t_len = _bond_lengths(teacher["positions"], bonds)
    s_len = _bond_lengths(data["positions"], bonds)
    t_freq = sorted(f for f in teacher["frequencies_cm"] if f > FREQ_MIN_CM)
    s_freq = sorted(data["frequencies_cm"])[-len(t_freq):] if t_freq else []
    data["bonds"] = [[i, j, a, b] for (i, j), a, b in zip(bonds, t_len, s_len)]
    data["compared_frequencies_cm"] = [[t, s] for t, s in zip(t_freq, s_freq)]
    mare = float(np.mean([abs(s - t) / t for t, s in zip(t_freq, s_freq)])) if t_freq else None
    return {"geometry_rmsd_A": _kabsch_rmsd(np.array(data["positions"]), np.array(teacher["positions"])),
            "bond_length_max_dev_A": float(max((abs(a - b) for a, b in zip(t_len, s_len)), default=0.0)),
            "frequency_mare": mare}


def _compute(calc, atoms: Atoms, periodic: bool, vacancy_element: Optional[str]) -> dict:
    if periodic:
        return {"eos": equation_of_state(calc, atoms), "vacancy": vacancy_energy(calc, atoms, element=vacancy_element)}
    return molecule_properties(calc, atoms)


def _notes(models: Mapping[str, dict]) -> List[str]:
    """Why a value is missing or less trustworthy: a property that cannot be computed fails."""
    notes = []
    for label, d in models.items():
        if d.get("eos", {}).get("error"):
            notes.append(f"{label}: {d['eos']['error']}")
        relax = d.get("vacancy", d)
        if not relax.get("converged", True):
            notes.append(f"{label}: relaxation not converged in {relax['steps']} steps")
    return notes


def _system_atoms(system) -> tuple[str, Atoms]:
    if isinstance(system, Atoms):
        return str(system.info.get("system") or system.get_chemical_formula()), system.copy()
    return str(system), demo_structure(str(system))


def property_report(teacher_calc, students: Mapping[str, object], system, *,
                    vacancy_element: Optional[str] = None) -> dict:
    """Properties of the teacher and each student on ``system`` (a demo name or an Atoms: a
    fully periodic crystal or a molecule with ``pbc`` false), each student checked against the
    teacher with :data:`TOLERANCES`. JSON-serialisable."""
    name, atoms = _system_atoms(system)
    if all(atoms.pbc):
        periodic = True
    elif not any(atoms.pbc):
        periodic = False
    else:
        raise ValueError("mixed periodicity is not supported: use a fully periodic cell or a molecule")
    teacher = _compute(teacher_calc, atoms, periodic, vacancy_element)
    start = atoms.copy()
    if not periodic:
        # students relax from the teacher's minimum: from the common input the optimiser's path
        # depends on the model's stiffness and can end in another conformer of a flat landscape,
        # which would blame the optimiser; this asks whether the teacher's minimum is the student's
        start.positions = np.array(teacher["positions"])
    data = {s: _compute(calc, start, periodic, vacancy_element) for s, calc in students.items()}
    t_values = _crystal_values(teacher) if periodic else {"geometry_rmsd_A": 0.0, "bond_length_max_dev_A": 0.0,
                                                          "frequency_mare": 0.0}
    s_values = {s: _crystal_values(d) if periodic else _molecule_values(atoms, teacher, d) for s, d in data.items()}
    properties = []
    for prop, t_value in t_values.items():
        tol, how, unit, meaning = TOLERANCES[prop]
        properties.append({"property": prop, "unit": unit, "tolerance": tol, "compare": how, "meaning": meaning,
                           "teacher": t_value, "students": {s: _check(prop, t_value, v[prop])
                                                            for s, v in s_values.items()}})
    verdicts = {s: all(p["students"][s]["pass"] is not False for p in properties) for s in students}
    return {"system": name, "kind": "crystal" if periodic else "molecule", "natoms": len(atoms),
            "symbols": atoms.get_chemical_symbols(), "properties": properties, "students_passed": verdicts,
            "notes": _notes({"teacher": teacher, **data}),
            "passed": all(verdicts.values()), "teacher_data": teacher, "student_data": data,
            "settings": {"eos_points": EOS_POINTS, "eos_strain": EOS_STRAIN, "vacancy_fmax": VACANCY_FMAX,
                         "vacancy_steps": VACANCY_STEPS, "molecule_fmax": MOLECULE_FMAX,
                         "hessian_delta": HESSIAN_DELTA, "freq_min_cm": FREQ_MIN_CM}}


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def property_table(report: dict) -> str:
    """Markdown table: one row per property and student."""
    rows = [f"### {report['system']} ({report['kind']}, {report['natoms']} atoms)", "",
            "| property | teacher | student | value | difference | tolerance | pass |", "|---|---|---|---|---|---|---|"]
    for p in report["properties"]:
        tol = "report only" if p["tolerance"] is None else f"{p['tolerance']:g} ({p['compare']})"
        for s, r in p["students"].items():
            verdict = {True: "PASS", False: "FAIL", None: "-"}[r["pass"]]
            rows.append(f"| {p['property']} | {_fmt(p['teacher'])} | {s} | {_fmt(r['value'])} | "
                        f"{_fmt(r['difference'])} | {tol} | {verdict} |")
    notes = report.get("notes") or []
    return "\n".join(rows + ([""] + [f"- {n}" for n in notes] if notes else []))


def _plot_eos(ax, report: dict) -> None:
    models = {"teacher": report["teacher_data"], **report["student_data"]}
    for k, (label, data) in enumerate(models.items()):
        eos = data["eos"]
        v, e = np.array(eos["volumes"]), np.array(eos["energies"])
        # each model relative to its own minimum: absolute energies of teacher and students differ
        # by a constant that says nothing about the curve
        line, = ax.plot(v, (e - e.min()) * 1000, "o-" if k else "ks-", label=label, lw=2.5 if not k else 1.2)
        if eos["v0"] is not None:
            ax.axvline(eos["v0"], color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel("volume (A^3/atom)")
    ax.set_ylabel("E - E_min (meV/atom)")
    ax.set_title(f"{report['system']}: E-V curves (dotted: fitted V0)")
    ax.legend(fontsize=8)


def _plot_frequencies(ax, report: dict) -> None:
    top = 0.0
    for label, data in report["student_data"].items():
        pairs = np.array(data.get("compared_frequencies_cm") or np.zeros((0, 2)))
        if len(pairs):
            ax.plot(pairs[:, 0], pairs[:, 1], "o", label=label, ms=5)
            top = max(top, float(pairs.max()))
    ax.plot([0, top * 1.05], [0, top * 1.05], "k--", lw=0.8)
    ax.set_xlabel("teacher frequency (cm-1)")
    ax.set_ylabel("student frequency (cm-1)")
    ax.set_title(f"{report['system']}: frequencies > {FREQ_MIN_CM:.0f} cm-1")
    ax.legend(fontsize=8)


def write_property_report(report: dict, out_dir) -> Dict[str, Path]:
    """``properties.json``, ``properties.md`` and ``properties.png`` in ``out_dir`` (atomic writes)."""

    def figure(plt):
        fig, ax = plt.subplots(figsize=(6, 4.5))
        (_plot_eos if report["kind"] == "crystal" else _plot_frequencies)(ax, report)
        return fig

    return write_outputs(out_dir, "properties", report, property_table(report), figure, dpi=90)


def calculator_for_teacher(teacher, *, device: str = "cpu"):
    """An ASE calculator for a teacher spec: a registry name, ``student:FILE`` or a calculator."""
    if not isinstance(teacher, str):
        return teacher
    if teacher.startswith("student:"):
        path = Path(teacher.split(":", 1)[1])
        if not path.is_file():
            raise ValidationError(f"teacher student file {str(path)!r} does not exist")
        return StudentCalculator(path, device=device)
    try:
        return get_teacher(teacher, device=device).calculator()
    except (ImportError, ValueError, FileNotFoundError, RuntimeError, NotImplementedError) as exc:
        raise ValidationError(f"teacher {teacher!r} is not available: {exc}") from exc


def validate_properties(*, teacher, students: Sequence, structure, out, device: str = "cpu") -> dict:
    """The property report of student files against ``teacher`` on ``structure`` (demo name or
    file), written to ``out/<system>/properties.*`` like the rest of ``pair-student validate``."""
    start = time.perf_counter()
    atoms = _structure(structure)
    system = _system_name(structure, atoms)
    atoms.info["system"] = system
    paths = [Path(p) for p in students]
    calcs = {label: StudentCalculator(p, device=device) for p, label in _labels(paths).items()}
    report = property_report(calculator_for_teacher(teacher, device=device), calcs, atoms)
    report["teacher"] = teacher if isinstance(teacher, str) else type(teacher).__name__
    report["wall_s"] = time.perf_counter() - start
    report["files"] = {k: str(v) for k, v in write_property_report(report, Path(out) / system).items()}
    return report


__all__ = ["TOLERANCES", "property_report", "write_property_report", "property_table", "equation_of_state",
           "vacancy_energy", "frequencies", "molecule_properties", "validate_properties", "calculator_for_teacher"]
