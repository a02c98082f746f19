"""Hot, long MD stability: the student drives the trajectory, the teacher judges every snapshot.

The short NVE/NVT runs of ``pair-student validate`` start near the crystal and last ~50 steps, so
a student that is fine near its training data but has a hole in its energy surface further out
(atoms fall through into a dense, overbound "collapsed" phase) passes them. Here the student runs
NVT (Nose-Hoover: it rescales velocities only, so the dumped forces are the student's own) at a
temperature above anything it was sampled at, for picoseconds to nanoseconds, and ``snapshots``
frames spread evenly over the run are re-evaluated by the teacher (ASE).

Per snapshot: student and teacher energy per atom, their difference, force R2/RMSE, the
shortest interatomic distance, the mean coordination, and for molecules the bond topology. The
student fails at the first snapshot where any check of :data:`TOLERANCES` fails; a LAMMPS run that
dies (lost atoms, NaN) fails at the time of its last written snapshot.

Energy is compared offset-removed: ``dE = (E_s(t) - E_s(t1)) - (E_t(t) - E_t(t1))`` per atom,
``t1`` the first snapshot. Absolute energies of a student and its teacher may differ by a constant
(per-element reference energies, a shifted fit) that does no harm in MD; what breaks MD is the
student's energy *changing* differently along the path, e.g. falling into a collapsed phase the
teacher finds high in energy. The raw difference is reported too.
"""

from __future__ import annotations

import math
import re
import shlex
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ..contract import read_metadata
from ..runtime.runner import read_thermo, run_lammps
from ..scores import r2_score
from . import ValidationError, _check_lammps, _labels, _prepare, _structure, _system_name
from .properties import calculator_for_teacher
from .compare import bond_pairs
from .report import write_outputs
from .runs import read_dump_frames, write_data
from .teacher_fix import student_lines

#: name -> (tolerance, meaning). A snapshot fails when a value crosses its tolerance.
TOLERANCES: Dict[str, tuple] = {
    "force_r2": (0.9, "force R2 against the teacher below this"),
    "energy_diff": (0.1, "|dE| per atom (offset-removed at the first snapshot) above this, eV/atom"),
    "min_distance": (0.7, "shortest distance below this x the shortest distance at the start"),
    # a melt is legitimate at these temperatures (liquid Si has ~6 neighbours in this shell against
    # 4 in the crystal, +50 %); the collapse into a dense phase no teacher supports reaches ~10
    "coordination": (0.75, "mean coordination changed by more than this fraction (periodic only)"),
    "bonds": (None, "a starting bond stretched beyond BOND_STRETCH x its length, or a new bond formed (molecules)"),
}
COORD_FACTOR = 1.2  # coordination shell: this x the first-neighbour (shortest) distance at the start
BOND_FACTOR = 1.2  # a bond: a pair within this x the sum of covalent radii
BOND_STRETCH = 1.5  # a starting bond is broken beyond this x its starting length
DEFAULT_TEMPERATURE_K = 1200.0  # hottest of data/cli.py's default --temperatures 300,600,1200
TEMPERATURE_FACTOR = 1.5  # run this much hotter than the hottest sampled temperature
TDAMP_STEPS = 100  # Nose-Hoover damping in timesteps (LAMMPS' recommendation)
MIN_FORCE_SPREAD = 1e-3  # eV/A: below this RMS the teacher's forces carry no R2 signal


def sampled_temperature(student_path) -> float:
    """Hottest MD temperature the student's training data was sampled at, from the
    ``--temperatures`` of its provenance command, else the data stage's default."""
    try:
        command = (read_metadata(student_path).get("provenance") or {}).get("command") or ""
    except (OSError, ValueError):
        command = ""
    match = re.search(r"--temperatures[= ]\s*(\S+)", command)
    if match:
        try:
            return max(float(t) for t in shlex.split(match.group(1))[0].split(",") if t)
        except ValueError:
            pass  # an unparsable value: fall back to the default the data stage would have used
    return DEFAULT_TEMPERATURE_K


def default_temperature(student_path) -> float:
    return TEMPERATURE_FACTOR * sampled_temperature(student_path)


def _distances(atoms: Atoms, cutoff: float):
    return neighbor_list("ijd", atoms, cutoff)


def min_distance(atoms: Atoms, search: float = 6.0) -> float:
    """Shortest interatomic distance (images included); inf when none is within ``search``."""
    _, _, d = _distances(atoms, search)
    return float(d.min()) if len(d) else math.inf


def coordination(atoms: Atoms, cutoff: float) -> float:
    """Mean number of neighbours within ``cutoff``."""
    i, _, _ = _distances(atoms, cutoff)
    return len(i) / max(len(atoms), 1)


def bond_table(atoms: Atoms) -> Dict[tuple, float]:
    """``{(i, j): length}`` of pairs within BOND_FACTOR x the covalent-radius sum (i < j)."""
    return {(int(a), int(b)): float(x) for a, b, x in zip(*bond_pairs(atoms, BOND_FACTOR))}


def bond_changes(start: Dict[tuple, float], atoms: Atoms) -> List[str]:
    """Starting bonds stretched beyond BOND_STRETCH x their length, and bonds that were not there."""
    now = bond_table(atoms)
    problems = []
    for (i, j), length in start.items():
        d = now.get((i, j)) or float(atoms.get_distance(i, j, mic=any(atoms.pbc)))
        if d > BOND_STRETCH * length:
            problems.append(f"bond {i}-{j} broke ({length:.2f} -> {d:.2f} A)")
    problems += [f"new bond {i}-{j} ({d:.2f} A)" for (i, j), d in now.items() if (i, j) not in start]
    return problems


def structure_reference(atoms: Atoms) -> dict:
    """What the structural checks compare against: the starting structure's geometry."""
    d0 = min_distance(atoms)
    ref = {"min_distance": d0, "coord_cutoff": COORD_FACTOR * d0, "molecule": not any(atoms.pbc)}
    ref["coordination"] = coordination(atoms, ref["coord_cutoff"])
    ref["bonds"] = bond_table(atoms) if ref["molecule"] else {}
    return ref


def structure_checks(atoms: Atoms, ref: dict) -> dict:
    """Shortest distance, coordination and (molecules) bond changes of one snapshot, with the
    names of the checks that fail against ``ref`` (:func:`structure_reference`)."""
    out = {"min_distance": min_distance(atoms), "coordination": coordination(atoms, ref["coord_cutoff"]),
           "bond_problems": bond_changes(ref["bonds"], atoms) if ref["molecule"] else []}
    failed = []
    if out["min_distance"] < TOLERANCES["min_distance"][0] * ref["min_distance"]:
        failed.append(f"min_distance {out['min_distance']:.3f} A < {TOLERANCES['min_distance'][0]:g} x "
                      f"{ref['min_distance']:.3f} A")
    # in a molecule the first-neighbour shell is X-H only, so coordination says little there
    change = abs(out["coordination"] - ref["coordination"]) / ref["coordination"] if ref["coordination"] else 0.0
    if not ref["molecule"] and change > TOLERANCES["coordination"][0]:
        failed.append(f"coordination {out['coordination']:.2f} vs {ref['coordination']:.2f} at the start "
                      f"({change:+.0%} > {TOLERANCES['coordination'][0]:.0%})")
    if out["bond_problems"]:
        failed.append("bonds: " + "; ".join(out["bond_problems"][:3]))
    out["failed"] = failed
    return out


MD_SCRIPT = """units metal
atom_style atomic
boundary {boundary}
atom_modify map yes
read_data system.data
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
{pair_lines}
thermo_style custom step time temp pe atoms
thermo_modify format float %.12g lost error flush yes norm no
thermo {every}
velocity all create {temp} {seed} mom yes rot yes dist gaussian loop geom
timestep {dt}
dump traj all custom {every} dump.lammpstrj id type x y z fx fy fz
dump_modify traj sort id format float %.12g
fix nvt all nvt temp {temp} {temp} {tdamp}
run {steps}
"""


def run_student_md(student_path, atoms: Atoms, *, elements: Sequence[str], temperature: float, steps: int,
                   every: int, dt_ps: float, seed: int, workdir: Path, timeout: float = 86400) -> tuple:
    """Student NVT in LAMMPS; ``(frames, {step: PotEng}, error or None)``, frames from step ``every``
    on, each with the student's forces in ``arrays['forces']``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in ("dump.lammpstrj", "log.lammps"):
        (workdir / stale).unlink(missing_ok=True)
    write_data(atoms, workdir / "system.data", elements)
    script = MD_SCRIPT.format(boundary="p p p" if all(atoms.pbc) else "s s s",
                              pair_lines="\n".join(student_lines(model=student_path, elements=elements)),
                              every=every, temp=temperature, seed=seed, dt=dt_ps, steps=steps,
                              tdamp=TDAMP_STEPS * dt_ps)
    res = run_lammps(script, workdir=workdir, timeout=timeout)
    error = None if res.returncode == 0 else (res.error or f"lmp exited with code {res.returncode}")
    try:
        thermo = read_thermo(workdir / "log.lammps")
        energies = {int(s): float(e) for s, e in zip(thermo["Step"], thermo["PotEng"])}
    except (ValueError, FileNotFoundError, IndexError, KeyError):
        energies = {}
    frames = []
    if (workdir / "dump.lammpstrj").is_file():
        try:
            frames = read_dump_frames(workdir / "dump.lammpstrj", elements)
        except (ValueError, IndexError) as exc:  # a frame cut off mid-write by a crash
            error = error or f"unreadable dump: {exc}"
    return [f for f in frames if f.info["step"] > 0], energies, error


def _snapshot(frame: Atoms, e_student: Optional[float], teacher_calc, ref: dict, dt_ps: float) -> dict:
    n = len(frame)
    f_s = frame.arrays["forces"]
    atoms = frame.copy()
    atoms.calc = teacher_calc
    e_t, f_t = float(atoms.get_potential_energy()), atoms.get_forces()
    spread = float(np.sqrt(((f_t - f_t.mean(0)) ** 2).mean()))
    snap = {"step": int(frame.info["step"]), "time_ps": frame.info["step"] * dt_ps,
            "student_e_per_atom": None if e_student is None else e_student / n, "teacher_e_per_atom": e_t / n,
            "force_r2": r2_score(f_t, f_s) if spread > MIN_FORCE_SPREAD else None,
            "force_rmse": float(np.sqrt(((f_t - f_s) ** 2).mean())), "finite": bool(np.all(np.isfinite(f_s)))}
    snap.update(structure_checks(frame, ref))
    return snap


def _judge(snaps: List[dict]) -> None:
    """Offset-removed energy differences and each snapshot's failed checks (in place)."""
    first = next((s for s in snaps if s["student_e_per_atom"] is not None), None)
    r2_min, e_max = TOLERANCES["force_r2"][0], TOLERANCES["energy_diff"][0]
    for s in snaps:
        failed = list(s.pop("failed"))
        if s["student_e_per_atom"] is None or first is None:
            s["energy_diff"] = s["raw_energy_diff"] = None
        else:
            s["raw_energy_diff"] = s["student_e_per_atom"] - s["teacher_e_per_atom"]
            s["energy_diff"] = s["raw_energy_diff"] - (first["student_e_per_atom"] - first["teacher_e_per_atom"])
            if not abs(s["energy_diff"]) <= e_max:
                failed.insert(0, f"energy_diff {s['energy_diff']:+.3f} eV/atom (|dE| > {e_max:g})")
        if not s["finite"] or (s["force_r2"] is not None and not s["force_r2"] >= r2_min):
            failed.insert(0, f"force_r2 {s['force_r2']:.3f} < {r2_min:g}" if s["finite"] else "force_r2: NaN forces")
        s["failed"] = failed


def stability_report(student_path, teacher_calc, structure, *, temperature: Optional[float] = None,
                     time_ps: float = 10.0, timestep_fs: Optional[float] = None, snapshots: int = 20,
                     seed: int = 4928459, workdir) -> dict:
    """Run ``student_path`` in LAMMPS NVT at ``temperature`` (default :func:`default_temperature`)
    for ``time_ps`` on ``structure`` (Atoms, demo name or file) and judge ``snapshots`` evenly
    spaced frames with ``teacher_calc`` (an ASE calculator). JSON-serialisable."""
    start_wall = time.perf_counter()
    atoms = _prepare(_structure(structure))
    elements = list(read_metadata(student_path)["elements"])
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(elements))
    if unknown:
        raise ValidationError(f"{student_path} does not know {unknown}")
    temperature = float(temperature if temperature is not None else default_temperature(student_path))
    dt_ps = (timestep_fs or (0.5 if "H" in atoms.get_chemical_symbols() else 1.0)) / 1000.0
    snapshots = max(1, int(snapshots))
    every = max(1, int(round(time_ps / dt_ps / snapshots)))
    steps = every * snapshots
    ref = structure_reference(atoms)
    frames, energies, error = run_student_md(student_path, atoms, elements=elements, temperature=temperature,
                                             steps=steps, every=every, dt_ps=dt_ps, seed=seed, workdir=Path(workdir))
    snaps = [_snapshot(f, energies.get(f.info["step"]), teacher_calc, ref, dt_ps) for f in frames]
    _judge(snaps)
    failed = next((s for s in snaps if s["failed"]), None)
    if failed is not None:
        failed_at, reason = failed["time_ps"], "; ".join(failed["failed"])
    elif error is not None or len(snaps) < snapshots:
        # the run died: blame the last snapshot it wrote (0 when it wrote none)
        failed_at = snaps[-1]["time_ps"] if snaps else 0.0
        reason = f"LAMMPS run died after {len(snaps)} of {snapshots} snapshots: {error or 'no error message'}"
    else:
        failed_at, reason = None, None
    return {"student": str(student_path), "system": _system_name(structure, atoms), "natoms": len(atoms),
            "temperature_K": temperature, "time_ps": steps * dt_ps, "timestep_fs": dt_ps * 1000,
            "snapshots_requested": snapshots, "seed": seed, "passed": failed_at is None,
            "failed_at_ps": failed_at, "reason": reason, "lammps_error": error,
            "reference": {k: v for k, v in ref.items() if k != "bonds"} | {"nbonds": len(ref["bonds"])},
            "tolerances": {k: v[0] for k, v in TOLERANCES.items()}, "energy_diff": "offset-removed at first snapshot",
            "snapshots": snaps, "wall_s": time.perf_counter() - start_wall}


def _fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def stability_table(reports: Sequence[dict]) -> str:
    """Markdown: one row per student run, worst values over the snapshots."""
    rows = ["| system | student | T (K) | ps | min R2 | max abs dE (eV/atom) | min d / d0 | verdict |",
            "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        s = r["snapshots"]
        r2 = [x["force_r2"] for x in s if x["force_r2"] is not None]
        de = [abs(x["energy_diff"]) for x in s if x["energy_diff"] is not None]
        dmin = [x["min_distance"] / r["reference"]["min_distance"] for x in s]
        verdict = "PASS" if r["passed"] else f"FAIL at {r['failed_at_ps']:.3g} ps: {r['reason']}"
        rows.append(f"| {r['system']} | {r.get('label', Path(r['student']).stem)} | {r['temperature_K']:.0f} | "
                    f"{r['time_ps']:.3g} | {_fmt(min(r2, default=None))} | {_fmt(max(de, default=None))} | "
                    f"{_fmt(min(dmin, default=None))} | {verdict} |")
    return "\n".join(rows)


def _plot(report: dict, axes) -> None:
    s = report["snapshots"]
    t = [x["time_ps"] for x in s]
    ax_e, ax_r2, ax_d = axes
    ax_e.plot(t, [x["teacher_e_per_atom"] for x in s], "ks-", label="teacher")
    ax_e.plot(t, [np.nan if x["student_e_per_atom"] is None else x["student_e_per_atom"] for x in s], "o-",
              label="student")
    ax_e.set_ylabel("E (eV/atom)")
    ax_e.legend(fontsize=8)
    ax_r2.plot(t, [np.nan if x["force_r2"] is None else x["force_r2"] for x in s], "o-")
    ax_r2.axhline(TOLERANCES["force_r2"][0], color="r", ls=":")
    ax_r2.set_ylabel("force R2")
    ax_d.plot(t, [x["min_distance"] for x in s], "o-")
    ax_d.axhline(TOLERANCES["min_distance"][0] * report["reference"]["min_distance"], color="r", ls=":")
    ax_d.set_ylabel("shortest d (A)")
    for ax in axes:
        if report["failed_at_ps"] is not None:
            ax.axvline(report["failed_at_ps"], color="r", lw=0.8)
        ax.set_xlabel("time (ps)")
    ax_e.set_title(f"{report['system']} {report.get('label', '')} {report['temperature_K']:.0f} K: "
                   f"{'PASS' if report['passed'] else 'FAIL'}", fontsize=9)


def write_stability_report(report, out_dir) -> Dict[str, Path]:
    """``stability.json``, ``stability.md`` and ``stability.png`` in ``out_dir`` (atomic writes);
    ``report`` is one :func:`stability_report` or a list of them (one plot row each)."""
    reports = [report] if isinstance(report, dict) else list(report)

    def figure(plt):
        fig, axes = plt.subplots(len(reports), 3, figsize=(13, 3.2 * len(reports)), squeeze=False)
        for r, row in zip(reports, axes):
            _plot(r, row)
        return fig

    return write_outputs(out_dir, "stability", report, stability_table(reports), figure, dpi=80)


def validate_stability(*, teacher, students: Sequence, structure, out, temperature: Optional[float] = None,
                       time_ps: float = 10.0, snapshots: int = 20, seed: int = 4928459, device: str = "cpu") -> dict:
    """Stability of each student file on ``structure`` (demo name or file) against ``teacher``,
    written to ``out/<system>/stability.*`` like the rest of ``pair-student validate``."""
    _check_lammps()
    atoms = _structure(structure)
    system = _system_name(structure, atoms)
    calc = calculator_for_teacher(teacher, device=device)
    reports = []
    for path, label in _labels([Path(p) for p in students]).items():
        if not path.is_file():
            raise ValidationError(f"student model file {str(path)!r} does not exist")
        rep = stability_report(path, calc, atoms, temperature=temperature, time_ps=time_ps, snapshots=snapshots,
                               seed=seed, workdir=Path(out) / system / "stability" / label)
        rep.update(label=label, system=system)
        reports.append(rep)
    files = write_stability_report(reports, Path(out) / system)
    return {"system": system, "reports": reports, "passed": all(r["passed"] for r in reports),
            "files": {k: str(v) for k, v in files.items()}}


__all__ = ["TOLERANCES", "stability_report", "stability_table", "write_stability_report", "validate_stability",
           "structure_reference", "structure_checks", "min_distance", "coordination", "bond_table", "bond_changes",
           "sampled_temperature", "default_temperature", "run_student_md"]
