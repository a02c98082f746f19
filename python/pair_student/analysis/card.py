"""The comparison card: one row per student, Markdown (and a standalone HTML copy)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Dict, List

from ..atomic import atomic_write_text
from ..registry import QUALITY_TARGETS

COLUMNS = [
    ("student", lambda s: s["name"]),
    ("parameters", lambda s: f"{s['parameters']:,}"),
    ("file size", lambda s: _size(s["file_size_bytes"])),
    ("force R²", lambda s: _ci(s["force"]["r2"], s["force"].get("r2_ci95"), ".4f")),
    ("R² x / y / z", lambda s: " / ".join(_f(s["force"]["components"][c]["r2"], ".3f") for c in "xyz")),
    ("force RMSE (meV/Å)", lambda s: _ci(s["force"]["rmse"], s["force"].get("rmse_ci95"), ".1f", 1e3)),
    ("RMSE / best", lambda s: _vs_best(s.get("force_rmse_vs_best"))),
    ("force MAE (meV/Å)", lambda s: _ci(s["force"]["mae"], s["force"].get("mae_ci95"), ".1f", 1e3)),
    ("angle mean / median (°)", lambda s: _angles(s["angular_error_deg"])),
    ("|ΔF| p95 (meV/Å)", lambda s: _f(s["force"]["error_percentiles"]["p95"], ".1f", 1e3)),
    ("energy MAE (meV/atom)", lambda s: _ci(s["energy_per_atom"]["mae"], s["energy_per_atom"].get("mae_ci95"),
                                            ".2f", 1e3)),
    ("stress MAE (GPa)", lambda s: _f(s["stress_gpa"] and s["stress_gpa"]["mae"], ".3f")),
    ("speed (µs/atom)", lambda s: _f(s["speed"]["us_per_atom"], ".2f")),
    ("target", lambda s: _target(s["target"])),
]


def _f(value, spec: str, scale: float = 1.0) -> str:
    return "n/a" if value is None else format(scale * value, spec)


def _ci(value, ci, spec: str, scale: float = 1.0) -> str:
    """``0.057 [0.051, 0.064]``: the value and its 95 % interval, or the value alone without one."""
    if value is None or not ci:
        return _f(value, spec, scale)
    return f"{_f(value, spec, scale)} [{_f(ci[0], spec, scale)}, {_f(ci[1], spec, scale)}]"


def _angles(a: Dict) -> str:
    return f"{_ci(a['mean'], a.get('mean_ci95'), '.2f')} / {_f(a['median'], '.2f')}"


def _vs_best(paired) -> str:
    """The paired ratio to the most accurate student: ``1.213 [1.102, 1.331] worse`` or ``... tie``."""
    if paired is None:
        return "–"
    word = {"B better": "worse", "A better": "better", "tie": "tie"}[paired["verdict"]]
    return f"{_ci(paired['ratio'], paired.get('ratio_ci95'), '.3f')} {word}"  # 1.004 must not read as 1.00


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.2f} MiB"


def _target(t: Dict) -> str:
    if t["status"] == "report only":
        return "report only"
    goal = t["target"]
    mark = "PASS" if t["status"] == "pass" else "FAIL"
    return f"{mark} ({t['size']}: R² ≥ {goal['force_r2_min']}, angle ≤ {goal['angular_mean_max_deg']}°)"


def targets_sentence() -> str:
    """The quality targets of every size, as the card states them."""
    parts = []
    for i, (size, goal) in enumerate(QUALITY_TARGETS.items()):
        # the first names what the numbers are; the others repeat only the numbers
        r2, angle = ("R² ≥ ", "mean angle ≤ ") if i == 0 else ("≥ ", "≤ ")
        parts.append(f"`{size}` {r2}{goal.force_r2_min:g} and {angle}{goal.angular_mean_max_deg:g}°")
    return "Targets: " + ", ".join(parts) + "; other students are reported only."


def _cell(report: Dict, student: Dict, name: str, fn) -> str:
    if name == "RMSE / best" and student["name"] == report.get("best_force_rmse"):
        return "best"
    return fn(student)


def intervals_sentence(report: Dict) -> str:
    """What the brackets mean, with the resampling settings of the report."""
    boot = next((s["bootstrap"] for s in report["students"] if s.get("bootstrap")), None)
    if boot is None:
        return "No intervals: this report predates them."
    return (f"In brackets: 95 % bootstrap interval over the {report['frames']} test frames ({boot['resamples']:,} "
            f"resamples of whole frames, seed {boot['seed']}; none below 2 frames). RMSE / best: force RMSE "
            "over the most accurate student's, paired on the same resampled frames; \"worse\" when its "
            "interval lies above 1, \"tie\" when the frames cannot separate the two.")


def uncertainty_sentence(report: Dict) -> str:
    """How well the per-atom uncertainty of each student that carries one matches its errors;
    empty when none does, so the card of other students reads as before."""
    parts = [f"{s['name']} {_f(u['ratio'], '.2f')}, "
             f"ρ {_ci(u['spearman_max_error'], u.get('spearman_max_error_ci95'), '.2f')}"
             for s in report["students"] if (u := s.get("uncertainty"))]
    if not parts:
        return ""
    return ("Per-atom uncertainty: mean predicted over RMS actual force error (1 when calibrated), and "
            "Spearman ρ over frames between the largest predicted and the largest actual error: "
            + "; ".join(parts) + ".")


def markdown(report: Dict) -> str:
    """The card as Markdown text."""
    rows: List[List[str]] = [[_cell(report, s, name, fn) for name, fn in COLUMNS] for s in report["students"]]
    lines = [
        "# Student comparison card",
        "",
        f"Teacher: **{report['teacher'] or 'labels of the dataset'}**; frames: `{report['frames_file']}` "
        f"({report['frames']} frames, labels from {report.get('labels', 'teacher')}).",
        "",
        "| " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", f"{intervals_sentence(report)}", ""]
    calibration = uncertainty_sentence(report)
    if calibration:
        lines += [calibration, ""]
    lines += [
        f"{targets_sentence()} Angular errors count atoms whose teacher force is at least the "
        "threshold in metrics.json. Speed: forward + backward of the TorchScript file on these "
        "frames, graph construction excluded.",
        "",
    ]
    for s in report["students"]:
        if s.get("figure"):
            lines.append(f"![{s['name']}]({Path(s['figure']).name})")
    return "\n".join(lines) + "\n"


def html_card(report: Dict) -> str:
    """The card as a standalone HTML page (same content as :func:`markdown`)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in COLUMNS)
    body = ""
    for s in report["students"]:
        cells = "".join(f"<td>{html.escape(_cell(report, s, name, fn))}</td>" for name, fn in COLUMNS)
        body += f"<tr class='{s['target']['status'].replace(' ', '-')}'>{cells}</tr>\n"
    figures = "".join(f"<h2>{html.escape(s['name'])}</h2><img src='{html.escape(Path(s['figure']).name)}' "
                      "style='max-width:100%'>" for s in report["students"] if s.get("figure"))
    calibration = uncertainty_sentence(report)
    extra = f"<p>{html.escape(calibration)}</p>" if calibration else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Student comparison</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} tr.pass td:last-child{{color:green}}
tr.fail td:last-child{{color:#b00}}</style></head><body>
<h1>Student comparison card</h1><p>Teacher: <b>{html.escape(str(report['teacher'] or 'labels of the dataset'))}</b>;
frames: <code>{html.escape(str(report['frames_file']))}</code> ({report['frames']} frames)</p>
<table><tr>{head}</tr>
{body}</table><p>{html.escape(intervals_sentence(report))}</p>{extra}{figures}</body></html>
"""


def write_card(report: Dict, out_dir, *, html_too: bool = True) -> Path:
    """Write ``card.md`` (and ``card.html``) into ``out_dir``; returns the Markdown path."""
    out_dir = Path(out_dir)
    path = out_dir / "card.md"
    atomic_write_text(path, markdown(report))
    if html_too:
        atomic_write_text(out_dir / "card.html", html_card(report))
    return path
