"""How well each uncertainty estimator flags where a student is wrong, on the held-out sets
(``benchmarks/datasets/heldout/``: defects, surfaces, melts, hotter MD, stretched bonds), and
at what cost.

``python -m benchmarks uncertainty [--systems si,gan,ethanol] [--out benchmarks/uncertainty]``

Estimators, each fitted on the student's dataset (training split: statistics; validation
split: calibration), never on a held-out or test frame:

* ``invariants``: whitened distance of the readout's input, the rotation invariants, calibrated
  into eV/A (what ships, :mod:`pair_student.models.uncertainty`);
* ``last-layer``: the same distance on the readout's last activations;
* ``committee``: the spread of the forces of the three shipped sizes of the system, per atom
  ``sqrt(mean_m |F_m - F_mean|^2)``: a committee of students of different sizes, which costs
  all three of them.

Per (system, student, estimator): the Spearman correlation between a frame's largest atom
uncertainty and its largest atom force error, and the ROC AUC of that uncertainty for the
frames whose force RMSE exceeds twice the student's RMSE on its in-distribution test split,
each with a 95 % bootstrap interval over frames; the cost is the estimator's time per frame
over the student's own (Python, one thread). Writes ``uncertainty.json``/``.md`` and a plot.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from scipy.stats import spearmanr

from pair_student.atomic import atomic_path, atomic_write_text
from pair_student.data.dataset import frame_labels, read_dataset
from pair_student.graph import atoms_to_graph, edge_forces
from pair_student.models.shipped import shipped_models
from pair_student.models.student_file import model_from_student_file
from pair_student.models.uncertainty import distances, fit_statistics, fit_uncertainty, hidden_of

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"si": "benchmarks/datasets/large/si.extxyz.gz", "gan": "benchmarks/datasets/large/gan.extxyz.gz",
            "ethanol": "benchmarks/datasets/ethanol.extxyz"}
"""Where each system's statistics and calibration come from: the Si and GaN students' own
datasets are gone, so the large datasets' training and validation splits stand in; the ethanol
students' own dataset still exists."""
HELDOUT = "benchmarks/datasets/heldout/{}.extxyz.gz"
SELECTION = "benchmarks/datasets/large/{}.extxyz.gz"
"""``--on selection``: the validation split of the large datasets, where the shipped estimator
was chosen before any held-out frame was read (for ethanol these frames lie outside the
students' own dataset too)."""
RESAMPLES = 1000


def _forces(model, atoms) -> np.ndarray:
    g = atoms_to_graph(atoms, model.cutoff, model.elements)
    _, grad = model(g["species"], g["edge_index"], g["edge_vectors"].requires_grad_(True), g["num_local"])
    return edge_forces(g["edge_index"], grad.detach(), len(atoms)).numpy()


def _timed(fn: Callable, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _auc(score: np.ndarray, positive: np.ndarray) -> Optional[float]:
    """ROC AUC as the Mann-Whitney probability that a positive frame outranks a negative one."""
    pos, neg = score[positive], score[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def _interval(stat: Callable[[np.ndarray], Optional[float]], n: int, seed: int = 0) -> Optional[List[float]]:
    rng = np.random.default_rng(seed)
    values = [stat(rng.integers(0, n, n)) for _ in range(RESAMPLES)]
    values = [v for v in values if v is not None and np.isfinite(v)]
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if len(values) > RESAMPLES // 2 else None


def _scores(frame_u: np.ndarray, frame_err: np.ndarray, frame_rmse: np.ndarray, reference_rmse: float) -> Dict:
    bad = frame_rmse > 2.0 * reference_rmse
    rho = lambda idx: float(spearmanr(frame_u[idx], frame_err[idx]).statistic)  # noqa: E731
    auc = lambda idx: _auc(frame_u[idx], bad[idx])  # noqa: E731
    every = np.arange(len(frame_u))
    return {"spearman": rho(every), "spearman_ci95": _interval(rho, len(every)),
            "auc": auc(every), "auc_ci95": _interval(auc, len(every)), "flagged_frames": int(bad.sum())}


def _per_frame(models: Dict[str, torch.nn.Module], frames, fitted: Dict[str, Dict]) -> Dict[str, Dict[str, np.ndarray]]:
    """Per student and estimator the largest atom uncertainty of each frame, and per student the
    largest atom error and the force RMSE of each frame, with the time each took."""
    out: Dict[str, Dict] = {s: {"u": {e: [] for e in ("last-layer", "invariants", "committee")}, "err": [], "rmse": [],
                                "seconds": {"student": 0.0, "last-layer": 0.0, "invariants": 0.0}} for s in models}
    for atoms in frames:
        truth = frame_labels(atoms)["forces"]
        forces = {}
        for size, model in models.items():
            forces[size], dt = _timed(_forces, model, atoms)
            rec = out[size]
            rec["seconds"]["student"] += dt
            err = np.linalg.norm(forces[size] - truth, axis=1)
            rec["err"].append(err.max())
            rec["rmse"].append(np.sqrt((err ** 2).mean() / 3))
            g = atoms_to_graph(atoms, model.cutoff, model.elements)
            with torch.no_grad():
                u, dt = _timed(model.atom_uncertainty, g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
            rec["u"]["invariants"].append(float(u.max()))
            rec["seconds"]["invariants"] += dt
            mean, whiten = fitted[size]["last-layer"]
            d, dt = _timed(distances, model, atoms, mean, whiten, hidden_of)
            rec["u"]["last-layer"].append(float(d.max()))
            rec["seconds"]["last-layer"] += dt
        stack = np.stack(list(forces.values()))
        spread = np.sqrt(((stack - stack.mean(0)) ** 2).sum(2).mean(0))
        for size in models:
            out[size]["u"]["committee"].append(float(spread.max()))
    return out


def _reference_rmse(model, frames) -> float:
    sq = [((_forces(model, a) - frame_labels(a)["forces"]) ** 2).ravel() for a in frames]
    return float(np.sqrt(np.concatenate(sq).mean()))


def _frames(system: str, on: str) -> List:
    if on == "heldout":
        return list(read_dataset(ROOT / HELDOUT.format(system)))
    return list(read_dataset(ROOT / SELECTION.format(system), split="val"))


def measure(system: str, on: str = "heldout") -> Dict:
    files = shipped_models()[system]
    dataset = ROOT / DATASETS[system]
    train, val = list(read_dataset(dataset, split="train")), list(read_dataset(dataset, split="val"))
    test = list(read_dataset(dataset, split="test"))
    heldout = _frames(system, on)
    models, fitted, result = {}, {}, {"system": system, "on": on, "heldout_frames": len(heldout), "students": {}}
    for size, path in files.items():
        model, _ = model_from_student_file(path)
        report = fit_uncertainty(model, train, val)
        fitted[size] = {"last-layer": fit_statistics(model, train, features=hidden_of), "invariants": report}
        models[size] = model
    per = _per_frame(models, heldout, fitted)
    for size, model in models.items():
        rec = per[size]
        ref = _reference_rmse(model, test)
        u = {e: np.array(v) for e, v in rec["u"].items()}
        err, rmse = np.array(rec["err"]), np.array(rec["rmse"])
        cost = {e: rec["seconds"][e] / rec["seconds"]["student"] for e in ("last-layer", "invariants")}
        cost["committee"] = sum(per[s]["seconds"]["student"] for s in models) / rec["seconds"]["student"]
        result["students"][size] = {
            "test_force_rmse": ref, "heldout_force_rmse": float(np.sqrt((rmse ** 2).mean())),
            "calibration": fitted[size]["invariants"]["calibration"],
            "mean_predicted_over_max_error": float(u["invariants"].mean() / err.mean()),
            "estimators": {e: {**_scores(u[e], err, rmse, ref), "cost_vs_student": cost[e]} for e in u},
            "frames": {"u": u["invariants"].tolist(), "max_error": err.tolist(), "rmse": rmse.tolist()},
        }
    return result


def _fmt(x, ci=None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def markdown(results: List[Dict], cpu: str) -> str:
    where = "Held-out sets" if results and results[0]["on"] == "heldout" else "Validation splits of the large datasets"
    lines = [f"{where}, shipped students; CPU: {cpu}. Spearman: a frame's largest atom uncertainty "
             "against its largest atom force error. AUC: flagging frames whose force RMSE exceeds 2x the "
             "student's in-distribution test RMSE. Cost: estimator time over the student's own (Python).", "",
             "| system | student | test RMSE | held-out RMSE | estimator | Spearman [95 % CI] | AUC [95 % CI] | flagged | cost |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for size, s in r["students"].items():
            for name, e in s["estimators"].items():
                lines.append(f"| {r['system']} | {size} | {s['test_force_rmse']:.3f} | {s['heldout_force_rmse']:.3f} | {name} | "
                             f"{_fmt(e['spearman'], e['spearman_ci95'])} | {_fmt(e['auc'], e['auc_ci95'])} | "
                             f"{e['flagged_frames']}/{r['heldout_frames']} | {e['cost_vs_student']:.2f}x |")
    return "\n".join(lines) + "\n"


def plot(results: List[Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results):
        for size, s in r["students"].items():
            f = s["frames"]
            ax.loglog(f["u"], f["max_error"], ".", ms=4, alpha=0.7,
                      label=f"{size} (rho {s['estimators']['invariants']['spearman']:.2f})")
        lo = min(min(s["frames"]["u"] + s["frames"]["max_error"]) for s in r["students"].values())
        hi = max(max(s["frames"]["u"] + s["frames"]["max_error"]) for s in r["students"].values())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlabel="largest atom uncertainty (eV/Å)", ylabel="largest atom force error (eV/Å)",
               title=f"{r['system']}: {'held-out' if r['on'] == 'heldout' else 'validation'} frames")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks uncertainty") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", default="si,gan,ethanol")
    p.add_argument("--on", choices=("heldout", "selection"), default="heldout",
                   help="frames to score: the held-out sets, or the large datasets' validation splits")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "uncertainty"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for system in [s.strip() for s in args.systems.split(",") if s.strip()]:
        start = time.perf_counter()
        results.append({**measure(system, args.on), "wall_s": round(time.perf_counter() - start, 1)})
        print(f"{system}: done in {results[-1]['wall_s']} s", flush=True)
    cpu = f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cpus"
    stem = out / f"uncertainty_{args.on}"
    atomic_write_text(stem.with_suffix(".json"), json.dumps({"cpu": cpu, "results": results}, indent=1))
    atomic_write_text(stem.with_suffix(".md"), markdown(results, cpu))
    plot(results, stem.with_suffix(".png"))
    print(markdown(results, cpu))
    return 0
