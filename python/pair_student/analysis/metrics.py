"""Streaming force/energy/stress error statistics of one student against the teacher.

Memory grows by ten floats per frame and not with the number of atoms: every metric is built
from running sums (R², RMSE, MAE, correlations), fixed-bin histograms (angular error, error
magnitudes: medians, percentiles and CDFs come from them) and fixed-size reservoir samples
(only for the scatter plots); the ten floats are each frame's error sums
(:class:`.bootstrap.FrameErrors`), which the 95 % intervals resample: whole test frames, never
single atoms. A student with a per-atom uncertainty adds three floats per frame and a fixed
calibration table (:mod:`.calibration`).
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from ..scores import MIN_FORCE_FOR_ANGLE, angular_error_deg
from .bootstrap import LEVEL, RESAMPLES, FrameErrors
from .calibration import UncertaintyStats

EV_A3_TO_GPA = 160.21766208
COMPONENTS = ("x", "y", "z")
ANGLE_BINS = np.linspace(0.0, 180.0, 361)  # 0.5 degree bins
ERROR_BINS = np.concatenate([[0.0], np.logspace(-5, 2, 281)])  # |dF| in eV/A, 40 bins/decade

class Moments:
    """Running sums of a (target, predicted) pair stream: n, Σt, Σt², Σp, Σp², Σtp, Σ|p-t|."""

    def __init__(self):
        self.n = 0
        self.st = self.st2 = self.sp = self.sp2 = self.stp = self.sabs = 0.0

    def add(self, t, p) -> None:
        t, p = np.asarray(t, float).ravel(), np.asarray(p, float).ravel()
        self.n += t.size
        self.st += t.sum()
        self.st2 += (t * t).sum()
        self.sp += p.sum()
        self.sp2 += (p * p).sum()
        self.stp += (t * p).sum()
        self.sabs += np.abs(p - t).sum()

    def summary(self) -> Dict[str, float]:
        n = max(self.n, 1)
        sse = max(self.sp2 - 2 * self.stp + self.st2, 0.0)
        sst = self.st2 - self.st**2 / n
        spp = self.sp2 - self.sp**2 / n
        stp = self.stp - self.st * self.sp / n
        nan = float("nan")
        return {
            "count": int(self.n),
            "r2": 1.0 - sse / sst if sst > 0 else nan,
            "rmse": float(np.sqrt(sse / n)) if self.n else nan,
            "mae": self.sabs / n if self.n else nan,
            "pearson": stp / np.sqrt(sst * spp) if sst > 0 and spp > 0 else nan,
        }


class Histogram:
    """Counts of values in fixed ``bins`` plus under/overflow, with quantiles from the CDF."""

    def __init__(self, bins: np.ndarray):
        self.bins = np.asarray(bins, float)
        self.counts = np.zeros(len(self.bins) - 1, dtype=np.int64)
        self.overflow = 0
        self.total = 0.0
        self.n = 0

    def add(self, values) -> None:
        v = np.asarray(values, float).ravel()
        self.counts += np.histogram(np.clip(v, self.bins[0], None), self.bins)[0]
        self.overflow += int((v > self.bins[-1]).sum())
        self.total += v.sum()
        self.n += v.size

    def quantile(self, q: float) -> float:
        """Linear interpolation inside the bin that holds the ``q`` quantile."""
        if self.n == 0:
            return float("nan")
        cum = np.concatenate([[0], np.cumsum(self.counts)])
        target = q * self.n
        i = int(np.searchsorted(cum, target, side="left"))
        if i >= len(cum):
            return float(self.bins[-1])  # in the overflow
        i = max(i, 1)
        lo, hi = cum[i - 1], cum[i]
        frac = (target - lo) / (hi - lo) if hi > lo else 0.0
        return float(self.bins[i - 1] + frac * (self.bins[i] - self.bins[i - 1]))

    def mean(self) -> float:
        return self.total / self.n if self.n else float("nan")


class Reservoir:
    """Uniform sample of at most ``size`` rows of a stream (Vitter's algorithm R, batched)."""

    def __init__(self, size: int, width: int, seed: int = 0):
        self.data = np.zeros((size, width))
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)

    def add(self, rows) -> None:
        rows = np.atleast_2d(np.asarray(rows, float))
        for row in rows:  # rows per frame are few hundred; the loop is not the bottleneck
            if self.seen < self.size:
                self.data[self.seen] = row
            else:
                j = self.rng.integers(0, self.seen + 1)
                if j < self.size:
                    self.data[j] = row
            self.seen += 1

    def sample(self) -> np.ndarray:
        return self.data[: min(self.seen, self.size)]


class ErrorStats:
    """All statistics of one student, fed frame by frame with :meth:`add_frame`."""

    def __init__(self, elements: Sequence[str], *, reservoir: int = 20000, seed: int = 0,
                 resamples: int = RESAMPLES, uncertainty: bool = False):
        self.elements = list(elements)
        # the student's per-atom uncertainty against its errors; None: it carries none
        self.uncertainty = UncertaintyStats() if uncertainty else None
        self.frame_errors = FrameErrors()  # for the frame-level bootstrap intervals
        self.seed, self.resamples = seed, resamples
        self.force = {c: Moments() for c in ("all",) + COMPONENTS}
        self.magnitude = Moments()
        self.angle = Histogram(ANGLE_BINS)
        self.angle_skipped = 0
        self.error = Histogram(ERROR_BINS)  # |F_student - F_teacher| per atom
        self.component_error = Histogram(np.linspace(-1.0, 1.0, 201))  # signed, eV/A
        self.per_element = {e: {"force": Moments(), "angle": Histogram(ANGLE_BINS), "error": Histogram(ERROR_BINS)}
                            for e in self.elements}
        self.energy = Moments()  # per atom
        self.stress = Moments()  # GPa
        self.frames = self.atoms = 0
        # columns: element index, t_x, t_y, t_z, p_x, p_y, p_z
        self.force_sample = Reservoir(reservoir, 7, seed)
        self.energy_sample = Reservoir(reservoir // 4, 3, seed + 1)  # n_atoms, e_t/atom, e_p/atom
        self.stress_sample = Reservoir(reservoir // 4, 2, seed + 2)  # t, p in GPa

    def add_frame(self, symbols: Sequence[str], teacher: Dict, student: Dict) -> None:
        """One structure: ``teacher``/``student`` dicts with energy, forces (N,3) and stress
        (Voigt 6, eV/A^3, or None); ``student`` also has ``uncertainty`` (N,) in eV/A when
        these statistics were made with ``uncertainty=True``."""
        ft, fp = np.asarray(teacher["forces"], float), np.asarray(student["forces"], float)
        n = len(ft)
        self.frames += 1
        self.atoms += n
        self.force["all"].add(ft, fp)
        for k, c in enumerate(COMPONENTS):
            self.force[c].add(ft[:, k], fp[:, k])
        mt, mp = np.linalg.norm(ft, axis=1), np.linalg.norm(fp, axis=1)
        self.magnitude.add(mt, mp)
        valid = mt >= MIN_FORCE_FOR_ANGLE
        angles = angular_error_deg(ft[valid], fp[valid]) if valid.any() else np.zeros(0)
        self.angle.add(angles)
        self.angle_skipped += int((~valid).sum())
        err = np.linalg.norm(fp - ft, axis=1)
        self.error.add(err)
        self.component_error.add(fp - ft)
        if self.uncertainty is not None:
            self.uncertainty.add(student["uncertainty"], err, np.sqrt(np.mean((fp - ft) ** 2)))
        symbols = np.asarray(symbols)
        index = np.array([self.elements.index(s) for s in symbols])
        valid_angles = np.full(n, np.nan)
        valid_angles[valid] = angles
        for e in np.unique(symbols):
            sel = symbols == e
            stats = self.per_element[str(e)]
            stats["force"].add(ft[sel], fp[sel])
            stats["error"].add(err[sel])
            stats["angle"].add(valid_angles[sel & valid])
        self.force_sample.add(np.column_stack([index, ft, fp]))
        self.energy.add(teacher["energy"] / n, student["energy"] / n)
        self.frame_errors.add(ft, fp, angles=angles, energy_error=(student["energy"] - teacher["energy"]) / n)
        self.energy_sample.add([[n, teacher["energy"] / n, student["energy"] / n]])
        if teacher.get("stress") is not None and student.get("stress") is not None:
            st = np.asarray(teacher["stress"], float) * EV_A3_TO_GPA
            sp = np.asarray(student["stress"], float) * EV_A3_TO_GPA
            self.stress.add(st, sp)
            self.stress_sample.add(np.column_stack([st, sp]))

    def summary(self) -> Dict:
        """The metrics dict written to JSON (see :mod:`pair_student.analysis.schema`)."""
        percentiles = {f"p{q}": self.error.quantile(q / 100) for q in (50, 90, 95, 99)}
        ci = self.frame_errors.intervals(self.resamples, self.seed, LEVEL)
        out = {
            "frames": self.frames,
            "atoms": self.atoms,
            "force": {
                **self.force["all"].summary(),
                "components": {c: self.force[c].summary() for c in COMPONENTS},
                "magnitude_pearson": self.magnitude.summary()["pearson"],
                "error_percentiles": percentiles,
                "rmse_ci95": ci["force_rmse_ci95"],
                "mae_ci95": ci["force_mae_ci95"],
                "r2_ci95": ci["force_r2_ci95"],
            },
            "angular_error_deg": {
                "mean": self.angle.mean(),
                "median": self.angle.quantile(0.5),
                "p90": self.angle.quantile(0.9),
                "counted": int(self.angle.n),
                "skipped_small_force": int(self.angle_skipped),
                "min_force": MIN_FORCE_FOR_ANGLE,
                "mean_ci95": ci["angular_mean_deg_ci95"],
            },
            "per_element": {
                e: {**s["force"].summary(), "angular_mean_deg": s["angle"].mean(),
                    "angular_median_deg": s["angle"].quantile(0.5)}
                for e, s in self.per_element.items() if s["force"].n
            },
            "energy_per_atom": {**self.energy.summary(), "rmse_ci95": ci["energy_rmse_per_atom_ci95"],
                                "mae_ci95": ci["energy_mae_per_atom_ci95"]},
            "stress_gpa": self.stress.summary() if self.stress.n else None,
            "bootstrap": {"unit": "frame", "resamples": self.resamples, "seed": self.seed, "level": LEVEL},
        }
        if self.uncertainty is not None:
            out["uncertainty"] = self.uncertainty.summary(self.resamples, self.seed, LEVEL)
        return _finite(out)


def _finite(obj):
    """NaN -> None recursively, so the JSON is standard (no NaN literals)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
