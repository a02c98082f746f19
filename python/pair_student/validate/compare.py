"""Observables of the teacher's and each student's runs, thresholds and the verdict.

Every check compares a student run with the teacher run of the same input. Defaults are
chosen for the short runs of the embedded validation (about 100 MD steps of 10-100 atoms):
they catch a wrong force field, an unstable student or a broken export, not percent-level
differences that only long runs can resolve. Override them with ``--thresholds FILE.json``
or ``--threshold NAME=VALUE``; ``null`` (or ``none``) switches a check off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import natural_cutoffs, neighbor_list

from ..scores import MIN_FORCE_FOR_ANGLE, angular_error_deg, r2_score
from .runs import Run

#: name -> (default, meaning). A check passes when the value is on the right side of it.
THRESHOLDS: Dict[str, tuple] = {
    "force_rmse_rel_max": (0.35, "force RMSE / RMS of teacher forces, on frames of the teacher's NVT/NVE runs"),
    "force_r2_min": (0.80, "R^2 of student vs teacher force components on the same frames"),
    "energy_mae_max": (0.05, "energy MAE per atom (eV/atom) on the same frames"),
    "drift_max": (5e-3, "|NVE total-energy drift| in eV/atom/ps (also allowed: 3 x the teacher's own)"),
    "temp_mean_rel_max": (0.15, "|mean T(student) - mean T(teacher)| / mean T(teacher) in NVT"),
    "press_mean_diff_max": (5000.0, "|mean pressure difference| in bar in NVT"),
    "rdf_diff_max": (0.20, "integral |g_s - g_t| dr / integral g_t dr over the NVT frames (periodic cells)"),
    "bond_mean_diff_max": (0.03, "largest |mean bond length difference| per element pair in A (molecules)"),
    "min_energy_diff_max": (0.05, "|relaxed energy difference| in eV/atom (minimize)"),
    "min_volume_rel_max": (0.03, "|relaxed volume difference| / teacher volume (minimize, periodic)"),
    "min_rmsd_max": (0.10, "RMSD of relaxed positions in A after removing the mean shift (minimize)"),
    "volume_mean_rel_max": (0.03, "|mean volume difference| / teacher mean volume in NPT"),
    "explode_temp_factor": (5.0, "an MD run whose temperature exceeds this x the target counts as exploded"),
    "speedup_min": (None, "student atom-steps/s / teacher atom-steps/s in NVT (off by default)"),
}


def default_thresholds() -> Dict[str, Optional[float]]:
    return {k: v[0] for k, v in THRESHOLDS.items()}


def load_thresholds(*, path: Optional[str] = None, overrides: Sequence[str] = ()) -> Dict[str, Optional[float]]:
    """Defaults, updated from a JSON file ``{"name": value}`` and ``NAME=VALUE`` strings."""
    values = default_thresholds()
    updates: Dict[str, object] = {}
    if path:
        updates.update(json.loads(Path(path).read_text()))
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--threshold wants NAME=VALUE, got {item!r}")
        updates[name.strip()] = None if value.strip().lower() in ("none", "null", "off") else float(value)
    unknown = sorted(set(updates) - set(values))
    if unknown:
        raise ValueError(f"unknown threshold(s) {unknown}; known: {', '.join(values)}")
    values.update({k: (None if v is None else float(v)) for k, v in updates.items()})
    return values


# --- metrics --------------------------------------------------------------------------------
# R^2 and angular error come from the force analysis (pair-student analyze), so both commands
# report the same numbers; RMSE and MAE are one line each.


def _force_metrics(pred: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
    pred, ref = np.asarray(pred, float).reshape(-1, 3), np.asarray(ref, float).reshape(-1, 3)
    diff = pred - ref
    rmse = float(np.sqrt(np.mean(diff**2)))
    strong = np.linalg.norm(ref, axis=1) > MIN_FORCE_FOR_ANGLE  # direction of a tiny force is noise
    return {
        "force_rmse": rmse,
        "force_mae": float(np.mean(np.abs(diff))),
        "force_r2": r2_score(ref, pred),
        "force_rmse_rel": rmse / float(np.sqrt(np.mean(ref**2))) if np.any(ref) else float("nan"),
        "force_angle_deg": float(angular_error_deg(ref[strong], pred[strong]).mean()) if strong.any() else float("nan"),
    }


def static_accuracy(*, frames: Sequence[Atoms], energies: Sequence[float], calc) -> Dict[str, float]:
    """Student (ASE ``calc``) against the teacher's dumped forces and thermo energies."""
    pred_f, ref_f, de = [], [], []
    for atoms, e_ref in zip(frames, energies):
        work = atoms.copy()
        work.calc = calc
        pred_f.append(work.get_forces())
        ref_f.append(atoms.arrays["forces"])
        de.append((work.get_potential_energy() - e_ref) / len(atoms))
    out = _force_metrics(np.concatenate(pred_f), np.concatenate(ref_f))
    out["energy_mae"] = float(np.mean(np.abs(de)))
    out["energy_mean_error"] = float(np.mean(de))
    out["frames"] = len(frames)
    return out


def frame_energies(run: Run) -> List[float]:
    """Teacher potential energy of each dumped frame, from the thermo row of the same step."""
    steps = {int(s): e for s, e in zip(run.thermo.get("Step", []), run.thermo.get("PotEng", []))}
    return [steps.get(int(a.info["step"]), np.nan) for a in run.frames]


# --- observables of one run ------------------------------------------------------------------


def drift(run: Run) -> Dict[str, float]:
    """Slope of total energy per atom against time (eV/atom/ps) and its largest excursion."""
    t, e = run.thermo["Time"], run.thermo["TotEng"] / run.natoms
    slope = float(np.polyfit(t, e, 1)[0]) if len(t) > 2 and np.ptp(t) > 0 else float("nan")
    return {"drift": slope, "etot_max_dev": float(np.max(np.abs(e - e[0])))}


def thermo_stats(run: Run) -> Dict[str, float]:
    """Mean and standard deviation of T, P, V and PE/atom, leaving out the starting row."""
    out = {}
    for name, key in (("Temp", "temp"), ("Press", "press"), ("Volume", "volume"), ("PotEng", "pe")):
        x = run.thermo[name][1:] if len(run.thermo[name]) > 1 else run.thermo[name]
        x = x / run.natoms if name == "PotEng" else x
        out[f"{key}_mean"], out[f"{key}_std"] = float(np.mean(x)), float(np.std(x))
    return out


def rdf(frames: Sequence[Atoms], *, rmax: float = 6.0, bins: int = 120):
    """Radial distribution function averaged over frames (periodic cells, minimum image via
    ASE's neighbour list); rmax is clipped to half the smallest cell width."""
    cell = frames[0].cell
    widths = frames[0].get_volume() / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    rmax = min(rmax, 0.5 * float(widths.min()))
    edges = np.linspace(0.0, rmax, bins + 1)
    hist = np.zeros(bins)
    for atoms in frames:
        d = neighbor_list("d", atoms, rmax)
        hist += np.histogram(d, bins=edges)[0] / (len(atoms) ** 2 / atoms.get_volume())
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    r = 0.5 * (edges[1:] + edges[:-1])
    return r, hist / shell / len(frames)


def rdf_difference(r: np.ndarray, g_student: np.ndarray, g_teacher: np.ndarray) -> float:
    dr = r[1] - r[0]
    return float(np.sum(np.abs(g_student - g_teacher)) * dr / max(np.sum(g_teacher) * dr, 1e-12))


def bond_pairs(atoms: Atoms, mult: float):
    """Bonded pairs ``i < j`` and their lengths: within ``mult`` x the sum of the two covalent
    radii, periodic images included."""
    i, j, d = neighbor_list("ijd", atoms, natural_cutoffs(atoms, mult=mult))
    keep = i < j
    return i[keep], j[keep], d[keep]


def bond_lengths(start: Atoms, frames: Sequence[Atoms]) -> Dict[str, np.ndarray]:
    """Lengths of each element pair's bonds over all frames; bonds are taken from the starting
    structure (covalent radii), so the same pairs are measured in every run."""
    i, j, _ = bond_pairs(start, 1.15)
    sym = start.get_chemical_symbols()
    names = np.array(["-".join(sorted((sym[a], sym[b]))) for a, b in zip(i, j)])
    lengths = np.array([np.linalg.norm(a.positions[j] - a.positions[i], axis=1) for a in frames])
    return {n: lengths[:, names == n].ravel() for n in sorted(set(names))}


def bonds(start: Atoms, frames: Sequence[Atoms]) -> Dict[str, Dict[str, float]]:
    """Mean and spread of each element pair's bond lengths (see :func:`bond_lengths`)."""
    return {n: {"mean": float(x.mean()), "std": float(x.std())} for n, x in bond_lengths(start, frames).items()}


def relaxed(run: Run) -> Dict[str, float]:
    final = run.frames[-1]
    return {"energy": float(run.thermo["PotEng"][-1] / run.natoms), "volume": float(final.get_volume() / len(final))
            if all(final.pbc) else float("nan"), "iterations": int(run.loop_steps or 0)}


def position_rmsd(a: Atoms, b: Atoms) -> float:
    """RMSD between two relaxed structures of the same atoms after removing the mean shift;
    periodic cells compare fractional coordinates (minimum image) in ``b``'s cell, so a cell
    that relaxed to another size does not count as displacement."""
    if all(a.pbc):
        d = a.get_scaled_positions(wrap=False) - b.get_scaled_positions(wrap=False)
        d -= np.round(d)
        d -= d.mean(0)
        d = d @ np.asarray(b.cell)
    else:
        d = a.positions - b.positions
        d -= d.mean(0)
    return float(np.sqrt(np.mean(np.sum(d**2, axis=1))))


# --- verdict -----------------------------------------------------------------------------------


def check(checks: List[dict], *, name: str, value, threshold: Optional[float], upper: bool, label: str, unit: str = "") -> None:
    """Append one check; skipped (recorded, not judged) when the threshold is off or the value
    could not be computed."""
    if threshold is None or value is None or not np.isfinite(value):
        checks.append({"name": name, "value": value, "threshold": threshold, "passed": None, "message": f"{label}: not checked"})
        return
    passed = bool(value <= threshold) if upper else bool(value >= threshold)
    op = ("<=" if passed else ">") if upper else (">=" if passed else "<")
    checks.append({"name": name, "value": float(value), "threshold": threshold, "passed": passed,
                   "message": f"{label} {value:.4g}{unit} {op} {threshold:.4g}{unit}"})


def verdict(checks: List[dict], unstable: Mapping[str, List[str]], errors: Mapping[str, str]) -> Dict[str, object]:
    """PASS when every judged check passed and no run failed or went unstable."""
    reasons = [f"{p} run failed: {e}" for p, e in errors.items()]
    reasons += [f"{p}: {msg}" for p, msgs in unstable.items() for msg in msgs]
    reasons += [c["message"] for c in checks if c["passed"] is False]
    return {"passed": not reasons, "reasons": reasons}


def _static_checks(checks: List[dict], obs: dict, static: Dict[str, float], th: Mapping[str, Optional[float]]) -> None:
    obs["static"] = static
    check(checks, name="force_rmse_rel_max", value=static["force_rmse_rel"], threshold=th["force_rmse_rel_max"],
          upper=True, label="force RMSE/RMS(teacher)")
    check(checks, name="force_r2_min", value=static["force_r2"], threshold=th["force_r2_min"], upper=False, label="force R2")
    check(checks, name="energy_mae_max", value=static["energy_mae"], threshold=th["energy_mae_max"], upper=True,
          label="energy MAE", unit=" eV/atom")


def _nve_checks(checks: List[dict], obs: dict, s_run: Run, t_run: Run, th: Mapping[str, Optional[float]]) -> None:
    s, t = drift(s_run), drift(t_run)
    obs["nve"] = {"student": s, "teacher": t}
    limit = th["drift_max"]
    if limit is not None and np.isfinite(t["drift"]):
        limit = max(limit, 3.0 * abs(t["drift"]))
    check(checks, name="drift_max", value=abs(s["drift"]), threshold=limit, upper=True, label="|NVE drift|",
          unit=" eV/atom/ps")


def _nvt_checks(checks: List[dict], obs: dict, s_run: Run, t_run: Run, th: Mapping[str, Optional[float]],
                start: Atoms) -> None:
    s, t = thermo_stats(s_run), thermo_stats(t_run)
    obs["nvt"] = {"student": s, "teacher": t}
    check(checks, name="temp_mean_rel_max", value=abs(s["temp_mean"] - t["temp_mean"]) / max(t["temp_mean"], 1e-9),
          threshold=th["temp_mean_rel_max"], upper=True, label="NVT |dT|/T")
    if all(start.pbc):  # a molecule in a shrink-wrapped box has no meaningful pressure
        check(checks, name="press_mean_diff_max", value=abs(s["press_mean"] - t["press_mean"]),
              threshold=th["press_mean_diff_max"], upper=True, label="NVT |dP|", unit=" bar")
    else:
        for stats in (s, t):
            stats["press_mean"] = stats["press_std"] = float("nan")
    if not (s_run.frames and t_run.frames):
        return
    if all(start.pbc):
        r, g_t = rdf(t_run.frames)
        _, g_s = rdf(s_run.frames)
        obs["rdf"] = {"r": r.tolist(), "teacher": g_t.tolist(), "student": g_s.tolist(),
                      "difference": rdf_difference(r, g_s, g_t)}
        check(checks, name="rdf_diff_max", value=obs["rdf"]["difference"], threshold=th["rdf_diff_max"], upper=True,
              label="RDF difference")
    elif not any(start.pbc):
        b_s, b_t = bonds(start, s_run.frames), bonds(start, t_run.frames)
        obs["bonds"] = {"student": b_s, "teacher": b_t}
        worst = max((abs(b_s[k]["mean"] - b_t[k]["mean"]) for k in b_t), default=float("nan"))
        check(checks, name="bond_mean_diff_max", value=worst, threshold=th["bond_mean_diff_max"], upper=True,
              label="largest |d mean bond length|", unit=" A")


def _speed_checks(checks: List[dict], obs: dict, s_run: Run, t_run: Run, th: Mapping[str, Optional[float]]) -> None:
    ts, tt = s_run.atom_steps_per_s, t_run.atom_steps_per_s
    obs["speed"] = {"student": ts, "teacher": tt, "speedup": ts / tt if ts and tt else None}
    check(checks, name="speedup_min", value=obs["speed"]["speedup"], threshold=th["speedup_min"], upper=False,
          label="speed-up over the teacher")


def _npt_checks(checks: List[dict], obs: dict, s_run: Run, t_run: Run, th: Mapping[str, Optional[float]]) -> None:
    s, t = thermo_stats(s_run), thermo_stats(t_run)
    obs["npt"] = {"student": s, "teacher": t}
    check(checks, name="volume_mean_rel_max", value=abs(s["volume_mean"] - t["volume_mean"]) / t["volume_mean"],
          threshold=th["volume_mean_rel_max"], upper=True, label="NPT |dV|/V")


def _minimize_checks(checks: List[dict], obs: dict, s_run: Run, t_run: Run, th: Mapping[str, Optional[float]]) -> None:
    s, t = relaxed(s_run), relaxed(t_run)
    rmsd = position_rmsd(s_run.frames[-1], t_run.frames[-1])
    obs["minimize"] = {"student": s, "teacher": t, "rmsd": rmsd}
    check(checks, name="min_energy_diff_max", value=abs(s["energy"] - t["energy"]), threshold=th["min_energy_diff_max"],
          upper=True, label="relaxed |dE|", unit=" eV/atom")
    if np.isfinite(t["volume"]):
        check(checks, name="min_volume_rel_max", value=abs(s["volume"] - t["volume"]) / t["volume"],
              threshold=th["min_volume_rel_max"], upper=True, label="relaxed |dV|/V")
    check(checks, name="min_rmsd_max", value=rmsd, threshold=th["min_rmsd_max"], upper=True, label="relaxed RMSD",
          unit=" A")


def compare_student(
    *,
    student: str,
    runs: Mapping[str, Mapping[str, Run]],
    teacher: str,
    static: Optional[Dict[str, float]],
    start: Atoms,
    thresholds: Mapping[str, Optional[float]],
) -> Dict[str, object]:
    """All observables and checks of one student against the teacher.

    Args:
        student: label of the student in ``runs``.
        runs: ``{protocol: {model label: Run}}``.
        teacher: label of the teacher in ``runs``.
        static: the student's :func:`static_accuracy` on teacher frames (None if unavailable).
        start: the starting structure (bond topology for molecules).
        thresholds: :func:`load_thresholds` values.
    """
    th, checks, obs = thresholds, [], {}
    errors = {p: r[student].error for p, r in runs.items() if r[student].error}
    unstable = {p: r[student].unstable for p, r in runs.items() if r[student].unstable}
    if static:
        _static_checks(checks, obs, static, th)
    usable = {p: r for p, r in runs.items() if r[student].ok and r[teacher].ok and r[student].thermo}
    if "nve" in usable:
        _nve_checks(checks, obs, usable["nve"][student], usable["nve"][teacher], th)
    if "nvt" in usable:
        _nvt_checks(checks, obs, usable["nvt"][student], usable["nvt"][teacher], th, start)
    if "nvt" in runs:  # speed is worth knowing even for a run that went unstable
        _speed_checks(checks, obs, runs["nvt"][student], runs["nvt"][teacher], th)
    if "npt" in usable:
        _npt_checks(checks, obs, usable["npt"][student], usable["npt"][teacher], th)
    if "minimize" in usable:
        _minimize_checks(checks, obs, usable["minimize"][student], usable["minimize"][teacher], th)
    return {"student": student, "observables": obs, "checks": checks, **verdict(checks, unstable, errors)}
