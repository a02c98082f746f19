"""The one-page figure of a student's errors: 12 panels on a 3 x 4 grid, units on every axis."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np

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


def plot_student(stats: ErrorStats, summary: Dict, path, *, title: str) -> Path:
    """Write the figure of one student to ``path`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 4, figsize=(20, 14.5))
    ax = axes.ravel()
    sample = stats.force_sample.sample()
    elem = sample[:, 0].astype(int) if len(sample) else np.zeros(0, int)
    force = summary["force"]
    for k, c in enumerate(COMPONENTS):  # 1-3: component parity
        r2 = force["components"][c]["r2"]
        _parity(ax[k], sample[:, 1 + k], sample[:, 4 + k], elem, f"force $F_{c}$  R² = {_fmt(r2)}",
                "eV/Å", stats.elements)
    es = stats.energy_sample.sample()  # 4: energy parity
    _parity(ax[3], es[:, 1], es[:, 2], "C0", f"energy  MAE = {_fmt(summary['energy_per_atom']['mae'] and 1e3 * summary['energy_per_atom']['mae'], '.2f')} meV/atom",
            "eV/atom")
    mt = np.linalg.norm(sample[:, 1:4], axis=1)  # 5: magnitude
    mp = np.linalg.norm(sample[:, 4:7], axis=1)
    _parity(ax[4], mt, mp, elem, f"|F| magnitude  Pearson r = {_fmt(force['magnitude_pearson'])}", "eV/Å",
            stats.elements)

    ang = summary["angular_error_deg"]  # 6: angular histogram
    centers = 0.5 * (ANGLE_BINS[1:] + ANGLE_BINS[:-1])
    counts = stats.angle.counts
    top = ANGLE_BINS[min(len(counts), int(np.nonzero(np.cumsum(counts) >= 0.995 * max(counts.sum(), 1))[0][0]) + 2)] \
        if counts.sum() else 180.0
    ax[5].bar(centers, counts / max(counts.sum(), 1), width=0.5, color="C2")
    for value, style, lab in ((ang["mean"], "-", "mean"), (ang["median"], "--", "median")):
        if value is not None:
            ax[5].axvline(value, color="k", ls=style, lw=1, label=f"{lab} {value:.2f}°")
    ax[5].set_xlim(0, max(top, 1.0))
    ax[5].set_xlabel("angle between student and teacher force (°)")
    ax[5].set_ylabel("fraction of atoms")
    ax[5].set_title(f"angular error (|F| ≥ {ang['min_force']} eV/Å; {ang['skipped_small_force']} skipped)")
    ax[5].legend(fontsize=8)

    cum = np.cumsum(stats.error.counts) / max(stats.error.n, 1)  # 7: CDF of |dF|
    ax[6].semilogx(ERROR_BINS[1:], cum, color="C3")
    for q, v in force["error_percentiles"].items():
        if v is not None and v > 0:
            ax[6].axvline(v, color="gray", lw=0.7, ls=":")
            ax[6].text(v, 0.05 + 0.2 * ["p50", "p90", "p95", "p99"].index(q), f"{q}\n{v:.3f}", fontsize=7)
    nz = np.nonzero(stats.error.counts)[0]
    if len(nz):
        ax[6].set_xlim(ERROR_BINS[max(nz[0], 1)], ERROR_BINS[min(nz[-1] + 2, len(ERROR_BINS) - 1)])
    ax[6].set_xlabel("per-atom force error |ΔF| (eV/Å)")
    ax[6].set_ylabel("cumulative fraction of atoms")
    ax[6].set_title("force error CDF and percentiles")
    ax[6].grid(alpha=0.3)

    per = summary["per_element"]  # 8-9: per element bars
    names = list(per)
    x = np.arange(len(names))
    ax[7].bar(x - 0.2, [per[n]["rmse"] or 0 for n in names], 0.4, label="RMSE")
    ax[7].bar(x + 0.2, [per[n]["mae"] or 0 for n in names], 0.4, label="MAE")
    ax[7].set_xticks(x, names)
    ax[7].set_ylabel("force component error (eV/Å)")
    ax[7].set_title("force error per element")
    ax[7].legend(fontsize=8)
    ax[8].bar(x, [per[n]["angular_mean_deg"] or 0 for n in names], 0.5, color=[f"C{i}" for i in range(len(names))])
    for i, n in enumerate(names):
        r2 = per[n]["r2"]
        ax[8].text(i, (per[n]["angular_mean_deg"] or 0), f"R²={_fmt(r2, '.3f')}", ha="center", va="bottom", fontsize=8)
    ax[8].set_xticks(x, names)
    ax[8].set_ylabel("mean angular error (°)")
    ax[8].set_title("angular error and force R² per element")

    ce = stats.component_error  # 10: signed component error distribution
    ax[9].semilogy(0.5 * (ce.bins[1:] + ce.bins[:-1]), np.where(ce.counts > 0, ce.counts, np.nan), color="C4", drawstyle="steps-mid")
    ax[9].set_xlabel("force component error $F_{student} - F_{teacher}$ (eV/Å)")
    ax[9].set_ylabel("count (log)")
    ax[9].set_title(f"component error distribution ({ce.overflow} beyond ±1)")

    ss = stats.stress_sample.sample()  # 11: stress parity
    stress = summary["stress_gpa"]
    _parity(ax[10], ss[:, 0], ss[:, 1], "C5",
            "stress (periodic frames)" + (f"  R² = {_fmt(stress['r2'])}" if stress else ": none"), "GPa")

    ax[11].axis("off")  # 12: summary table
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
    for key in ("parameters", "file_size_bytes", "speed", "target"):
        if key in summary:
            value = summary[key]
            if key == "speed":
                value = f"{_fmt(value['us_per_atom'], '.2f')} µs/atom ({value['device']}, {value['threads']} thread)"
            if key == "target":
                value = value["status"] + (f" ({value['size']})" if value["size"] else "")
            lines.append(f"{key.replace('_', ' ')}: {value}")
    ax[11].text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=10,
                transform=ax[11].transAxes)
    ax[11].set_title("summary")
    fig.suptitle(title, fontsize=15)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
