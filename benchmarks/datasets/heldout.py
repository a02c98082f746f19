"""Held-out out-of-distribution test sets, one per demo system: teacher-labelled frames from
states the training sets never sampled, which no training, model selection, calibration or
threshold step may ever see. They measure how a student behaves outside its training states and
how well its per-atom uncertainty flags that.

    python -m benchmarks.datasets.heldout --system si|gan|ethanol|all

* Si and GaN: MD of a vacancy (GaN: a Ga and an N vacancy) and an interstitial (GaN: Ga and N),
  a surface slab with vacuum, a melt, and MD of the crystal hotter than any training run
  (``benchmarks/datasets/large/``: Si to 1800 K, GaN to 2250 K). The classical potential of
  the training builder drives the MD in LAMMPS (Stillinger-Weber Si, Tersoff GaN).
* Ethanol: teacher MD hotter than training (2250 K), and each bond type (C-C, C-O, C-H, O-H)
  stretched to 1.2-1.7x its length from thermal geometries of teacher MD at 300-1000 K.

Every frame is labelled by the teacher (SevenNet-0) and has split ``test``. Frames whose largest
teacher force passes ``MAX_FORCE`` are dropped as unphysical (the JSON counts them per kind).

Writes ``benchmarks/datasets/heldout/<system>.extxyz.gz`` and ``<system>.json`` (frames, recipe,
largest force and energy range per kind, teacher, wall times, CPU, sha256 of the uncompressed
text). Work files go to ``out/heldout_build/<system>/``; every stage is kept once made and
labelling writes resumable chunks, so rerunning the command goes on where it stopped, and a
published system is skipped (``--fresh`` rebuilds it).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import ase.io
import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import natural_cutoffs, neighbor_list
from tqdm.auto import tqdm

from pair_student.atomic import atomic_path, atomic_write_text
from pair_student.data.dataset import shortest_distances
from pair_student.data.label import label
from pair_student.data.lammps_md import lammps_md, resolve_driver
from pair_student.data.sample import sample
from pair_student.data.splits import frame_kind
from pair_student.data.structures import GAN_A, GAN_C, SI_A, demo_structure

from .build import WorkFolder, _cpu, _shown, build_parser

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "benchmarks" / "datasets" / "heldout"
WORK_DIR = ROOT / "out" / "heldout_build"
SEED = 1  # the training builder uses 0
CHUNK = 16
MAX_FORCE = 30.0  # eV/A: beyond it a frame is an unphysical collision, not a state MD reaches
VACUUM = 10.0  # A between a slab and its image: twice the teacher's 5 A cutoff
DT_FS = 1.0  # crystals
MOLECULE_DT_FS = 0.5  # ethanol: hydrogen vibrates with a ~10 fs period

# Defects and surfaces run at temperatures the training MD covered, so that what is new is the
# structure; "hot" and "melt" are hotter than any training MD. A perfect 64-atom SW crystal
# superheats: at 2400 K it stays crystalline for the ~2 ps sampled, so "hot md" is a hot
# crystal, and the melt is made by melting far above (Si 4000 K, 3 ps suffice; Tersoff GaN
# stays crystalline at 6000 K for 20 ps and melts at 10000 K) and then holding it at T. Tersoff's
# GaN melt held at 3500 K stays disordered (~4.8 neighbours within 2.6 A instead of 4, ~13 % of
# them Ga-Ga) and diffuses slowly: a supercooled melt of that potential.
SYSTEMS: Dict[str, dict] = {
    "si": dict(driver="sw-si", frames=28, stride=50, equilibrate=2000, defect_T=900,
               vacancies=("Si",), interstitials=("Si",),
               surface=dict(miller="(100)", reps=(2, 2, 3), axis=2, T=1200),
               hot=dict(T=2400, equilibrate=500),
               melt=dict(T=2000, premelt_T=4000, premelt_steps=5000, equilibrate=5000, stride=100)),
    "gan": dict(driver="tersoff-gan", frames=25, stride=50, equilibrate=2000, defect_T=1000,
                vacancies=("Ga", "N"), interstitials=("Ga", "N"),
                surface=dict(miller="(10-10)", reps=(4, 3, 2), axis=0, T=1500),
                hot=dict(T=3000, equilibrate=2000),
                melt=dict(T=3500, premelt_T=10000, premelt_steps=5000, equilibrate=5000, stride=100)),
    "ethanol": dict(driver="teacher",
                    hot=dict(T=3000, frames=30, stride=20, equilibrate=200),
                    stretch=dict(bonds=("C-C", "C-O", "C-H", "O-H"), frames=25, ratios=(1.2, 1.7),
                                 base_T=(300, 600, 1000), base_stride=20, base_equilibrate=200)),
}


@dataclass
class Unit:
    """One kind of frame, sampled once and kept in the work folder (the grain of resuming).
    ``kind`` is what :func:`frame_kind` reads back from every frame's provenance."""

    name: str
    kind: str
    recipe: dict
    make: Callable[[int], List[Atoms]] = field(repr=False)

    @property
    def seed(self) -> int:
        return _seed(self.name)


def _seed(name: str) -> int:
    """A stage's seed from its name, so its frames do not depend on which other stages exist."""
    return SEED * 1_000_000 + zlib.crc32(name.encode()) % 1_000_000


def _unit_cell(system: str) -> Atoms:
    """The crystal's smallest repeat, with the lattice constants of the demo cells."""
    if system == "si":
        return bulk("Si", "diamond", a=SI_A, cubic=True)
    return bulk("GaN", "wurtzite", a=GAN_A, c=GAN_C)


def _cell_record(atoms: Atoms) -> dict:
    return {"atoms": len(atoms), "cell_lengths_A": [round(x, 3) for x in atoms.cell.lengths()],
            "cell_angles_deg": [round(x, 2) for x in atoms.cell.angles()]}


def _largest_void(atoms: Atoms, spacing: float = 0.3) -> np.ndarray:
    """The grid point farthest from every atom: where an interstitial fits best. Distances by
    rounding fractional differences, exact for the ones shorter than half the cell's thinnest
    height (every nearest distance in a crystal cell of 8 A or more)."""
    n = np.maximum(np.ceil(atoms.cell.lengths() / spacing).astype(int), 1)
    grid = np.stack(np.meshgrid(*[np.arange(k) / k for k in n], indexing="ij"), -1).reshape(-1, 3)
    sites = atoms.get_scaled_positions()
    nearest = np.empty(len(grid))
    for lo in range(0, len(grid), 4096):
        diff = grid[lo:lo + 4096, None, :] - sites[None]
        diff -= np.round(diff)
        nearest[lo:lo + 4096] = np.linalg.norm(diff @ atoms.cell.array, axis=2).min(axis=1)
    return grid[int(np.argmax(nearest))] @ atoms.cell.array


def _slab(crystal: Atoms, axis: int, vacuum: float) -> Atoms:
    """``crystal`` cut open normal to cell vector ``axis`` with ``vacuum`` A of gap, between the
    two atomic layers whose cut breaks the fewest bonds (the cleavage a real crystal takes)."""
    frac = crystal.get_scaled_positions()[:, axis]
    layers = np.unique(np.round(frac, 6) % 1.0)
    cuts = (layers + np.append(layers[1:], layers[0] + 1.0)) / 2
    i, j, shift = neighbor_list("ijS", crystal, natural_cutoffs(crystal, mult=1.1))
    lo, hi = frac[i], frac[j] + shift[:, axis]
    broken = [int(np.sum(np.floor(hi - c) != np.floor(lo - c))) for c in cuts]
    slab = crystal.copy()
    scaled = slab.get_scaled_positions()
    scaled[:, axis] = (scaled[:, axis] - cuts[int(np.argmin(broken))]) % 1.0
    slab.set_scaled_positions(scaled)
    cell = slab.cell.array.copy()
    normal = np.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
    height = abs(cell[axis] @ normal) / np.linalg.norm(normal)
    cell[axis] *= (height + vacuum) / height
    slab.set_cell(cell, scale_atoms=False)
    return slab


def _provenance(frames: List[Atoms], kind: str, system: str, extra: str) -> List[Atoms]:
    for f in frames:
        if f.pbc.all():
            f.wrap()
        step = f" step={f.info['step']}" if "step" in f.info else ""
        f.info = {"provenance": f"{kind} {extra}{step}".strip(), "source": system}
    return frames


def _md_unit(system: str, s: dict, name: str, kind: str, start: Atoms, temp: float, *,
             equilibrate: int, stride: int, premelt: dict | None = None) -> Unit:
    """NVT (Langevin) MD of ``start`` with the system's classical driver; with ``premelt``, first
    melted at ``premelt_T`` for ``premelt_steps`` and sampled from the melt."""
    driver = resolve_driver(s["driver"], start.get_chemical_symbols())
    extra = f"driver={driver.name} dt={DT_FS:g}fs" + (f" premelt={premelt['premelt_T']}K" if premelt else "")
    recipe = {**_cell_record(start), "driver": driver.name, "temperature_K": temp, "equilibrate_steps": equilibrate,
              "stride_steps": stride, "dt_fs": DT_FS, "frames": s["frames"]}
    if premelt:
        recipe.update(premelt_T_K=premelt["premelt_T"], premelt_steps=premelt["premelt_steps"])

    def make(seed: int) -> List[Atoms]:
        rng = np.random.default_rng(seed)
        first = start
        if premelt:
            first = lammps_md(start, driver, temp=premelt["premelt_T"], pres=0.0, count=1,
                              stride=premelt["premelt_steps"], dt_fs=DT_FS, equilibrate=0, rng=rng)[0]
        frames = lammps_md(first, driver, temp=temp, pres=0.0, count=s["frames"], stride=stride, dt_fs=DT_FS,
                           equilibrate=equilibrate, rng=rng)
        return _provenance(frames, kind, system, extra)

    return Unit(name, kind, recipe, make)


def crystal_units(system: str, s: dict) -> List[Unit]:
    """Vacancies, interstitials, a surface slab, a melt and hot MD of the demo crystal."""
    cell = demo_structure(system)
    md = dict(equilibrate=s["equilibrate"], stride=s["stride"])
    units = []
    for element in s["vacancies"]:
        start = cell.copy()
        del start[cell.get_chemical_symbols().index(element)]  # every site of an element is alike
        units.append(_md_unit(system, s, f"vacancy-{element}", f"vacancy {element} md T={s['defect_T']}K",
                              start, s["defect_T"], **md))
    for element in s["interstitials"]:
        start = cell + Atoms(element, positions=[_largest_void(cell)])
        units.append(_md_unit(system, s, f"interstitial-{element}", f"interstitial {element} md T={s['defect_T']}K",
                              start, s["defect_T"], **md))
    surf = s["surface"]
    slab = _slab(_unit_cell(system).repeat(surf["reps"]), surf["axis"], VACUUM)
    unit = _md_unit(system, s, "surface", f"surface {surf['miller']} md T={surf['T']}K", slab, surf["T"], **md)
    unit.recipe.update(miller=surf["miller"], vacuum_A=VACUUM)
    units.append(unit)
    melt = s["melt"]
    units.append(_md_unit(system, s, "melt", f"melt T={melt['T']}K", cell, melt["T"], equilibrate=melt["equilibrate"],
                          stride=melt["stride"], premelt=melt))
    hot = s["hot"]
    units.append(_md_unit(system, s, "hot-md", f"hot md T={hot['T']}K", cell, hot["T"],
                          equilibrate=hot["equilibrate"], stride=s["stride"]))
    return units


def _bonds(atoms: Atoms) -> List[tuple]:
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=1.1))
    return [(int(a), int(b)) for a, b in zip(i, j) if a < b]


def _side(bonds: List[tuple], a: int, b: int) -> List[int]:
    """The atoms on ``b``'s side of bond a-b (a molecule without rings falls in two)."""
    side, todo = {b}, [b]
    while todo:
        k = todo.pop()
        for x, y in bonds:
            for u, v in ((x, y), (y, x)):
                if u == k and v not in side and {u, v} != {a, b}:
                    side.add(v)
                    todo.append(v)
    return sorted(side)


def stretched(bases: List[Atoms], bond: str, ratios: np.ndarray, rng: np.random.Generator) -> List[Atoms]:
    """Each base geometry with one bond of type ``bond`` (``"C-H"``: ``C`` side stays) stretched
    to the next of ``ratios`` times its length there; the atoms on the far side move as one, so
    no other bond changes."""
    topology = demo_structure("ethanol")  # bonds of the relaxed molecule: thermal ones may not be within cutoffs
    bonds = _bonds(topology)
    first, second = bond.split("-")
    sym = topology.get_chemical_symbols()
    candidates = [(a, b) if sym[a] == first else (b, a) for a, b in bonds
                  if sorted((sym[a], sym[b])) == sorted((first, second))]
    out = []
    for base, ratio in zip(bases, ratios):
        a, b = candidates[int(rng.integers(len(candidates)))]
        frame = Atoms(base.numbers, positions=base.positions, cell=base.cell, pbc=base.pbc)
        vector = base.positions[b] - base.positions[a]
        frame.positions[_side(bonds, a, b)] += (ratio - 1.0) * vector
        base_T = re.search(r"\bT=(\S+)K", base.info["provenance"]).group(1)
        frame.info["provenance"] = (f"stretch {bond} ratio={ratio:.3f} atoms={a},{b} "
                                    f"length={ratio * np.linalg.norm(vector):.3f}A from_T={base_T}K")
        frame.info["source"] = "ethanol"
        out.append(frame)
    return out


def _record(settings: dict) -> dict:
    """``settings`` as JSON reads them back (tuples as lists), to compare with a work folder's."""
    return json.loads(json.dumps(settings))


class Build(WorkFolder):
    """One system's held-out set: sampling per unit, labelling, filtering, the shipped files."""

    def __init__(self, system: str, *, teacher_name: str, work: Path, out_dir: Path) -> None:
        super().__init__(system, SYSTEMS[system], teacher_name=teacher_name, work=work, out_dir=out_dir)

    def check_settings(self) -> None:
        self.check_record({"system": self.system, "seed": SEED, "teacher": self.teacher_name, "max_force": MAX_FORCE,
                           "vacuum": VACUUM, "dt_fs": DT_FS, "molecule_dt_fs": MOLECULE_DT_FS, **_record(self.settings)})

    def units(self) -> List[Unit]:
        if self.settings["driver"] != "teacher":
            return crystal_units(self.system, self.settings)
        return self.molecule_units()

    def molecule_units(self) -> List[Unit]:
        """Hot teacher MD, and one unit per stretched bond type."""
        hot, st = self.settings["hot"], self.settings["stretch"]
        molecule = demo_structure(self.system)
        kind = f"hot md T={hot['T']}K"

        def hot_md(seed: int) -> List[Atoms]:
            frames = sample([molecule], teacher=self.teacher, n_frames=hot["frames"], seed=seed, methods=["md"],
                            temperatures=(hot["T"],), md_stride=hot["stride"], md_equilibrate=hot["equilibrate"],
                            timestep_fs=MOLECULE_DT_FS, driver="teacher")
            for f in frames:
                f.info["step"] = int(re.search(r"\bstep=(\d+)", f.info["provenance"]).group(1))
            return _provenance(frames, kind, self.system, f"driver=teacher dt={MOLECULE_DT_FS:g}fs")

        units = [Unit("hot-md", kind, {**_cell_record(molecule), "driver": "teacher", "temperature_K": hot["T"],
                                       "equilibrate_steps": hot["equilibrate"], "stride_steps": hot["stride"],
                                       "dt_fs": MOLECULE_DT_FS, "frames": hot["frames"]}, hot_md)]
        for k, bond in enumerate(st["bonds"]):
            def make(seed: int, k=k, bond=bond) -> List[Atoms]:
                bases = self.thermal_bases()[k::len(st["bonds"])]
                rng = np.random.default_rng(seed)
                ratios = rng.permutation(np.linspace(*st["ratios"], len(bases)))
                return stretched(bases, bond, ratios, rng)

            recipe = {"atoms": len(molecule), "bond": bond, "ratios": list(st["ratios"]), "frames": st["frames"],
                      "bases": f"teacher MD at {', '.join(map(str, st['base_T']))} K (bases.extxyz)"}
            units.append(Unit(f"stretch-{bond}", f"stretch {bond}", recipe, make))
        return units

    def thermal_bases(self) -> List[Atoms]:
        """Thermal geometries to stretch bonds from: teacher MD at ``base_T``, made once, every
        stretched frame from a different one."""
        st = self.settings["stretch"]
        path = self.work / "bases.extxyz"
        if not path.exists():
            start = time.perf_counter()
            frames = sample([demo_structure(self.system)], teacher=self.teacher,
                            n_frames=st["frames"] * len(st["bonds"]), seed=_seed("bases"), methods=["md"],
                            temperatures=st["base_T"], md_stride=st["base_stride"],
                            md_equilibrate=st["base_equilibrate"], timestep_fs=MOLECULE_DT_FS, driver="teacher")
            with atomic_path(path) as tmp:
                ase.io.write(tmp, frames, format="extxyz")
            self._add_time("sample_bases_s", time.perf_counter() - start)
        return list(ase.io.iread(path, index=":"))

    def sample_unit(self, unit: Unit) -> Path:
        path = self.work / f"frames-{unit.name}.extxyz"
        if not path.exists():
            start = time.perf_counter()
            frames = unit.make(unit.seed)
            kinds = {frame_kind(f.info["provenance"]) for f in frames}
            if kinds != {unit.kind}:  # the JSON's recipes are looked up by kind
                raise RuntimeError(f"{unit.name} made frames of kinds {sorted(kinds)}, not {unit.kind!r}")
            with atomic_path(path) as tmp:
                ase.io.write(tmp, frames, format="extxyz")
            self._add_time(f"sample_{unit.name}_s", time.perf_counter() - start)
        return path

    def frames_file(self, units: List[Unit]) -> Path:
        """All sampled frames, units in order, in one file (the labelling input)."""
        path = self.work / "frames.extxyz"
        if not path.exists():
            if "stretch" in self.settings:
                self.thermal_bases()  # made and timed on its own, not inside the first unit that needs it
            bar = tqdm(units, desc=f"{self.system}: sampling", unit="kind", leave=False)
            parts = [self.sample_unit(u) for u in bar]
            with atomic_path(path) as tmp, open(tmp, "wb") as dst:
                for part in parts:
                    dst.write(part.read_bytes())
        return path

    def labelled_file(self, frames: Path) -> Path:
        """Every frame labelled by the teacher, all in split ``test``: a split of fractions 0, 0, 1
        under the hash rule puts every frame there whatever its hash."""
        path = self.work / "labelled.extxyz"
        if path.exists():
            return path
        parts = path.with_name(path.name + ".parts")
        done_before = sum(1 for _ in parts.glob("chunk-*.extxyz")) * CHUNK if parts.exists() else 0
        atoms = [len(a) for a in ase.io.iread(frames, index=":")]
        start = time.perf_counter()
        label(frames, teacher=self.teacher, out=path, seed=SEED, split=(0.0, 0.0, 1.0), chunk_size=CHUNK,
              split_rule="hash")
        elapsed = time.perf_counter() - start
        self._add_time("label_s", elapsed)
        # the teacher's cost per atom, from this session's frames only (a resumed job did fewer)
        labelled = max(sum(atoms[done_before:]), 1)
        atomic_write_text(self.work / "teacher_cost.json", json.dumps(
            {"ms_per_atom": round(1000 * elapsed / labelled, 3), "frames": len(atoms) - done_before}))
        return path

    def kept_file(self, labelled: Path) -> Tuple[Path, Dict[str, int]]:
        """The labelled frames less those past ``MAX_FORCE``; returns the file and the frames
        dropped per kind."""
        path = self.work / "heldout.extxyz"
        kept, dropped = [], {}
        for frame in ase.io.iread(labelled, index=":"):
            if frame.info["split"] != "test":
                raise RuntimeError(f"frame {frame.info['frame_id']} of {labelled} is in split {frame.info['split']}")
            kind = frame_kind(frame.info["provenance"])
            if np.linalg.norm(frame.get_forces(), axis=1).max() > MAX_FORCE:
                dropped[kind] = dropped.get(kind, 0) + 1
            else:
                kept.append(frame)
        with atomic_path(path) as tmp:
            ase.io.write(tmp, kept, format="extxyz")
        return path, dropped

    def publish(self, units: List[Unit], labelled: Path) -> Dict:
        """Gzip the kept frames beside their JSON description."""
        kept, dropped = self.kept_file(labelled)
        gz = self.write_gz(kept)
        meta = self.describe(units, kept, gz, dropped)
        atomic_write_text(self.out_dir / f"{self.system}.json", json.dumps(meta, indent=1) + "\n")
        return meta

    def describe(self, units: List[Unit], kept: Path, gz: Path, dropped: Dict[str, int]) -> Dict:
        frames = list(ase.io.iread(kept, index=":"))
        kinds = {}
        for unit in units:
            mine = [f for f in frames if frame_kind(f.info["provenance"]) == unit.kind]
            fmax = [float(np.linalg.norm(f.get_forces(), axis=1).max()) for f in mine]
            energy = [f.get_potential_energy() / len(f) for f in mine]
            kinds[unit.kind] = {"frames": len(mine), "dropped": dropped.get(unit.kind, 0),
                                "max_force_eV_A": round(max(fmax), 3) if mine else None,
                                "energy_per_atom_eV": [round(min(energy), 4), round(max(energy), 4)] if mine else None,
                                "seed": unit.seed, **unit.recipe}
        cost_file = self.work / "teacher_cost.json"
        cost = json.loads(cost_file.read_text()) if cost_file.exists() else {}
        return {
            "system": self.system, "file": _shown(gz), "frames": len(frames),
            "split": "test: every frame; held out of training, model selection, calibration and thresholds",
            "max_force_cap_eV_A": MAX_FORCE, "dropped": sum(dropped.values()), "kinds": kinds,
            "shortest_distance_A": shortest_distances(frames),
            "teacher": frames[0].info["teacher"], "teacher_version": frames[0].info["teacher_version"],
            "teacher_ms_per_atom": cost.get("ms_per_atom"), "wall_times_s": self._times(), "seed": SEED,
            "settings": _record(self.settings),
            "file_size_bytes": gz.stat().st_size, "uncompressed_bytes": kept.stat().st_size,
            "sha256_uncompressed": hashlib.sha256(kept.read_bytes()).hexdigest(),
            "cpu": _cpu(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "python": platform.python_version(),
        }

    def run(self) -> Dict:
        self.check_settings()
        units = self.units()
        with tqdm(total=3, desc=f"{self.system}: held-out set", unit="stage") as bar:
            bar.set_postfix_str("sampling")
            frames = self.frames_file(units)
            bar.update(1)
            bar.set_postfix_str("labelling")
            labelled = self.labelled_file(frames)
            bar.update(1)
            bar.set_postfix_str("publishing")
            meta = self.publish(units, labelled)
            bar.update(1)
        return meta


def main(argv: List[str] | None = None) -> int:
    args = build_parser("python -m benchmarks.datasets.heldout", __doc__, SYSTEMS, WORK_DIR, OUT_DIR).parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for system in ["si", "gan", "ethanol"] if args.system == "all" else [args.system]:
        published = args.out_dir / f"{system}.json"
        if args.fresh:
            shutil.rmtree(args.work / system, ignore_errors=True)
        elif published.exists() and (args.out_dir / f"{system}.extxyz.gz").exists():
            print(f"{system}: already built ({_shown(published)}); --fresh rebuilds it", flush=True)
            continue
        meta = Build(system, teacher_name=args.teacher, work=args.work, out_dir=args.out_dir).run()
        counts = ", ".join(f"{k} {v['frames']}" for k, v in meta["kinds"].items())
        print(f"{system}: {meta['frames']} frames ({counts}; {meta['dropped']} dropped past {MAX_FORCE:g} eV/A) "
              f"-> {meta['file']} ({meta['file_size_bytes'] / 1e6:.2f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
