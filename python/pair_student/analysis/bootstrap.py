"""Frame-level bootstrap intervals of error metrics, and the paired comparison that ranks two
potentials scored on the same frames.

The unit resampled is the test FRAME, never the atom: the atoms of one frame share its
geometry, temperature and distortion, so their errors are correlated, and one rattled frame can
carry most of the squared error. Resampling atoms would treat 72 correlated errors as 72
independent ones and give intervals far too narrow.

Every metric here is a ratio of per-frame sums (squared error, absolute error, component count,
...), so a resample is a vector of frame weights (how often each frame was drawn) and all
resamples at once are one matrix product: (resamples x frames) @ (frames x sums). 2,000
resamples of 200 frames cost a few milliseconds. The same seed gives the same weight matrix, so
results are reproducible and two potentials scored with one seed are resampled identically
(common random numbers), which the paired comparison relies on.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
MIN_FRAMES = 2
"""Below this many frames no interval is given: every resample of one frame is that frame, and
a zero-width interval would claim a certainty the data do not have."""
_CELLS = 1 << 22  # weights per block: bounds memory for very long test sets (32 MiB of float64)

# per-frame sums kept by FrameErrors, in this column order
COLUMNS = ("components", "sum_t", "sum_t2", "sse", "sum_abs", "angle_sum", "angle_count", "energy_sq",
           "energy_abs", "frames")
_C = {name: k for k, name in enumerate(COLUMNS)}
METRICS = ("force_rmse", "force_mae", "force_r2", "angular_mean_deg", "energy_rmse_per_atom",
           "energy_mae_per_atom")


def weight_blocks(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """Bootstrap weights: blocks of rows, row b counting how often each of ``n`` units was drawn
    (n draws with replacement); ``resamples`` rows in all, the same for the same ``seed``."""
    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS // max(n, 1))
    for start in range(0, resamples, rows):
        b = min(rows, resamples - start)
        drawn = rng.integers(0, n, size=(b, n)) + (n * np.arange(b))[:, None]
        yield np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n).astype(float)


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n: int, resamples: int = RESAMPLES,
              seed: int = SEED) -> np.ndarray:
    """``statistic(weights)`` over every resample of ``n`` units: ``statistic`` maps a
    (rows, n) weight block to (rows, ...) values; returns (resamples, ...)."""
    return np.concatenate([statistic(w) for w in weight_blocks(n, resamples, seed)])


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> List[Optional[List[float]]]:
    """Percentile interval [lo, hi] of each column of ``samples`` (resamples, m); NaN/inf
    resamples (e.g. R² of a resample whose targets are constant) are left out, and a column with
    none left is None."""
    samples = np.atleast_2d(np.asarray(samples, float).T).T
    tail = 100 * (1 - level) / 2
    out: List[Optional[List[float]]] = []
    for column in samples.T:
        column = column[np.isfinite(column)]
        out.append([float(v) for v in np.percentile(column, [tail, 100 - tail])] if column.size else None)
    return out


def _metrics(sums: np.ndarray) -> np.ndarray:
    """Each metric of :data:`METRICS` from (weighted) column sums (..., len(COLUMNS))."""
    s = {name: sums[..., k] for name, k in _C.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        n = s["components"]
        sst = s["sum_t2"] - s["sum_t"] ** 2 / n
        r2 = np.where(sst > 0, 1.0 - s["sse"] / np.where(sst > 0, sst, 1.0), np.nan)
        return np.stack([np.sqrt(s["sse"] / n), s["sum_abs"] / n, r2, s["angle_sum"] / s["angle_count"],
                         np.sqrt(s["energy_sq"] / s["frames"]), s["energy_abs"] / s["frames"]], axis=-1)


class FrameErrors:
    """Per-frame error sums of one potential (a few floats per frame), fed with :meth:`add`."""

    def __init__(self):
        self.rows: List[List[float]] = []

    def add(self, target_forces, predicted_forces, *, angles: Optional[Sequence[float]] = None,
            energy_error: Optional[float] = None) -> None:
        """One frame: forces (N, 3) of the reference and the potential, the angular errors (deg)
        of the atoms that count, and the energy error per atom (None: not scored)."""
        t = np.asarray(target_forces, float)
        d = np.asarray(predicted_forces, float) - t
        angles = np.zeros(0) if angles is None else np.asarray(angles, float)
        e = np.nan if energy_error is None else float(energy_error)  # NaN voids only the energy columns
        self.rows.append([d.size, t.sum(), (t * t).sum(), (d * d).sum(), np.abs(d).sum(), angles.sum(),
                          angles.size, e * e, abs(e), 1.0])

    @property
    def frames(self) -> int:
        return len(self.rows)

    def table(self) -> np.ndarray:
        return np.asarray(self.rows, float).reshape(-1, len(COLUMNS))

    def squared_errors(self) -> np.ndarray:
        """Sum of squared force-component errors of each frame (eV²/Å²): what pairs two potentials."""
        return self.table()[:, _C["sse"]]

    def components(self) -> np.ndarray:
        return self.table()[:, _C["components"]]

    def point(self) -> Dict[str, float]:
        """The metrics on all frames once (what the intervals are intervals of)."""
        return dict(zip(METRICS, _metrics(self.table().sum(0)).tolist()))

    def intervals(self, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
                  ) -> Dict[str, Optional[List[float]]]:
        """``{metric}_ci95``-style intervals of every metric of :data:`METRICS` (None with fewer
        than :data:`MIN_FRAMES` frames or where the metric is undefined)."""
        suffix = ci_suffix(level)
        if self.frames < MIN_FRAMES:
            return {m + suffix: None for m in METRICS}
        table = self.table()
        samples = bootstrap(lambda w: _metrics(w @ table), self.frames, resamples, seed)
        return {m + suffix: ci for m, ci in zip(METRICS, percentile_interval(samples, level))}


def weighted_spearman(weights: np.ndarray, x, y) -> np.ndarray:
    """Spearman's rho of ``x`` and ``y`` (n,) for each row of ``weights`` (rows, n), unit i counted
    ``weights[r, i]`` times: what ``scipy.stats.spearmanr`` gives on the repeated data (mid-ranks
    for ties), without repeating it, so a block of resamples costs a few array operations.
    NaN where a row leaves either variable constant."""
    w = np.atleast_2d(np.asarray(weights, float))
    total = w.sum(1, keepdims=True)
    centred = []
    for values in (x, y):
        ranks = _midranks(w, np.asarray(values, float))
        centred.append(ranks - (w * ranks).sum(1, keepdims=True) / total)
    dx, dy = centred
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (w * dx * dy).sum(1) / np.sqrt((w * dx * dx).sum(1) * (w * dy * dy).sum(1))
    return np.clip(rho, -1.0, 1.0)  # rounding can step past ±1, which the schema rejects


def _midranks(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(rows, n): the rank of each unit in row r's data, where unit i appears ``w[r, i]`` times;
    tied values share the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_value = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    counts = np.add.reduceat(w[:, order], np.flatnonzero(new_value), axis=1)  # per distinct value
    mid = np.cumsum(counts, axis=1) - (counts - 1) / 2
    ranks = np.empty_like(w)
    ranks[:, order] = mid[:, np.cumsum(new_value) - 1]
    return ranks


def spearman_interval(x, y, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
                      ) -> Tuple[Optional[float], Optional[List[float]]]:
    """Spearman's rho of paired per-frame values and its bootstrap interval over frames;
    ``(None, None)`` below :data:`MIN_FRAMES` frames, where a rank correlation means nothing."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.size < MIN_FRAMES:
        return None, None
    rho = _num(weighted_spearman(np.ones((1, x.size)), x, y)[0])
    samples = bootstrap(lambda w: weighted_spearman(w, x, y), x.size, resamples, seed)
    return rho, percentile_interval(samples, level)[0]


def ci_suffix(level: float = LEVEL) -> str:
    return f"_ci{round(100 * level)}"


def compare_rmse(sse_a, sse_b, components, *, resamples: int = RESAMPLES, seed: int = SEED,
                 level: float = LEVEL) -> Dict[str, object]:
    """Paired bootstrap of two potentials A and B scored on the same frames.

    ``sse_a``/``sse_b``: each frame's sum of squared force errors; ``components``: each frame's
    number of force components. Both potentials get the same resampled frames, so a frame that is
    hard for both moves both RMSEs together and cancels in the ratio: far sharper than comparing
    two separate intervals. Returns the RMSE ratio A/B and difference A - B with their intervals,
    and the verdict: "A better" (ratio interval below 1), "B better" (above 1) or "tie".
    """
    a, b, c = (np.asarray(x, float).ravel() for x in (sse_a, sse_b, components))
    if not (a.size == b.size == c.size):
        raise ValueError(f"paired comparison needs the same frames: {a.size}, {b.size} and {c.size} values")
    suffix = ci_suffix(level)

    def stats(w):
        wa, wb, wc = w @ a, w @ b, w @ c
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack([np.sqrt(wa / wb), np.sqrt(wa / wc) - np.sqrt(wb / wc)], axis=-1)

    ratio, diff = stats(np.ones((1, a.size)))[0] if a.size else (np.nan, np.nan)
    cis: List[Optional[List[float]]] = [None, None]
    if a.size >= MIN_FRAMES:
        cis = percentile_interval(bootstrap(stats, a.size, resamples, seed), level)
    return {"ratio": _num(ratio), "ratio" + suffix: cis[0], "difference": _num(diff),
            "difference" + suffix: cis[1], "verdict": verdict(cis[0], cis[1]), "frames": int(a.size),
            "resamples": resamples, "seed": seed, "level": level}


def verdict(ratio_ci: Optional[Sequence[float]], difference_ci: Optional[Sequence[float]] = None) -> str:
    """"A better" when the interval of RMSE_A / RMSE_B lies below 1, "B better" above, else "tie";
    the difference's interval (against 0) decides when the ratio is undefined (B exact)."""
    if ratio_ci is not None:
        lo, hi = ratio_ci
        return "A better" if hi < 1 else "B better" if lo > 1 else "tie"
    if difference_ci is not None:
        lo, hi = difference_ci
        return "A better" if hi < 0 else "B better" if lo > 0 else "tie"
    return "tie"


def _num(x) -> Optional[float]:
    return float(x) if np.isfinite(x) else None
