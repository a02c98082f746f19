"""Ship the demo students made by ``pair-student distill`` and write their record.

    python scripts/ship_students.py [--runs out/distill] [--systems si,gan,ethanol]

Systems left out of ``--systems`` keep their rows of ``docs/students/students.json``.

For each system, copies ``<runs>/<system>/<size>_model_traced.pt`` into
``python/pair_student/demo/<system>/`` (a size the run lacks keeps its shipped file and record),
runs the force analysis of the three sizes on the test split of that run's dataset (or of
``--score-on DIR/<system>.extxyz.gz``) into ``docs/students/<system>/`` (figures,
``metrics.json``, ``card.md``), and writes ``python/pair_student/demo/README.md``: the exact
command and seed of every student and its test metrics against the teacher. A run's
``<size>_summary.json`` gives the training time and, for a student of the on-policy loop,
``start_command`` (the round-0 training), ``dataset`` (its last round's training set) and
``dataset_name`` (how the README names that set).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from pair_student.registry import DEMO_NAMES, SIZES

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "python" / "pair_student" / "demo"
DOCS = ROOT / "docs" / "students"
MAKE_DATASETS = "python scripts/make_datasets.py"  # the dataset command of a run without distill


def sizes(path: Path) -> tuple:
    """Bessel functions and readout (width x layers), read from the file itself: the checkpoints
    of an older run may be gone."""
    import torch

    module = torch.jit.load(str(path), map_location="cpu")
    layers = 1 + len(list(module.readout_hidden.children()))
    return int(module.frequencies.numel()), f"{module.readout_in.weight.shape[0]} x {layers}"


def _record() -> dict:
    """``{(system, size): row}`` of the last record."""
    path = DOCS / "students.json"
    return {(r["system"], r["size"]): r for r in json.loads(path.read_text())} if path.is_file() else {}


def _new_row(path: Path, run: Path, size: str, scored_on: Path) -> dict:
    """What the record says of a student this run made: its command, training time and data."""
    from pair_student.contract import read_metadata
    from pair_student.data.dataset import dataset_stats

    prov = read_metadata(path)["provenance"]
    summary = json.loads((run / f"{size}_summary.json").read_text())
    summary_file = run / "distill_summary.json"
    # a dataset from scripts/make_datasets.py, each size trained by pair-student train, has no distill summary
    distill_command = (json.loads(summary_file.read_text())["command"] if summary_file.is_file()
                       else f"{MAKE_DATASETS} --systems {run.name}")
    trained_on = Path(summary.get("dataset") or scored_on)
    stats = dataset_stats(trained_on)
    return {"command": prov["command"], "distill_command": summary.get("dataset_command", distill_command),
            "start_command": summary.get("start_command"), "loop_command": summary.get("loop_command"),
            "chosen_round": summary.get("chosen_round"), "trained_on": str(summary.get("dataset_name") or trained_on),
            "seed": prov["seed"], "teacher": prov["teacher"], "epochs": prov["epochs"], "train_s": summary["elapsed_s"],
            "frames": stats["frames"], "splits": stats["splits"]}


def ship(system: str, runs: Path, score_on: Path = None) -> list:
    """Copy the students of ``<runs>/<system>/`` into the demo (a size the run lacks keeps its
    shipped file and its record) and score all three sizes on one test split: the run's own
    dataset, or ``score_on``."""
    from pair_student.analysis import analyze_students
    from pair_student.contract import read_metadata

    run = runs / system
    (DEMO / system).mkdir(parents=True, exist_ok=True)
    frames = score_on or run / "dataset.extxyz"
    record, shipped, made = _record(), [], {}
    for size in SIZES:
        src, dst = run / f"{size}_model_traced.pt", DEMO / system / f"{size}_model_traced.pt"
        if src.is_file():
            shutil.copyfile(src, dst)
            made[size] = _new_row(dst, run, size, frames)
        elif (system, size) not in record or not dst.is_file():
            raise FileNotFoundError(f"{src} is missing and no {size} student of {system} is shipped: make it first")
        shipped.append(dst)
    report = analyze_students(students=shipped, frames=frames, split="test", out=DOCS / system)
    rows = []
    for path, entry in zip(shipped, report["students"]):
        prov = read_metadata(path)["provenance"]
        kept = {k: v for k, v in record.get((system, prov["size"]), {}).items()
                if k in ("command", "distill_command", "start_command", "loop_command", "chosen_round", "trained_on",
                         "seed", "teacher", "epochs", "train_s", "frames", "splits")}
        num_basis, readout = sizes(path)
        rows.append({"system": system, "size": prov["size"], "params": prov["params"], **kept,
                     **made.get(prov["size"], {}), "scored_on": str(frames), "num_basis": num_basis, "readout": readout,
                     "force": entry["force"], "angle": entry["angular_error_deg"], "energy": entry["energy_per_atom"],
                     "target": entry["target"]["status"], "us_per_atom": entry["speed"]["us_per_atom"]})
    return rows


def _between(text: str, name: str, body: str, where: Path) -> str:
    """``text`` with what stands between ``<!-- name:begin -->`` and ``<!-- name:end -->``
    replaced by ``body``: the prose around the generated block is written by hand and kept."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{where} lacks the {begin} ... {end} markers; put them around the generated block")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def _with_export(command: str) -> str:
    """A recorded ``pair-student train`` command and the ``export`` that makes its student file
    (``train`` ends at a checkpoint; the runs recorded before it did wrote the file themselves)."""
    if not command.startswith("pair-student train"):
        return command
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--name")
    args, _ = parser.parse_known_args(shlex.split(command)[2:])
    name = args.name or args.size
    folder = "" if args.out in (None, ".") else f"{args.out.rstrip('/')}/"
    return (f"{command}`, then `pair-student export {folder}{name}_checkpoint.pt "
            f"--out {folder}{name}_model_traced.pt")


def write_readme(rows: list) -> Path:
    lines = [
        "| system | size | parameters | Bessel functions | readout (width x layers) | epochs | training (s) | force R² | RMSE (eV/Å) | MAE (eV/Å) "
        "| mean angular error (°) | energy MAE (meV/atom) | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['system']} | {r['size']} | {r['params']:,} | {r.get('num_basis') or '–'} | {r.get('readout') or '–'} | {r['epochs']} | {r['train_s']:.0f} "
                     f"| {r['force']['r2']:.4f} | {r['force']['rmse']:.4f} | {r['force']['mae']:.4f} "
                     f"| {r['angle']['mean']:.2f} | {1e3 * r['energy']['mae']:.2f} | {r['target']} |")
    lines += ["", "Commands (seed, teacher, dataset):", ""]
    for system in dict.fromkeys(r["system"] for r in rows):
        mine = [x for x in rows if x["system"] == system]
        first = mine[0]
        lines.append(f"- `{system}`: `{first['distill_command']}` (seed {first['seed']}, teacher "
                     f"`{first['teacher']}`, {first['frames']} frames: {first['splits']})")
        own_dataset = first["distill_command"].startswith(MAKE_DATASETS)
        for r in mine:
            if r["command"] == first["distill_command"]:
                continue
            if r.get("start_command") and r.get("chosen_round") == 0:
                lines.append(f"  - `{r['size']}`: round 0 of the on-policy loop, which kept it (the lowest validation "
                             f"error of its rounds), trained on `{r['trained_on']}` ({r['frames']} frames: {r['splits']}): "
                             f"`{r['start_command']}`; the loop: `{r['loop_command']}`")
            elif r.get("start_command"):
                lines.append(f"  - `{r['size']}` from round {r.get('chosen_round', '?')} of the on-policy loop on "
                             f"`{r['trained_on']}` ({r['frames']} frames at its end: {r['splits']}): "
                             f"`{r['start_command']}`, then `{r['command']}`")
            elif own_dataset:
                lines.append(f"  - `{r['size']}` trained on that dataset: `{_with_export(r['command'])}`")
            elif r["command"].startswith("pair-student train"):
                lines.append(f"  - `{r['size']}` then trained longer from that run's checkpoint (a warm "
                             f"restart of the cosine schedule): `{_with_export(r['command'])}`")
            else:
                lines.append(f"  - `{r['size']}` from a run of its own on the same dataset: `{r['command']}`")
    path = DEMO / "README.md"
    path.write_text(_between(path.read_text(), "generated", "\n".join(lines), path))
    # the top-level README carries the same rows, fewer columns
    table = "\n".join(["| system | size | parameters | force R² | RMSE (eV/Å) | angular error (°) | energy MAE (meV/atom) | target |",
                       "|---|---|---:|---:|---:|---:|---:|---|"] +
                      [f"| {r['system']} | {r['size']} | {r['params']:,} | {r['force']['r2']:.4f} | {r['force']['rmse']:.4f} "
                       f"| {r['angle']['mean']:.2f} | {1e3 * r['energy']['mae']:.2f} | {r['target']} |" for r in rows])
    readme = ROOT / "README.md"
    readme.write_text(_between(readme.read_text(), "students", table, readme))
    (DOCS / "students.json").write_text(json.dumps(rows, indent=1, default=str))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "out" / "distill")
    parser.add_argument("--systems", default=",".join(DEMO_NAMES))
    parser.add_argument("--score-on", type=Path, default=None,
                        help="folder of <system>.extxyz.gz whose test split scores every size (default: each run's dataset)")
    args = parser.parse_args(argv)
    systems = [name.strip() for name in args.systems.split(",")]
    rows = [row for system in systems
            for row in ship(system, args.runs, args.score_on / f"{system}.extxyz.gz" if args.score_on else None)]
    # the systems not shipped this time keep their rows from the last record
    kept = [r for (system, _), r in _record().items() if system not in systems]
    for r in kept:
        r["num_basis"], r["readout"] = sizes(DEMO / r["system"] / f"{r['size']}_model_traced.pt")
    order = {name: i for i, name in enumerate(DEMO_NAMES)}
    rows = sorted(kept + rows, key=lambda r: order.get(r["system"], len(order)))
    print(write_readme(rows).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
