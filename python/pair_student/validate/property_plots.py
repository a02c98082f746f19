"""The figure of the property report (``properties.png``): one panel per compared curve, the
teacher heavy and black, every student in its own colour."""

from __future__ import annotations

from typing import List

import numpy as np

from .molecule import FREQ_MIN_CM


def _models(report: dict) -> dict:
    return {"teacher": report["teacher_data"], **report["student_data"]}


def _style(k: int) -> dict:
    return dict(color="k", lw=2.2, zorder=3) if k == 0 else dict(color=f"C{k - 1}", lw=1.1)


def plot_eos(ax, report: dict) -> None:
    for k, (label, data) in enumerate(_models(report).items()):
        eos = data["eos"]
        v, e = np.array(eos["volumes"]), np.array(eos["energies"])
        # each model relative to its own minimum: absolute energies of teacher and students differ
        # by a constant that says nothing about the curve
        ax.plot(v, (e - e.min()) * 1000, "s-" if k == 0 else "o-", label=label, **_style(k))
        if eos["v0"] is not None:
            ax.axvline(eos["v0"], color=_style(k)["color"], ls=":", lw=0.8)
    ax.set_xlabel("volume (A^3/atom)")
    ax.set_ylabel("E - E_min (meV/atom)")
    ax.set_title(f"{report['system']}: E-V curves (dotted: fitted V0)")
    ax.legend(fontsize=8)


def plot_frequencies(ax, report: dict) -> None:
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


def plot_phonons(ax, report: dict) -> None:
    path = report["phonon_path"]
    x = np.array(path["x"])
    for k, (label, data) in enumerate(_models(report).items()):
        freqs = np.array(data["phonons"]["frequencies_THz"], dtype=float)
        for b in range(freqs.shape[1]):
            ax.plot(x, freqs[:, b], label=label if b == 0 else None, **_style(k))
    ticks, names = [], []
    for sx, name in zip(path["special_x"], path["labels"]):
        name = "Γ" if name == "G" else name
        if ticks and abs(sx - ticks[-1]) < 1e-9:  # a jump in the path: both ends at one x
            names[-1] += "|" + name
        else:
            ticks.append(sx)
            names.append(name)
        ax.axvline(sx, color="0.6", lw=0.6)
    ax.set_xticks(ticks)
    ax.set_xticklabels(names)
    ax.set_xlim(x[0], x[-1])
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_ylabel("frequency (THz)")
    ax.set_title(f"{report['system']}: phonon bands")
    ax.legend(fontsize=8)


def plot_torsion(ax, report: dict, n: int) -> None:
    scan = report["teacher_data"]["torsions"][n]
    for k, (label, data) in enumerate(_models(report).items()):
        t = data["torsions"][n]
        # unwrap onto the teacher's start: the profile reads left to right from its minimum
        angles = (np.array(t["angles_deg"]) - scan["angles_deg"][0]) % 360.0
        order = np.argsort(angles)
        ax.plot(angles[order], np.array(t["profile_eV"])[order] * 1000, "s-" if k == 0 else "o-",
                label=label, ms=4, **_style(k))
    ax.set_xlabel(f"dihedral - {scan['angles_deg'][0]:.0f} deg")
    ax.set_ylabel("E - E_min (meV)")
    ax.set_title(f"{report['system']}: torsion {scan['label']} {scan['atoms']}")
    ax.legend(fontsize=8)


def _panels(report: dict) -> List:
    if report["kind"] == "crystal":
        return [plot_eos] + ([plot_phonons] if "phonon_path" in report else [])
    scans = len(report["teacher_data"].get("torsions", []))
    return [plot_frequencies] + [lambda ax, r, n=n: plot_torsion(ax, r, n) for n in range(scans)]


def property_figure(plt, report: dict):
    panels = _panels(report)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, draw in zip(axes[0], panels):
        draw(ax, report)
    return fig


__all__ = ["property_figure", "plot_eos", "plot_frequencies", "plot_phonons", "plot_torsion"]
