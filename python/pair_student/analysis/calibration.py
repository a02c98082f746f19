"""Does a student's per-atom uncertainty (:mod:`pair_student.models.uncertainty`) mean what it
says? It claims to be each atom's expected force error |F_student - F_teacher| in eV/A, so the
atoms it gives a similar ``u`` should have an RMS error of about that ``u``.

Streamed like :mod:`.metrics`: the atoms are binned by ``u`` on a fixed log grid (count, sum of
``u``, sum of squared errors per bin) and each frame keeps three floats, its largest ``u``, its
largest error and its force RMSE. The per-frame maxima answer the question a user running MD
asks of the uncertainty: does the most uncertain atom of a frame point at its worst one? Their
Spearman correlation is resampled over whole frames, as every interval of the analysis is.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from .bootstrap import LEVEL, RESAMPLES, SEED, spearman_interval

U_BINS = np.logspace(-3, 2, 21)
"""Edges of the calibration bins of ``u`` (eV/A), 4 per decade; atoms outside the range fall in
the first or last bin, whose mean predicted ``u`` then shows how far out they are."""


class UncertaintyStats:
    """Calibration table and per-frame maxima of one student's uncertainty, fed with :meth:`add`."""

    def __init__(self):
        self.count = np.zeros(len(U_BINS) - 1, dtype=np.int64)
        self.sum_u = np.zeros(len(U_BINS) - 1)
        self.sum_err2 = np.zeros(len(U_BINS) - 1)
        self.rows: List[Tuple[float, float, float]] = []

    def add(self, u, errors, frame_rmse: float) -> None:
        """One frame: predicted ``u`` and actual |dF| of each atom (eV/A), and the frame's force
        RMSE over components."""
        u, errors = np.asarray(u, float).ravel(), np.asarray(errors, float).ravel()
        if u.shape != errors.shape:
            raise ValueError(f"{u.size} uncertainties for {errors.size} atoms")
        nbins = len(self.count)
        which = np.clip(np.searchsorted(U_BINS, u, side="right") - 1, 0, nbins - 1)
        self.count += np.bincount(which, minlength=nbins)
        self.sum_u += np.bincount(which, weights=u, minlength=nbins)
        self.sum_err2 += np.bincount(which, weights=errors**2, minlength=nbins)
        self.rows.append((float(u.max()), float(errors.max()), float(frame_rmse)))

    def frames(self) -> np.ndarray:
        """(frames, 3): each frame's max ``u``, max |dF| and force RMSE (eV/A)."""
        return np.asarray(self.rows, float).reshape(-1, 3)

    def summary(self, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Dict:
        """The ``uncertainty`` block of a student in metrics.json (:mod:`.schema`); NaN where undefined."""
        atoms = int(self.count.sum())
        mean_u = self.sum_u.sum() / atoms if atoms else np.nan
        rms = np.sqrt(self.sum_err2.sum() / atoms) if atoms else np.nan
        bins = [{"lo": float(U_BINS[k]), "hi": float(U_BINS[k + 1]), "count": int(self.count[k]),
                 "mean_predicted": self.sum_u[k] / self.count[k],
                 "rms_actual": float(np.sqrt(self.sum_err2[k] / self.count[k]))}
                for k in np.flatnonzero(self.count)]
        table = self.frames()
        # the same seed as the error intervals: every statistic sees the same resampled frames
        rho_max, ci_max = spearman_interval(table[:, 0], table[:, 1], resamples=resamples, seed=seed, level=level)
        rho_rmse, ci_rmse = spearman_interval(table[:, 0], table[:, 2], resamples=resamples, seed=seed, level=level)
        return {
            "frames": len(table),
            "atoms": atoms,
            "bins": bins,
            "mean_predicted": mean_u,
            "rms_actual": rms,
            "ratio": mean_u / rms if rms > 0 else np.nan,
            "spearman_max_error": rho_max,
            "spearman_max_error_ci95": ci_max,
            "spearman_frame_rmse": rho_rmse,
            "spearman_frame_rmse_ci95": ci_rmse,
        }
