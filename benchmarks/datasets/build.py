"""Build the demo datasets large enough to rank potentials: ~1,250 teacher-labelled frames per
system, a stratified test split of >= 150 frames holding every kind of frame.

    python -m benchmarks.datasets.build --system ethanol
    python -m benchmarks.datasets.build --system all          # ethanol, si, gan in turn

Measured on a shared 2-core EPYC under nice 10 with a load of ~6: ethanol 52 min (teacher MD
44 min, labels 8 min), si 77 min (SW MD 2 min, labels 75 min), gan ~2 h; on an idle core the
labels run at ~5 ms per atom, about ten times faster.

Writes ``benchmarks/datasets/large/<system>.extxyz.gz`` (ASE reads it as is:
``ase.io.read(path, ":")``) and ``<system>.json`` (frames per kind and split, shortest distance
per element pair, teacher, wall times, settings, CPU). The run-3 ethanol dataset of the shipped
students (``benchmarks/datasets/ethanol.extxyz``/``.json``) is left as it is.

Sampling MD of the crystals is driven by a classical potential in LAMMPS (Stillinger-Weber Si,
Tersoff GaN); the teacher (SevenNet-0) spends its time on labels only. Ethanol (9 atoms) keeps
teacher-driven MD. Every stage is resumable: each sampling method's frames are kept in the work
folder (``out/dataset_build/<system>/``) once made, and labelling writes resumable chunks; kill
the job at any moment and rerun the same command to go on.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List

import ase.io
import numpy as np
from tqdm.auto import tqdm

from pair_student.atomic import atomic_path, atomic_write_text
from pair_student.data.dataset import kind_table, read_dataset, shortest_distances
from pair_student.data.label import label
from pair_student.data.sample import METHODS, sample
from pair_student.data.structures import demo_structure

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "benchmarks" / "datasets" / "large"
WORK_DIR = ROOT / "out" / "dataset_build"
SEED = 0
SPLIT = (0.8, 0.1, 0.1)
TEST_FRAMES = 150
CHUNK = 16  # frames per labelling chunk: ~5 s of teacher time for a 64-atom cell

# Hottest MD is 1.5x the hottest training temperature the validation probes (si 1200 -> 1800,
# gan 1500 -> 2250, ethanol 1500 -> 2250). md_stride 50 fs decorrelates SW/Tersoff frames at no
# teacher cost; ethanol's teacher MD takes 10 steps of 0.5 fs between frames.
SYSTEMS: Dict[str, dict] = {
    "si": dict(n_frames=1250, driver="sw-si", temperatures=(300, 600, 900, 1200, 1800),
               pressures=(0, -5, 5), md_stride=50, md_equilibrate=2000,
               weights={"md": 0.5, "rattle": 0.15, "strain": 0.2, "contact": 0.15}),
    "gan": dict(n_frames=1250, driver="tersoff-gan", temperatures=(300, 600, 1000, 1500, 2250),
                pressures=(0, -5, 5), md_stride=50, md_equilibrate=2000,
                weights={"md": 0.5, "rattle": 0.15, "strain": 0.2, "contact": 0.15}),
    "ethanol": dict(n_frames=1250, driver="teacher", temperatures=(300, 600, 1000, 1500, 2250),
                    pressures=(0,), md_stride=10, md_equilibrate=200,
                    weights={"md": 0.45, "rattle": 0.15, "normal_modes": 0.25, "contact": 0.15}),
}


def method_counts(settings: dict, periodic: bool) -> Dict[str, int]:
    """Frames per method: the weights' shares of ``n_frames``, the remainder to ``md`` (as
    ``sample`` splits them)."""
    weights = {m: w for m, w in settings["weights"].items()
               if not (m == "strain" and not periodic) and not (m == "normal_modes" and periodic)}
    total = sum(weights.values())
    counts = {m: int(np.floor(w / total * settings["n_frames"])) for m, w in weights.items()}
    counts["md"] += settings["n_frames"] - sum(counts.values())
    return counts


class WorkFolder:
    """A system's work folder: its settings, the teacher (built on first use) and the wall time of
    each stage, summed over resumed runs. Shared by this build and the held-out sets' build."""

    def __init__(self, system: str, settings: dict, *, teacher_name: str, work: Path, out_dir: Path) -> None:
        self.system = system
        self.settings = settings
        self.teacher_name = teacher_name
        self.work = work / system
        self.out_dir = out_dir
        self._teacher = None

    @property
    def teacher(self):
        if self._teacher is None:
            from pair_student.teachers import get_teacher

            self._teacher = get_teacher(self.teacher_name)
        return self._teacher

    def _times(self) -> dict:
        path = self.work / "times.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _add_time(self, key: str, seconds: float) -> None:
        times = self._times()
        times[key] = round(times.get(key, 0.0) + seconds, 2)
        atomic_write_text(self.work / "times.json", json.dumps(times, indent=1, sort_keys=True))

    def write_gz(self, frames: Path) -> Path:
        """``<out_dir>/<system>.extxyz.gz`` from the extxyz ``frames``, atomically; mtime 0 and no
        name, so the same frames give the same bytes."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        gz = self.out_dir / f"{self.system}.extxyz.gz"
        with atomic_path(gz) as tmp:
            with open(frames, "rb") as src, open(tmp, "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as dst:
                shutil.copyfileobj(src, dst)
        return gz

    def check_record(self, record: dict) -> None:
        """A work folder made with other settings would mix two recipes: refuse it."""
        self.work.mkdir(parents=True, exist_ok=True)
        path = self.work / "settings.json"
        if path.exists() and json.loads(path.read_text()) != record:
            raise SystemExit(f"{self.work} was built with other settings; delete it (or pass --fresh) "
                             "to start over")
        atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))


class Build(WorkFolder):
    """One system's build: sampling per method, labelling, then the shipped files."""

    def __init__(self, system: str, *, teacher_name: str, work: Path, out_dir: Path) -> None:
        super().__init__(system, SYSTEMS[system], teacher_name=teacher_name, work=work, out_dir=out_dir)
        self.structure = demo_structure(system)

    def check_settings(self) -> None:
        self.check_record({"system": self.system, "seed": SEED, "teacher": self.teacher_name,
                           **{k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()}})

    def units(self) -> List[tuple]:
        """The sampling units, each made once and kept (the grain of resuming): one per
        non-MD method, one per MD temperature and pressure."""
        s = self.settings
        counts = method_counts(s, bool(self.structure.pbc.all()))
        units = []
        for method in METHODS:
            if not counts.get(method):
                continue
            if method != "md":
                units.append((method, counts[method], None))
                continue
            conditions = [(t, p) for t in s["temperatures"] for p in s["pressures"]]
            n = counts["md"]
            for i, cond in enumerate(conditions):
                units.append(("md", n // len(conditions) + (1 if i < n % len(conditions) else 0), cond))
        return units

    def sample_unit(self, method: str, count: int, condition) -> Path:
        """Frames of one unit. An MD condition gets its own seed (from its temperature and
        pressure), so units are independent of each other and of the order they ran in."""
        s = self.settings
        temps, pres, seed, name = s["temperatures"], s["pressures"], SEED, method
        if condition is not None:
            temps, pres = (condition[0],), (condition[1],)
            seed = SEED * 100_000 + int(condition[0]) * 10 + int(condition[1] + 5)
            name = f"md-T{condition[0]:g}-P{condition[1]:g}"
        path = self.work / f"frames-{name}.extxyz"
        if path.exists():
            return path
        needs_teacher = method == "normal_modes" or (method == "md" and s["driver"] == "teacher")
        start = time.perf_counter()
        frames = sample([self.structure], teacher=self.teacher if needs_teacher else None, n_frames=count,
                        seed=seed, methods=[method], temperatures=temps, pressures=pres,
                        md_stride=s["md_stride"], md_equilibrate=s["md_equilibrate"], driver=s["driver"])
        with atomic_path(path) as tmp:
            ase.io.write(tmp, frames, format="extxyz")
        self._add_time(f"sample_{method}_s", time.perf_counter() - start)
        return path

    def frames_file(self) -> Path:
        """All sampled frames, units in ``METHODS`` order, in one file (the labelling input)."""
        path = self.work / "frames.extxyz"
        if path.exists():  # sampling done (possibly by an earlier recipe of the units): keep it
            return path
        parts = [self.sample_unit(*unit) for unit in tqdm(self.units(), desc=f"{self.system}: sampling units",
                                                           unit="unit", leave=False)]
        with atomic_path(path) as tmp, open(tmp, "wb") as dst:
            for part in parts:
                dst.write(part.read_bytes())
        return path

    def labelled_file(self, frames: Path) -> Path:
        path = self.work / "labelled.extxyz"
        if path.exists():
            return path
        parts = path.with_name(path.name + ".parts")
        done_before = sum(1 for _ in parts.glob("chunk-*.extxyz")) * CHUNK if parts.exists() else 0
        start = time.perf_counter()
        label(frames, teacher=self.teacher, out=path, seed=SEED, split=SPLIT, chunk_size=CHUNK,
              split_rule="stratified", test_frames=TEST_FRAMES)
        elapsed = time.perf_counter() - start
        n = sum(1 for _ in ase.io.iread(frames, index=":"))
        self._add_time("label_s", elapsed)
        # the teacher's cost per atom, from this session's frames only (a resumed job did fewer)
        labelled = max(n - done_before, 1)
        atomic_write_text(self.work / "teacher_cost.json", json.dumps(
            {"ms_per_atom": round(1000 * elapsed / (labelled * len(self.structure)), 3), "frames": labelled}))
        return path

    def publish(self, labelled: Path) -> Dict:
        """Gzip the dataset beside its JSON description."""
        gz = self.write_gz(labelled)
        meta = self.describe(labelled, gz)
        atomic_write_text(self.out_dir / f"{self.system}.json", json.dumps(meta, indent=1) + "\n")
        return meta

    def describe(self, labelled: Path, gz: Path) -> Dict:
        frames = list(read_dataset(gz))
        splits = {s: sum(f.info["split"] == s for f in frames) for s in ("train", "val", "test")}
        first = frames[0]
        cost = json.loads((self.work / "teacher_cost.json").read_text()) if (self.work / "teacher_cost.json").exists() else {}
        return {
            "system": self.system, "file": _shown(gz), "frames": len(frames),
            "atoms_per_frame": len(first), "splits": splits, "split_rule": "stratified by kind",
            "test_frames_min": TEST_FRAMES, "split_fractions": list(SPLIT), "seed": SEED,
            "kinds": kind_table(gz),
            "shortest_distance_A": {s: shortest_distances(f for f in frames if f.info["split"] == s)
                                    for s in ("train", "val", "test")},
            "teacher": first.info["teacher"], "teacher_version": first.info["teacher_version"],
            "teacher_ms_per_atom": cost.get("ms_per_atom"), "wall_times_s": self._times(),
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()},
            "file_size_bytes": gz.stat().st_size, "uncompressed_bytes": labelled.stat().st_size,
            "sha256_uncompressed": hashlib.sha256(labelled.read_bytes()).hexdigest(),
            "cpu": _cpu(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "python": platform.python_version(),
        }

    def run(self) -> Dict:
        self.check_settings()
        with tqdm(total=3, desc=f"{self.system}: build", unit="stage") as bar:
            bar.set_postfix_str("sampling")
            frames = self.frames_file()
            bar.update(1)
            bar.set_postfix_str("labelling")
            labelled = self.labelled_file(frames)
            bar.update(1)
            bar.set_postfix_str("publishing")
            meta = self.publish(labelled)
            bar.update(1)
        return meta


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it (the JSON is committed)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _cpu() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cpus"


def build_parser(prog: str, doc: str, systems, work: Path, out_dir: Path) -> argparse.ArgumentParser:
    """The options of a dataset build (this one and the held-out sets')."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--system", required=True, choices=[*systems, "all"], help="which system to build")
    parser.add_argument("--teacher", default="sevennet", help="labelling teacher (default sevennet)")
    parser.add_argument("--work", type=Path, default=work, help=f"resumable work folder (default {work})")
    parser.add_argument("--out-dir", type=Path, default=out_dir, help=f"where the files go (default {out_dir})")
    parser.add_argument("--fresh", action="store_true", help="delete the system's work folder and build it anew")
    return parser


def main(argv: List[str] | None = None) -> int:
    args = build_parser("python -m benchmarks.datasets.build", __doc__, SYSTEMS, WORK_DIR, OUT_DIR).parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    systems = ["ethanol", "si", "gan"] if args.system == "all" else [args.system]
    for system in systems:
        if args.fresh:
            shutil.rmtree(args.work / system, ignore_errors=True)
        meta = Build(system, teacher_name=args.teacher, work=args.work, out_dir=args.out_dir).run()
        print(f"{system}: {meta['frames']} frames {meta['splits']} -> {meta['file']} "
              f"({meta['file_size_bytes'] / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
