"""The one-page figure of a student's errors: 12 panels on a 3 x 4 grid, units on every axis, and
a fourth row of two wide panels for a student that carries a per-atom uncertainty."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np

from ..atomic import atomic_path
from .metrics import ANGLE_BINS, COMPONENTS, ERROR_BINS, ErrorStats


def _fmt(value, spec=".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _parity(ax, t, p, colors, title, unit, labels=None):
    if len(t) == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="y = x")
    if labels is None:
        ax.scatter(t, p, s=4, alpha=0.5, c=colors, rasterized=True)
    else:
        for k, name in enumerate(labels):
            sel = colors == k
            if sel.any():
                ax.scatter(t[sel], p[sel], s=4, alpha=0.5, label=name, color=f"C{k}", rasterized=True)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"teacher ({unit})")
    ax.set_ylabel(f"student ({unit})")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", markerscale=3)


def _parity_panels(ax, stats: ErrorStats, summary: Dict) -> None:
    """Panels 1-5: force components, energy and force magnitude, student against teacher."""
    sample = stats.force_sample.sample()
    elem = sample[:, 0].astype(int) if len(sample) else np.zeros(0, int)
    force = summary["force"]
    for k, c in enumerate(COMPONENTS):
        r2 = force["components"][c]["r2"]
        _parity(ax[k], sample[:, 1 + k], sample[:, 4 + k], elem, f"force $F_{c}$  R² = {_fmt(r2)}",
                "eV/Å", stats.elements)
    es = stats.energy_sample.sample()
    _parity(ax[3], es[:, 1], es[:, 2], "C0", f"energy  MAE = {_fmt(summary['energy_per_atom']['mae'] and 1e3 * summary['energy_per_atom']['mae'], '.2f')} meV/atom",
            "eV/atom")
    mt = np.linalg.norm(sample[:, 1:4], axis=1)
    mp = np.linalg.norm(sample[:, 4:7], axis=1)
    _parity(ax[4], mt, mp, elem, f"|F| magnitude  Pearson r = {_fmt(force['magnitude_pearson'])}", "eV/Å",
            stats.elements)


def _angle_panel(ax, stats: ErrorStats, ang: Dict) -> None:
    """Panel 6: histogram of the angular error, cut where 99.5 % of the atoms are in."""
    centers = 0.5 * (ANGLE_BINS[1:] + ANGLE_BINS[:-1])
    counts = stats.angle.counts
    top = ANGLE_BINS[min(len(counts), int(np.nonzero(np.cumsum(counts) >= 0.995 * max(counts.sum(), 1))[0][0]) + 2)] \
        if counts.sum() else 180.0
    ax.bar(centers, counts / max(counts.sum(), 1), width=0.5, color="C2")
    for value, style, lab in ((ang["mean"], "-", "mean"), (ang["median"], "--", "median")):
        if value is not None:
            ax.axvline(value, color="k", ls=style, lw=1, label=f"{lab} {value:.2f}°")
    ax.set_xlim(0, max(top, 1.0))
    ax.set_xlabel("angle between student and teacher force (°)")
    ax.set_ylabel("fraction of atoms")
    ax.set_title(f"angular error (|F| ≥ {ang['min_force']} eV/Å; {ang['skipped_small_force']} skipped)")
    ax.legend(fontsize=8)


def _error_cdf_panel(ax, stats: ErrorStats, percentiles: Dict) -> None:
    """Panel 7: CDF of the per-atom force error with its percentiles."""
    cum = np.cumsum(stats.error.counts) / max(stats.error.n, 1)
    ax.semilogx(ERROR_BINS[1:], cum, color="C3")
    for q, v in percentiles.items():
        if v is not None and v > 0:
            ax.axvline(v, color="gray", lw=0.7, ls=":")
            ax.text(v, 0.05 + 0.2 * ["p50", "p90", "p95", "p99"].index(q), f"{q}\n{v:.3f}", fontsize=7)
    nz = np.nonzero(stats.error.counts)[0]
    if len(nz):
        ax.set_xlim(ERROR_BINS[max(nz[0], 1)], ERROR_BINS[min(nz[-1] + 2, len(ERROR_BINS) - 1)])
    ax.set_xlabel("per-atom force error |ΔF| (eV/Å)")
    ax.set_ylabel("cumulative fraction of atoms")
    ax.set_title("force error CDF and percentiles")
    ax.grid(alpha=0.3)


def _element_panels(ax_error, ax_angle, per: Dict) -> None:
    """Panels 8-9: force error, then angular error and R², per element."""
    names = list(per)
    x = np.arange(len(names))
    ax_error.bar(x - 0.2, [per[n]["rmse"] or 0 for n in names], 0.4, label="RMSE")
    ax_error.bar(x + 0.2, [per[n]["mae"] or 0 for n in names], 0.4, label="MAE")
    ax_error.set_xticks(x, names)
    ax_error.set_ylabel("force component error (eV/Å)")
    ax_error.set_title("force error per element")
    ax_error.legend(fontsize=8)
    ax_angle.bar(x, [per[n]["angular_mean_deg"] or 0 for n in names], 0.5, color=[f"C{i}" for i in range(len(names))])
    for i, n in enumerate(names):
        r2 = per[n]["r2"]
        ax_angle.text(i, (per[n]["angular_mean_deg"] or 0), f"R²={_fmt(r2, '.3f')}", ha="center", va="bottom", fontsize=8)
    ax_angle.set_xticks(x, names)
    ax_angle.set_ylabel("mean angular error (°)")
    ax_angle.set_title("angular error and force R² per element")


def _component_error_panel(ax, stats: ErrorStats) -> None:
    """Panel 10: distribution of the signed force component error."""
    ce = stats.component_error
    ax.semilogy(0.5 * (ce.bins[1:] + ce.bins[:-1]), np.where(ce.counts > 0, ce.counts, np.nan), color="C4", drawstyle="steps-mid")
    ax.set_xlabel("force component error $F_{student} - F_{teacher}$ (eV/Å)")
    ax.set_ylabel("count (log)")
    ax.set_title(f"component error distribution ({ce.overflow} beyond ±1)")


def _diagonal(ax, x, y) -> None:
    lo, hi = min(x.min(), y.min()) / 2, max(x.max(), y.max()) * 2
    ax.loglog([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)


def _calibration_panel(ax, calibration: Dict) -> None:
    """Panel 13: the RMS actual error of the atoms in each bin of predicted uncertainty; on the
    diagonal the uncertainty means what it says, above it the student errs more than it admits."""
    # a zero cannot be drawn on log axes
    bins = [b for b in calibration["bins"] if b["mean_predicted"] and b["rms_actual"]]
    ax.set_title(f"uncertainty calibration  mean u / RMS |ΔF| = {_fmt(calibration['ratio'], '.2f')}")
    if not bins:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    x, y = (np.array([b[k] for b in bins]) for k in ("mean_predicted", "rms_actual"))
    counts = np.array([b["count"] for b in bins])
    _diagonal(ax, x, y)
    ax.scatter(x, y, s=15 + 150 * np.sqrt(counts / counts.max()), color="C0", zorder=3, label="bin (area ~ atoms)")
    for xi, yi, c in zip(x, y, counts):
        ax.annotate(str(c), (xi, yi), textcoords="offset points", xytext=(6, -10), fontsize=7)
    ax.set_xlabel("predicted uncertainty u, bin mean (eV/Å)")
    ax.set_ylabel("RMS actual per-atom |ΔF| in the bin (eV/Å)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")


def _frame_max_panel(ax, frames: np.ndarray, calibration: Dict) -> None:
    """Panel 14: per frame, the largest predicted uncertainty against the largest actual error."""
    rho = _fmt(calibration["spearman_max_error"], ".2f")
    ci = calibration.get("spearman_max_error_ci95")
    ax.set_title(f"per frame: max u vs max |ΔF|  Spearman ρ = {rho}"
                 + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
    shown = frames[(frames[:, 0] > 0) & (frames[:, 1] > 0)]
    if not len(shown):
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    _diagonal(ax, shown[:, 0], shown[:, 1])
    ax.scatter(shown[:, 0], shown[:, 1], s=12, alpha=0.6, color="C1", rasterized=True, label="frame")
    ax.set_xlabel("largest predicted u of the frame (eV/Å)")
    ax.set_ylabel("largest actual |ΔF| of the frame (eV/Å)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")


def _summary_lines(summary: Dict) -> List[str]:
    """The text of panel 12: headline numbers and, when known, size, speed and target."""
    force, ang, stress = summary["force"], summary["angular_error_deg"], summary["stress_gpa"]
    lines = [
        f"frames {summary['frames']}, atoms {summary['atoms']}",
        f"force R² {_fmt(force['r2'])}   (x {_fmt(force['components']['x']['r2'])}, "
        f"y {_fmt(force['components']['y']['r2'])}, z {_fmt(force['components']['z']['r2'])})",
        f"force RMSE {_fmt(force['rmse'])} eV/Å   MAE {_fmt(force['mae'])} eV/Å",
        f"|F| correlation {_fmt(force['magnitude_pearson'])}",
        f"angular error mean {_fmt(ang['mean'], '.2f')}°  median {_fmt(ang['median'], '.2f')}°  p90 {_fmt(ang['p90'], '.2f')}°",
        f"energy MAE {_fmt(summary['energy_per_atom']['mae'] and 1e3 * summary['energy_per_atom']['mae'], '.2f')} meV/atom",
        f"stress MAE {_fmt(stress and stress['mae'], '.3f')} GPa",
    ]
    calibration = summary.get("uncertainty")
    if calibration:
        lines.append(f"uncertainty: mean u / RMS |ΔF| {_fmt(calibration['ratio'], '.2f')}, "
                     f"max-u ρ {_fmt(calibration['spearman_max_error'], '.2f')}")
    for key in ("parameters", "file_size_bytes", "speed", "target"):
        if key in summary:
            value = summary[key]
            if key == "speed":
                value = f"{_fmt(value['us_per_atom'], '.2f')} µs/atom ({value['device']}, {value['threads']} thread)"
            if key == "target":
                value = value["status"] + (f" ({value['size']})" if value["size"] else "")
            lines.append(f"{key.replace('_', ' ')}: {value}")
    return lines


def plot_student(stats: ErrorStats, summary: Dict, path, *, title: str) -> Path:
    """Write the figure of one student to ``path`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if stats.uncertainty is None else 4
    fig = plt.figure(figsize=(20, 14.5 * rows / 3))
    grid = fig.add_gridspec(rows, 4)
    ax = [fig.add_subplot(grid[r, c]) for r in range(3) for c in range(4)]
    _parity_panels(ax, stats, summary)
    _angle_panel(ax[5], stats, summary["angular_error_deg"])
    _error_cdf_panel(ax[6], stats, summary["force"]["error_percentiles"])
    _element_panels(ax[7], ax[8], summary["per_element"])
    _component_error_panel(ax[9], stats)
    ss = stats.stress_sample.sample()  # 11: stress parity
    stress = summary["stress_gpa"]
    _parity(ax[10], ss[:, 0], ss[:, 1], "C5",
            "stress (periodic frames)" + (f"  R² = {_fmt(stress['r2'])}" if stress else ": none"), "GPa")
    ax[11].axis("off")  # 12: summary table
    ax[11].text(0.0, 1.0, "\n".join(_summary_lines(summary)), va="top", ha="left", family="monospace", fontsize=10,
                transform=ax[11].transAxes)
    ax[11].set_title("summary")
    if stats.uncertainty is not None:
        _calibration_panel(fig.add_subplot(grid[3, :2]), summary["uncertainty"])
        _frame_max_panel(fig.add_subplot(grid[3, 2:]), stats.uncertainty.frames(), summary["uncertainty"])
    fig.suptitle(title, fontsize=15)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return path
