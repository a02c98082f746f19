"""Benchmark report: Pareto analysis, targets, Markdown tables and the accuracy–speed plot,
all from the JSON the benchmark writes (``python -m benchmarks --report-only bench.json``
rebuilds them)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from pair_student.analysis.bootstrap import compare_rmse
from pair_student.registry import PEER_RATIO_TARGETS, SPEED_TARGETS_VS_SW

from .speed import TEACHER_MIN_ATOMS


def fmt(x, digits: int = 3) -> str:
    """A table cell: ``digits`` significant figures, a dash for a missing number."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def fmt_ci(x, ci, digits: int = 3) -> str:
    """``0.0533 [0.0471, 0.0601]``: a value with its 95 % interval (the value alone without one)."""
    if not ci or fmt(x, digits) == "–":
        return fmt(x, digits)
    return f"{fmt(x, digits)} [{fmt(float(ci[0]), digits)}, {fmt(float(ci[1]), digits)}]"


def paired(a: Dict[str, object], b: Dict[str, object]) -> Optional[Dict[str, object]]:
    """Paired bootstrap of rows ``a`` and ``b`` (RMSE_a / RMSE_b, verdict "A better" / "B better" /
    "tie") from the per-frame squared errors both rows keep; None for a row scored before they were
    kept or on other frames."""
    acc_a, acc_b = a.get("accuracy") or {}, b.get("accuracy") or {}
    sse_a, sse_b = acc_a.get("frame_force_sse"), acc_b.get("frame_force_sse")
    comps = acc_a.get("frame_force_components")
    if not sse_a or not sse_b or len(sse_a) != len(sse_b) or comps != acc_b.get("frame_force_components"):
        return None
    boot = acc_a.get("bootstrap") or {}
    return compare_rmse(sse_a, sse_b, comps, **{k: boot[k] for k in ("resamples", "seed") if k in boot})


def best_peer(entries) -> Optional[Dict[str, object]]:
    """The fitted peer (SNAP, POD, ...) with the lowest force RMSE."""
    peers = [e for e in entries if e["kind"] == "peer" and (e.get("accuracy") or {}).get("force_rmse") is not None]
    return min(peers, key=lambda e: e["accuracy"]["force_rmse"]) if peers else None


def pareto_cost(entry: Dict[str, object], size: int) -> Optional[float]:
    """Serial µs/atom-step of a potential at the row nearest ``size`` atoms."""
    rows = [r for r in entry.get("speed", []) if r["nprocs"] == 1]
    if not rows:
        return None
    return min(rows, key=lambda r: abs(math.log(r["natoms"] / size)))["us_per_atom_step"]


def student_overhead(entry: Dict[str, object], size: int) -> Optional[float]:
    """Pair-style overhead (graph build + force scatter over model time, %) from the plugin's
    own timing line of the serial timing run nearest ``size`` atoms (or the overhead run)."""
    rows = [r for r in entry.get("speed", []) if r["nprocs"] == 1 and r.get("overhead_pct") is not None]
    if rows:
        return min(rows, key=lambda r: abs(math.log(r["natoms"] / size)))["overhead_pct"]
    return (entry.get("overhead") or {}).get("overhead_pct")


def analyse(system: Dict[str, object], pareto_size: int) -> Dict[str, object]:
    """Pareto front membership and the issue's targets for one system (reported, never asserted)."""
    entries = system["potentials"]
    points = {e["name"]: (e.get("accuracy", {}).get("force_rmse"), pareto_cost(e, pareto_size)) for e in entries}
    front = []
    for name, (err, cost) in points.items():
        if err is None or cost is None:
            continue
        dominated = any(o_err is not None and o_cost is not None and o_err <= err and o_cost <= cost
                        and (o_err < err or o_cost < cost) for o, (o_err, o_cost) in points.items() if o != name)
        if not dominated:
            front.append(name)
    sw = [points[e["name"]][1] for e in entries if e["kind"] == "classical" and e["name"].startswith("SW")]
    teacher = (system.get("teacher") or {}).get("us_per_atom_step")
    best = best_peer(entries)
    targets = []
    for e in entries:
        if e["kind"] != "student":
            continue
        cost = points[e["name"]][1]
        faster_better, faster_tied = faster_and_as_accurate(e, entries, points)
        vs_peer = paired(e, best) if best else None
        row = {"name": e["name"], "on_front_vs_peers": not faster_better, "dominated_by": faster_better,
               "faster_tied": faster_tied,
               "vs_best_peer": {"peer": best["name"], **vs_peer} if vs_peer else None,
               "cost_vs_sw": (cost / sw[0]) if sw and cost else None,
               "speedup_vs_teacher": (teacher / cost) if teacher and cost else None,
               "overhead_pct": student_overhead(e, 10000)}
        row["sw_target"] = SPEED_TARGETS_VS_SW.get(e.get("size", ""))
        row["peer_target"] = PEER_RATIO_TARGETS.get(e.get("size", ""))
        targets.append(row)
    return {"front": front, "pareto_size": pareto_size, "targets": targets}


def faster_and_as_accurate(student: Dict[str, object], entries, points) -> Tuple[List[str], List[str]]:
    """The non-student rows at least as fast as ``student`` that are more accurate (paired
    bootstrap: better at 95 %) and those whose accuracy is a tie with it. Rows without per-frame
    errors (an older bench.json) fall back to comparing the bare RMSEs, a tie counting as better."""
    err, cost = points[student["name"]]
    better: List[str] = []
    tied: List[str] = []
    if err is None or cost is None:
        return better, tied
    for other in entries:
        o_err, o_cost = points[other["name"]]
        if other["kind"].startswith("student") or o_err is None or o_cost is None or o_cost > cost:
            continue
        pair = paired(other, student)
        if pair is None:
            if o_err <= err:
                better.append(other["name"])
        elif pair["verdict"] == "A better":
            better.append(other["name"])
        elif pair["verdict"] == "tie":
            tied.append(other["name"])
    return better, tied


def kind_table(potentials) -> list:
    """Markdown lines: force RMSE per kind of test frame (md, rattle, ...) of each potential,
    with that kind's share of the squared error; empty when no row has the breakdown."""
    scored = [(e["name"], e["accuracy"]["by_kind"]) for e in potentials if e.get("accuracy", {}).get("by_kind")]
    if not scored:
        return []
    frames = {k: v["frames"] for _, by_kind in scored for k, v in by_kind.items()}
    kinds = sorted(frames)
    lines = ["", "Force RMSE (eV/Å) by kind of test frame (in brackets: its share of the squared error):", "",
             "| potential | " + " | ".join(f"{k} ({frames[k]} frames)" for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for name, by_kind in scored:
        cells = [f"{fmt(by_kind[k]['force_rmse'])} ({100 * by_kind[k]['share_of_squared_error']:.0f}%)" if k in by_kind
                 else "–" for k in kinds]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: Dict[str, object]) -> str:
    out = ["# pair_student benchmark", "",
           f"Machine: {results['machine']}; {results['mode']} run; LAMMPS {results['lammps']}; "
           f"torch {results['torch']}; every lmp run on 1 OpenMP thread (`threads 1` for students) "
           "under `nice -n 19`. Students run in the pair style's native kernel (`kernel auto` on a "
           "tabulated file); `libtorch` rows are the same files through libtorch autograd "
           "(`kernel torch`), the path the native kernel replaced.", "",
           "Force RMSE: against the teacher (SevenNet-0) labels of the held-out test split, forces from "
           "LAMMPS `run 0` on each test frame. Cost: LAMMPS `Loop time` of NVE MD / (atoms x steps). "
           "Teacher cost: one `teacher.compute` (E, F, stress) called from Python, 1 thread, on the demo "
           f"structure replicated to at least {TEACHER_MIN_ATOMS} atoms.", ""]
    out += intervals_note(results)
    for name, system in results["systems"].items():
        out += system_section(name, system)
    for note in results.get("notes", []):
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def intervals_note(results: Dict[str, object]) -> List[str]:
    """What the brackets mean, for a result whose rows carry intervals (older ones do not)."""
    boot = next((e["accuracy"]["bootstrap"] for system in results["systems"].values()
                 for e in system["potentials"] if (e.get("accuracy") or {}).get("bootstrap")), None)
    if boot is None:
        return []
    return [f"In brackets: 95 % bootstrap interval over the test frames (whole frames resampled with replacement, "
            f"since the atoms of a frame err together; {boot['resamples']:,} resamples, seed {boot['seed']}). "
            "Students are ranked against peers by a paired bootstrap of the RMSE ratio on the same resampled "
            "frames.", ""]


def system_section(name: str, system: Dict[str, object]) -> List[str]:
    an = system["analysis"]
    out = [f"## {name}", "", f"CPU: {system.get('cpu', 'not recorded')}. Test frames: {system.get('test_frames', '–')} "
           f"({system.get('dataset', 'no dataset')}). Pareto cost at ~{an['pareto_size']} atoms.", ""]
    out += potential_table(system["potentials"], an["front"])
    out += kind_table(system["potentials"])
    teacher = system.get("teacher")
    if teacher:
        out += ["", f"Teacher ({teacher['teacher']}): {fmt(teacher['us_per_atom_step'])} µs/atom per call "
                f"({teacher['natoms']} atoms, {fmt(teacher['seconds_per_call'])} s/call)."]
    out += targets_table(an["targets"])
    out += time_split_table([e for e in system["potentials"] if e["kind"] == "student"])
    out += peer_fits([e for e in system["potentials"] if e["kind"] == "peer"])
    return out + [""]


def potential_row(entry: Dict[str, object], sizes: List[int], on_front: bool) -> str:
    """Accuracy, serial cost per size, 2-rank speed-up and memory of one potential."""
    acc = entry.get("accuracy", {})
    serial = {r["natoms"]: r for r in entry.get("speed", []) if r["nprocs"] == 1}
    mpi = [r for r in entry.get("speed", []) if r["nprocs"] == 2]
    speedup = None
    if mpi and mpi[0]["natoms"] in serial:
        one = serial[mpi[0]["natoms"]]
        speedup = one["loop_s"] / one["steps"] / (mpi[0]["loop_s"] / mpi[0]["steps"])
    rows = sorted(serial.values(), key=lambda r: r["natoms"])
    marginal = None
    if len(rows) >= 2 and rows[-1]["natoms"] > rows[0]["natoms"]:
        marginal = 1024 * (rows[-1]["max_rss_mb"] - rows[0]["max_rss_mb"]) / (rows[-1]["natoms"] - rows[0]["natoms"])
    cells = [entry["name"], entry["kind"], fmt_ci(acc.get("force_rmse"), acc.get("force_rmse_ci95")),
             fmt_ci(acc.get("force_mae"), acc.get("force_mae_ci95")),
             fmt(acc.get("force_r2"), 4)]
    cells += [fmt(serial[n]["us_per_atom_step"]) if n in serial else "–" for n in sizes]
    cells += [fmt(speedup), fmt(rows[-1]["max_rss_mb"] if rows else None, 4), fmt(marginal), "yes" if on_front else ""]
    return "| " + " | ".join(cells) + " |"


def potential_table(potentials, front) -> List[str]:
    sizes = sorted({r["natoms"] for e in potentials for r in e.get("speed", []) if r["nprocs"] == 1})
    head = "| potential | kind | force RMSE (eV/Å) | force MAE (eV/Å) | force R² | " + " | ".join(f"µs/atom-step @{n}" for n in sizes)
    head += " | 2 ranks speedup | peak RSS MB (largest) | marginal KB/atom | on front |"
    return [head, "|" + "---|" * (head.count("|") - 1)] + [potential_row(e, sizes, e["name"] in front) for e in potentials]


def targets_table(targets) -> List[str]:
    if not targets:
        return []
    how = ("Accuracy against a peer is a paired bootstrap over the same test frames: \"more accurate\" means "
           "at 95 %; \"tie\" means the frames cannot separate the two." if any(t.get("vs_best_peer") for t in targets)
           else "Accuracy compares bare RMSEs: these rows predate per-frame errors (`--rescore` adds them).")
    out = ["", f"Targets (reported, not asserted). {how}", "",
           "| student | no peer faster AND more accurate | force RMSE / best peer's [95 %] | peer target | cost / SW "
           "| SW target | speed-up vs teacher | pair-style overhead % |",
           "|---|---|---|---|---|---|---|---|"]
    for t in targets:
        front = "yes" if t["on_front_vs_peers"] else "no (" + ", ".join(t["dominated_by"]) + ")"
        if t.get("faster_tied"):
            front += "; tie in accuracy with faster " + ", ".join(t["faster_tied"])
        out.append(f"| {t['name']} | {front} | {vs_peer_cell(t.get('vs_best_peer'))} | "
                   f"{peer_target_cell(t.get('vs_best_peer'), t.get('peer_target'))} | {fmt(t['cost_vs_sw'])} | "
                   f"{'≤ %gx' % t['sw_target'] if t['sw_target'] else '–'} | {fmt(t['speedup_vs_teacher'])} | "
                   f"{fmt(t['overhead_pct'])} |")
    return out


def peer_target_cell(pair: Optional[Dict[str, object]], target: Optional[float]) -> str:
    """``≤ 1.3x: met`` when the ratio's whole interval lies at or under the target, ``missed``
    when all of it lies above, ``open`` when it straddles (the frames cannot tell)."""
    if not target or not pair or pair.get("ratio") is None:
        return "–"
    low, high = pair.get("ratio_ci95") or (pair["ratio"], pair["ratio"])
    verdict = "met" if high <= target else "missed" if low > target else "open"
    return f"≤ {target:g}x: {verdict}"


def vs_peer_cell(pair: Optional[Dict[str, object]]) -> str:
    """``0.83 [0.76, 0.91] better than UF3``, ``... tie with UF3`` or ``... worse than UF3``."""
    if not pair:
        return "–"
    word = {"A better": "better than", "B better": "worse than", "tie": "tie with"}[pair["verdict"]]
    ratio, ci = pair["ratio"], pair.get("ratio_ci95")
    # fixed decimals: a ratio of 1.003 must not print as "1" beside an interval that excludes 1
    text = "–" if ratio is None else f"{ratio:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    return f"{text} {word} {pair['peer']}"


def time_split_table(students) -> List[str]:
    if not students:
        return []
    out = ["", "Where a student's time goes (plugin's own timing line, rank 0, per call):", "",
           "| student | atoms | ranks | model ms | graph build + force scatter ms | overhead % | Pair share of loop |",
           "|---|---|---|---|---|---|---|"]
    for e in students:
        for r in e.get("speed", []):
            if r.get("model_ms") is not None:
                out.append(f"| {e['name']} | {r['natoms']} | {r['nprocs']} | {fmt(r['model_ms'])} | "
                           f"{fmt(r['glue_ms'])} | {fmt(r['overhead_pct'])} | {fmt(r['pair_fraction'])} |")
    return out


def peer_fits(fits) -> List[str]:
    if not fits:
        return []
    out = ["", "Peer fits (budget and choice):", ""]
    for e in fits:
        info = {k: v for k, v in e["info"].items() if k not in ("search",)}
        out.append(f"- {e['name']}: " + ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in info.items()))
    return out


def rmse_axis_end(errors: List[float]) -> float:
    """Where the plot's RMSE axis ends. A potential more than 30x the median RMSE (ethanol POD:
    76.8 eV/A against <= 1.04 for the rest) would squash every other point against the axis, so it
    is drawn at this edge with its RMSE in its label."""
    errors = sorted(errors)
    if not errors:  # nothing to place
        return 1.0
    return 1.15 * max([x for x in errors if x <= 30 * errors[len(errors) // 2]] or errors)


def plot(results: Dict[str, object], path: Path) -> Optional[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    systems = {name: system for name, system in results["systems"].items()
               if any(e.get("accuracy") for e in system["potentials"])}  # no dataset: no x axis
    if not systems:
        return None
    fig, axes = plt.subplots(1, len(systems), figsize=(5.5 * len(systems), 4.5), squeeze=False)
    markers = {"student": "o", "student (libtorch)": "x", "peer": "s", "classical": "^", "teacher": "*"}
    for ax, (name, system) in zip(axes[0], systems.items()):
        size = system["analysis"]["pareto_size"]
        points = [(e, e.get("accuracy", {}).get("force_rmse"), pareto_cost(e, size)) for e in system["potentials"]]
        points = [(e, err, cost) for e, err, cost in points if err is not None and cost is not None]
        edge = rmse_axis_end([err for _, err, _ in points])
        for k, (e, err, cost) in enumerate(points):
            clipped = err > edge
            label = f"{e['name']} (RMSE {err:.3g}) ->" if clipped else e["name"]
            ax.scatter(min(err, edge), cost, marker=markers[e["kind"]], s=50, color=f"C{k % 10}")
            ci = e["accuracy"].get("force_rmse_ci95")
            if ci and not clipped:  # the 95 % interval over test frames, cut at the axis end
                ax.errorbar(err, cost, xerr=[[err - ci[0]], [min(ci[1], edge) - err]], fmt="none",
                            ecolor=f"C{k % 10}", elinewidth=1, capsize=2)
            ax.annotate(label, (min(err, edge), cost), fontsize=7, xytext=(-6, 3) if clipped else (3, 3),
                        textcoords="offset points", ha="right" if clipped else "left")
        teacher = system.get("teacher")
        if teacher:
            ax.scatter(0.0, teacher["us_per_atom_step"], marker="*", s=150, color="k")
            ax.annotate("teacher (reference, RMSE 0)", (0.0, teacher["us_per_atom_step"]), fontsize=7,
                        xytext=(3, -10), textcoords="offset points")
        ax.set_yscale("log")
        ax.set_xlim(-0.01, 1.05 * edge)
        ax.set_xlabel("force RMSE vs teacher (eV/Å); bars: 95 % interval over test frames")
        ax.set_ylabel(f"µs per atom-step in LAMMPS (~{size} atoms, 1 core)")
        ax.set_title(name)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
