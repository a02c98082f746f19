"""The loop's per-round record: ``rounds.json`` (machine-readable, the resume point),
``rounds.md`` (a table) and ``rounds.png`` (labels added, exploration uncertainty, errors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..atomic import atomic_path, atomic_write_text


def _metric(row: Dict[str, Any], where: str, key: str) -> Optional[float]:
    return (row.get(where) or {}).get(key)


def _fmt(x, digits=4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def _table(rows: List[Dict[str, Any]], threshold: Optional[float], chosen: Optional[int]) -> str:
    lines = [f"Selection threshold: {_fmt(threshold)} eV/Å on a frame's most uncertain atom."]
    if chosen is not None:
        lines.append(f"The loop's student is round {chosen}'s: the lowest validation force RMSE.")
    lines += ["", "| round | explored | max u (eV/Å) | mean max u | labelled | labels spent | validation force RMSE "
              "| test force RMSE | held-out force RMSE | held-out R² | held-out angle (°) | stop |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(" | ".join([
            f"| {r['round']}", str(r.get("explored", "–")), _fmt(r.get("uncertainty_max")), _fmt(r.get("uncertainty_mean")),
            str(r.get("selected", 0)), str(r.get("labels_spent", 0)), _fmt(_metric(r, "validation", "force_rmse")),
            _fmt(_metric(r, "test", "force_rmse")),
            _fmt(_metric(r, "heldout", "force_rmse")), _fmt(_metric(r, "heldout", "force_r2")),
            _fmt(_metric(r, "heldout", "force_angle_mean_deg"), 3), f"{r.get('stop') or ''} |"]))
    return "\n".join(lines) + "\n"


def _plot(path: Path, rows: List[Dict[str, Any]], threshold: Optional[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = [r["round"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].bar(k, [r.get("selected", 0) for r in rows], color="tab:blue")
    axes[0].set(xlabel="round", ylabel="frames labelled", title="teacher labels per round")
    explored = [r for r in rows if "uncertainty_max" in r]
    axes[1].plot([r["round"] for r in explored], [r["uncertainty_max"] for r in explored], "o-", label="max")
    axes[1].plot([r["round"] for r in explored], [r["uncertainty_mean"] for r in explored], "s-", label="mean of frame maxima")
    if threshold is not None:
        axes[1].axhline(threshold, color="k", ls="--", lw=1, label="threshold")
    axes[1].set(xlabel="round", ylabel="uncertainty (eV/Å)", title="exploration with the previous student")
    axes[1].legend(fontsize=8)
    for where, marker in (("test", "o-"), ("heldout", "s-")):
        pts = [(r["round"], _metric(r, where, "force_rmse")) for r in rows if _metric(r, where, "force_rmse") is not None]
        if pts:
            axes[2].plot(*zip(*pts), marker, label="held-out" if where == "heldout" else "test split")
    axes[2].set(xlabel="round", ylabel="force RMSE (eV/Å)", title="student against the teacher")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_rounds(out: Path, config: Dict[str, Any], rows: List[Dict[str, Any]], threshold: Optional[float] = None,
                 chosen: Optional[int] = None) -> None:
    record = {"config": config, "threshold": threshold, "rounds": rows, "chosen_round": chosen}
    atomic_write_text(out / "rounds.json", json.dumps(record, indent=1, default=str))
    atomic_write_text(out / "rounds.md", _table(rows, threshold, chosen))
    _plot(out / "rounds.png", rows, threshold)
