"""The validation report: ``report.json`` (everything), ``report.md`` (summary table and the
reason of every failure) and PNG plots (thermo traces, NVE drift, RDFs)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np

from ..atomic import atomic_path, atomic_write_text
from .compare import bond_lengths
from .runs import Run


def _clean(value):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def run_summary(run: Run) -> Dict[str, object]:
    return {
        "workdir": run.workdir, "error": run.error, "unstable": run.unstable, "wall_s": run.wall_seconds,
        "loop_s": run.loop_seconds, "steps": run.loop_steps, "atom_steps_per_s": run.atom_steps_per_s,
        "thermo": {k: v for k, v in run.thermo.items()},
    }


def write_json(path: Path, report: Mapping[str, object]) -> None:
    atomic_write_text(path, json.dumps(_clean(dict(report)), indent=1))


def write_outputs(out_dir, stem: str, data, markdown: str, make_figure: Callable, *, dpi: int) -> Dict[str, Path]:
    """``<stem>.json``, ``<stem>.md`` and ``<stem>.png`` in ``out_dir``, each written atomically;
    ``make_figure(plt)`` draws the figure and returns it."""
    import matplotlib  # lazy: only runs that write a report need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"{stem}.{kind}" for kind in ("json", "md", "png")}
    atomic_write_text(paths["json"], json.dumps(data, indent=1))
    atomic_write_text(paths["md"], markdown + "\n")
    fig = None
    try:
        fig = make_figure(plt)
        fig.tight_layout()
        with atomic_path(paths["png"], suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        if fig is not None:
            plt.close(fig)
    return paths


def _fmt(value, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def summary_rows(results: List[Mapping[str, object]]) -> List[List[str]]:
    """One row per student: the headline numbers and the verdict."""
    rows = []
    for res in results:
        obs = res["observables"]
        st, nve, nvt = obs.get("static", {}), obs.get("nve", {}), obs.get("nvt", {})
        mn, speed = obs.get("minimize", {}), obs.get("speed", {})
        dtemp = dpress = None
        if nvt:
            dtemp = nvt["student"]["temp_mean"] - nvt["teacher"]["temp_mean"]
            dpress = nvt["student"]["press_mean"] - nvt["teacher"]["press_mean"]
        shape = obs.get("rdf", {}).get("difference")
        if "bonds" in obs:
            b = obs["bonds"]
            shape = max(abs(b["student"][k]["mean"] - b["teacher"][k]["mean"]) for k in b["teacher"])
        rows.append([
            f"{res.get('system', '')}/{res['student']}".lstrip("/"),
            "PASS" if res["passed"] else "FAIL",
            _fmt(st.get("force_rmse")), _fmt(st.get("force_r2"), ".3f"), _fmt(1e3 * st["energy_mae"] if st else None),
            _fmt(1e3 * nve["student"]["drift"] if nve else None),
            _fmt(dtemp, ".1f"), _fmt(dpress, ".0f"), _fmt(shape),
            _fmt(1e3 * (mn["student"]["energy"] - mn["teacher"]["energy"]) if mn else None), _fmt(mn.get("rmsd")),
            _fmt(speed.get("student"), ".3g"), _fmt(speed.get("speedup"), ".3g"),
        ])
    return rows


HEADER = ["student", "verdict", "F RMSE (eV/A)", "F R2", "E MAE (meV/atom)", "NVE drift (meV/atom/ps)",
          "dT (K)", "dP (bar)", "RDF diff / bond dL (A)", "relaxed dE (meV/atom)", "relaxed RMSD (A)",
          "atom-steps/s", "speed-up"]


def markdown_table(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def write_markdown(path: Path, report: Mapping[str, object]) -> str:
    """Write ``report.md`` and return the summary table (also printed by the CLI)."""
    results = report["results"]
    teacher_rows = []
    for system in report["systems"]:  # the teacher's own drift and speed, for scale
        t = system["teacher"]
        row = ["-"] * len(HEADER)
        row[0], row[1] = f"{system['system']}/teacher ({t['name']})", "reference"
        row[5] = _fmt(1e3 * t["nve_drift"] if t.get("nve_drift") is not None else None)
        row[11] = _fmt(t.get("atom_steps_per_s"))
        teacher_rows.append(row)
    table = markdown_table(HEADER, teacher_rows + summary_rows(results))
    out = ["# pair_student validation", ""]
    for system in report["systems"]:
        t = system["teacher"]
        speed = t.get("atom_steps_per_s")
        out.append(f"- **{system['system']}**: {system['natoms']} atoms, teacher `{t['name']}` ({t['kind']}, "
                   f"{_fmt(speed)} atom-steps/s in NVT), protocols {', '.join(system['protocols'])}")
    checks = "".join(f"; {name}: {'PASS' if ok else 'FAIL'} (see <system>/{name}.md)"
                     for name, ok in report.get("checks", {}).items())
    out += ["", f"Overall: **{'PASS' if report['passed'] else 'FAIL'}**{checks}, wall time {report['wall_s']:.0f} s", "",
            "## Summary", "", table, ""]
    failed = [r for r in results if not r["passed"]]
    if failed:
        out += ["## Why students failed", ""]
        for res in failed:
            out.append(f"- `{res.get('system', '')}/{res['student']}`: " + "; ".join(res["reasons"]))
        out.append("")
    out += ["## Thresholds", "", markdown_table(["check", "value"], [[k, _fmt(v)] for k, v in report["thresholds"].items()]),
            "", "Plots: " + ", ".join(f"`{p}`" for p in report.get("plots", [])), ""]
    atomic_write_text(path, "\n".join(out))
    return table


def plot_system(*, out: Path, system: str, runs: Mapping[str, Mapping[str, Run]], teacher: str,
                results: List[Mapping[str, object]], start=None) -> List[str]:
    """Thermo traces per MD protocol, the NVE drift, the RDFs (crystals) or bond-length
    distributions (molecules, needs the ``start`` structure) of one system; returns the file
    names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    teacher_style = dict(color="k", lw=2.0)

    def save(fig, name: str) -> None:
        fig.tight_layout()
        with atomic_path(out / name, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=90)
        plt.close(fig)
        written.append(name)

    def single_panel(series, *, xlabel: str, ylabel: str, title: str, name: str) -> None:
        """One axes of ``(label, x, y)`` lines, the teacher drawn heavy and black."""
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for label, x, y in series:
            ax.plot(x, y, label=label, **(teacher_style if label == teacher else dict(lw=1.0)))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=7)
        save(fig, name)

    for protocol, by_model in runs.items():
        if protocol == "minimize":
            continue
        cols = [("Temp", "T (K)"), ("PotEng", "PE (eV/atom)"), ("TotEng", "E total (eV/atom)"), ("Press", "P (bar)")]
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
        for label, run in by_model.items():
            if not run.thermo:
                continue
            style = teacher_style if label == teacher else dict(lw=1.0)
            for ax, (col, name) in zip(axes, cols):
                y = run.thermo[col] / (run.natoms if col in ("PotEng", "TotEng") else 1)
                ax.plot(run.thermo["Time"], y, label=label, **style)
                ax.set_xlabel("time (ps)")
                ax.set_ylabel(name)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{system} {protocol}")
        save(fig, f"{system}_{protocol}_thermo.png")
    if "nve" in runs:
        drift = [(label, run.thermo["Time"], 1e3 * (run.thermo["TotEng"] - run.thermo["TotEng"][0]) / run.natoms)
                 for label, run in runs["nve"].items() if run.thermo]
        single_panel(drift, xlabel="time (ps)", ylabel="E total - E(0) (meV/atom)",
                     title=f"{system} NVE energy conservation", name=f"{system}_nve_drift.png")
    with_rdf = [r for r in results if "rdf" in r["observables"]]
    if with_rdf:
        rdf0 = with_rdf[0]["observables"]["rdf"]
        series = [(teacher, rdf0["r"], rdf0["teacher"])]
        series += [(res["student"], res["observables"]["rdf"]["r"], res["observables"]["rdf"]["student"]) for res in with_rdf]
        single_panel(series, xlabel="r (A)", ylabel="g(r)", title=f"{system} RDF (NVT)", name=f"{system}_rdf.png")
    if start is not None and not any(start.pbc) and "nvt" in runs:
        per_model = {m: bond_lengths(start, r.frames) for m, r in runs["nvt"].items() if r.frames}
        names = sorted({n for d in per_model.values() for n in d})
        if names:
            fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
            for ax, name in zip(axes[0], names):
                for label, lengths in per_model.items():
                    ax.hist(lengths.get(name, []), bins=30, histtype="step", density=True, label=label,
                            **(teacher_style if label == teacher else {}))
                ax.set_xlabel(f"{name} bond length (A)")
                ax.set_ylabel("probability density (1/A)")
            axes[0][0].legend(fontsize=7)
            fig.suptitle(f"{system} bond lengths (NVT)")
            save(fig, f"{system}_bonds.png")
    return written


def print_failures(results: List[Mapping[str, object]]) -> Optional[str]:
    lines = [f"FAIL {r.get('system', '')}/{r['student']}: " + "; ".join(r["reasons"]) for r in results if not r["passed"]]
    return "\n".join(lines) or None
