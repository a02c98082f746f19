"""Configuration sampling: where the student must be accurate, the dataset must have frames.

Methods (each frame records how it was made in ``atoms.info["provenance"]``):

* ``md``: Langevin MD at each temperature; for periodic cells and a non-zero pressure, NPT
  (cell breathes). Frames every ``md_stride`` steps. ``driver`` says what moves the atoms: the
  teacher (in ASE, Berendsen NPT), or a classical potential or a student in LAMMPS
  (:mod:`.lammps_md`, NPH + Langevin), which costs no teacher call per step.
* ``rattle``: Gaussian displacements of every atom (sigma 0.02 to 0.15 A).
* ``strain``: random symmetric cell strain up to +-``max_strain`` plus a small rattle
  (periodic cells only): teaches the stress.
* ``normal_modes``: molecules only: harmonic normal-mode displacements at each temperature,
  from a finite-difference Hessian of the teacher around a relaxed geometry.
* ``contact``: close contacts (:mod:`.contact`): pairs pushed to 0.65-0.9 x their equilibrium
  distance, hydrostatically compressed cells, and (molecules) compressed or stretched bonds.

Deterministic for a given seed (and teacher). Near-duplicate frames are dropped.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from ..teachers import get_teacher
from ..teachers.base import teacher_calculator
from .contact import contact_frames
from .lammps_md import Driver, lammps_md, resolve_driver

METHODS = ("md", "rattle", "strain", "normal_modes", "contact")
_WEIGHTS = {"md": 0.5, "rattle": 0.2, "strain": 0.3, "normal_modes": 0.3, "contact": 0.1}
# Steps of MD before the first frame when LAMMPS drives: cheap, and it moves the first frames
# off the perfect lattice. Teacher MD keeps 0 (every step is a teacher call).
LAMMPS_EQUILIBRATE = 2000


def _periodic(atoms: Atoms) -> bool:
    return bool(np.all(atoms.pbc))


def _clean(atoms: Atoms, provenance: str, source: str) -> Atoms:
    out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if _periodic(out):
        out.wrap()
    out.info["provenance"] = provenance
    out.info["source"] = source
    return out


def _rattle(atoms, n, rng, source):
    sigmas = (0.02, 0.05, 0.1, 0.15)
    frames = []
    for i in range(n):
        sigma = sigmas[i % len(sigmas)]
        a = atoms.copy()
        a.positions += rng.normal(0.0, sigma, size=a.positions.shape)
        frames.append(_clean(a, f"rattle sigma={sigma}", source))
    return frames


def _strain(atoms, n, rng, source, max_strain):
    frames = []
    for _ in range(n):
        eps = rng.uniform(-max_strain, max_strain, size=(3, 3))
        eps = 0.5 * (eps + eps.T)
        a = atoms.copy()
        a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        a.positions += rng.normal(0.0, 0.02, size=a.positions.shape)
        voigt = [eps[0, 0], eps[1, 1], eps[2, 2], eps[1, 2], eps[0, 2], eps[0, 1]]
        frames.append(_clean(a, "strain eps=" + ",".join(f"{e:.4f}" for e in voigt)
                             + " rattle=0.02", source))
    return frames


def _conditions(atoms, temperatures, pressures):
    return [(t, p) for t in temperatures for p in (pressures if _periodic(atoms) else (0.0,))]


def _md_label(temp, pres, driver: Driver, periodic: bool) -> str:
    if pres and periodic:
        return f"md npt T={temp:g}K P={pres:g}GPa driver={driver.name}"
    return f"md nvt T={temp:g}K driver={driver.name}"


def _md(atoms, n, rng, source, teacher, temperatures, pressures, stride, timestep_fs, driver: Driver,
        equilibrate: Optional[int]):
    if timestep_fs is None:
        timestep_fs = 0.5 if 1 in atoms.numbers else 1.0  # H vibrates at ~10 fs periods
    conditions = _conditions(atoms, temperatures, pressures)
    per = [n // len(conditions) + (1 if i < n % len(conditions) else 0) for i in range(len(conditions))]
    from tqdm.auto import tqdm

    frames = []
    bar = tqdm(total=n, desc=f"MD sampling {source} ({driver.name})", unit="frame", leave=False)
    for (temp, pres), count in zip(conditions, per):
        if count == 0:
            continue
        label = _md_label(temp, pres, driver, _periodic(atoms))
        if driver.is_teacher:
            # teacher MD is slow: the bar moves per frame, not per condition
            got = _teacher_md(atoms, count, rng, teacher, temp, pres, stride, timestep_fs, equilibrate or 0,
                              on_frame=lambda: bar.update(1))
        else:
            got = lammps_md(atoms, driver, temp=temp, pres=pres, count=count, stride=stride, dt_fs=timestep_fs,
                            equilibrate=LAMMPS_EQUILIBRATE if equilibrate is None else equilibrate, rng=rng)
            bar.update(count)
        for k, a in enumerate(got, start=1):
            frames.append(_clean(a, f"{label} step={k * stride} dt={timestep_fs:g}fs", source))
    bar.close()
    return frames


def _teacher_md(atoms, count, rng, teacher, temp, pres, stride, timestep_fs, equilibrate, on_frame):
    """``count`` snapshots, ``stride`` steps apart, of teacher-driven MD in ASE."""
    a = atoms.copy()
    a.calc = teacher_calculator(teacher)
    MaxwellBoltzmannDistribution(a, temperature_K=temp, rng=rng)
    Stationary(a)
    dt = timestep_fs * units.fs
    if pres and _periodic(a):
        dyn = NPTBerendsen(a, timestep=dt, temperature_K=temp, taut=50 * units.fs,
                           pressure_au=pres * units.GPa, taup=200 * units.fs,
                           compressibility_au=1e-2 / units.GPa)
    else:
        dyn = Langevin(a, dt, temperature_K=temp, friction=0.02 / units.fs, rng=rng, fixcm=False)
    if equilibrate:
        dyn.run(equilibrate)
    out = []
    for _ in range(count):
        dyn.run(stride)
        out.append(a.copy())
        on_frame()
    return out


def _hessian(atoms, teacher, delta=0.01):
    """Finite-difference Hessian (eV/A^2) from central differences of the teacher's forces."""
    n = 3 * len(atoms)
    hess = np.zeros((n, n))
    for i in range(n):
        cols = []
        for sign in (1, -1):
            a = atoms.copy()
            a.positions.reshape(-1)[i] += sign * delta
            cols.append(teacher.compute(a)["forces"].reshape(-1))
        hess[:, i] = -(cols[0] - cols[1]) / (2 * delta)
    return 0.5 * (hess + hess.T)


def _normal_modes(atoms, n, rng, source, teacher, temperatures):
    from ase.optimize import BFGS  # ase.optimize takes ~0.3 s to import, and only molecules need it

    ref = atoms.copy()
    ref.calc = teacher_calculator(teacher)
    BFGS(ref, logfile=None).run(fmax=0.05, steps=100)  # modes only make sense near a minimum
    ref.calc = None
    masses = ref.get_masses().repeat(3)
    mw = _hessian(ref, teacher) / np.sqrt(np.outer(masses, masses))
    evals, evecs = np.linalg.eigh(mw)
    # The lowest 6 (5 for a diatomic) are translations/rotations; negative ones are not modes.
    skip = 5 if len(ref) == 2 else 6
    keep = np.arange(len(evals)) >= skip
    keep &= evals > 1e-6
    evals, evecs = evals[keep], evecs[:, keep]
    # Floor at 200 cm^-1: a soft torsion (or a poorly relaxed geometry) would otherwise get
    # Angstrom-sized harmonic amplitudes that tear the molecule apart.
    omega_min = 2 * np.pi * units._c * 200.0 * 100 / units.s  # rad per ASE time unit
    evals = np.maximum(evals, omega_min ** 2)
    frames = []
    for i in range(n):
        temp = temperatures[i % len(temperatures)]
        # Classical harmonic oscillator: <q^2> = kT / omega^2 in mass-weighted coordinates.
        q = rng.normal(0.0, np.sqrt(units.kB * temp / evals))
        disp = (evecs @ q) / np.sqrt(masses)
        a = ref.copy()
        a.positions += disp.reshape(-1, 3)
        frames.append(_clean(a, f"normal_modes T={temp:g}K n_modes={len(evals)}", source))
    return frames


def _key(atoms: Atoms, decimals: int) -> bytes:
    h = hashlib.sha1(atoms.numbers.tobytes())
    h.update(np.round(atoms.positions, decimals).tobytes())
    h.update(np.round(atoms.cell.array, decimals).tobytes())
    return h.digest()


def deduplicate(frames: Sequence[Atoms], *, decimals: int = 3) -> List[Atoms]:
    """Drop frames whose species, positions and cell equal an earlier one's to ``10**-decimals`` A."""
    seen, out = set(), []
    for a in frames:
        k = _key(a, decimals)
        if k not in seen:
            seen.add(k)
            out.append(a)
    return out


def sample(
    structures: Sequence[Atoms],
    *,
    teacher=None,
    n_frames: int,
    seed: int,
    methods: Sequence[str] = METHODS,
    temperatures: Sequence[float] = (300.0, 600.0, 1200.0),
    pressures: Sequence[float] = (0.0, 1.0),
    md_stride: int = 5,
    timestep_fs: Optional[float] = None,
    max_strain: float = 0.04,
    weights: Optional[Dict[str, float]] = None,
    driver: str = "teacher",
    md_equilibrate: Optional[int] = None,
    contact_range: Sequence[float] = (0.65, 0.9),
    min_volume: float = 0.85,
) -> List[Atoms]:
    """Sample about ``n_frames`` configurations around the given structures.

    Args:
        structures: starting structures (periodic crystals and/or molecules with pbc False).
        teacher: a :class:`~pair_student.teachers.Teacher` (or name) that drives ``md`` (with
            ``driver="teacher"``) and ``normal_modes``; without one those are skipped.
        n_frames: frames to return in total, split evenly over structures (fewer if
            duplicates were dropped).
        seed: random seed; the same seed, inputs and teacher give the same frames.
        methods: subset of ``METHODS``; methods that do not apply to a structure
            (``strain`` for molecules, ``normal_modes`` for crystals) are skipped for it.
        temperatures: MD and normal-mode temperatures in K.
        pressures: NPT pressures in GPa for periodic cells (0 means NVT).
        md_stride: MD steps between saved frames.
        timestep_fs: MD time step; default 0.5 fs with hydrogen, else 1 fs.
        max_strain: largest strain component for ``strain``.
        weights: relative share of each method (default md 0.5, rattle 0.2, strain or
            normal_modes 0.3, contact 0.1).
        driver: what runs ``md``: ``"teacher"``, a classical preset (``"sw-si"``, ``"sw-gan"``,
            ``"tersoff-gan"``) or ``"student:PATH"`` (see :mod:`.lammps_md`).
        md_equilibrate: MD steps before the first frame of each condition (default 0 with the
            teacher, ``LAMMPS_EQUILIBRATE`` with a LAMMPS driver).
        contact_range: ``contact``: pair distances as fractions of their equilibrium length.
        min_volume: ``contact``: smallest volume ratio of compressed cells.
    """
    methods, teacher, md_driver = _check_inputs(structures, teacher=teacher, n_frames=n_frames, methods=methods,
                                                md_stride=md_stride, driver=driver)
    weights = {**_WEIGHTS, **(weights or {})}
    root = np.random.SeedSequence(seed)
    frames: List[Atoms] = []
    per_structure = [n_frames // len(structures) + (1 if i < n_frames % len(structures) else 0)
                     for i in range(len(structures))]
    for s_index, (atoms, n_s) in enumerate(zip(structures, per_structure)):
        source = str(atoms.info.get("system", f"structure{s_index}"))
        usable = [m for m in methods if not (m == "strain" and not _periodic(atoms))
                  and not (m == "normal_modes" and _periodic(atoms))]
        if not usable:
            raise ValueError(f"no sampling method in {list(methods)} applies to {source}")
        share = np.array([weights[m] for m in usable], dtype=float)
        counts = np.floor(share / share.sum() * n_s).astype(int)
        counts[0] += n_s - counts.sum()
        rngs = root.spawn(1)[0].spawn(len(METHODS))
        for method, count in zip(usable, counts):
            rng = np.random.default_rng(rngs[METHODS.index(method)])
            if count <= 0:
                continue
            if method == "rattle":
                frames += _rattle(atoms, count, rng, source)
            elif method == "strain":
                frames += _strain(atoms, count, rng, source, max_strain)
            elif method == "md":
                frames += _md(atoms, count, rng, source, teacher, temperatures, pressures,
                              md_stride, timestep_fs, md_driver, md_equilibrate)
            elif method == "contact":
                frames += [_clean(a, prov, source) for a, prov in contact_frames(
                    atoms, count, rng, contact_range=contact_range, min_volume=min_volume)]
            else:
                frames += _normal_modes(atoms, count, rng, source, teacher, temperatures)
    return deduplicate(frames)


def _check_inputs(structures, *, teacher, n_frames, methods, md_stride, driver):
    """Every input problem as one ValueError before any MD: returns the usable methods, the
    teacher object (or None) and the resolved MD driver."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown sampling methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    if n_frames < 1 or not structures:
        raise ValueError("need at least one structure and n_frames >= 1")
    if md_stride < 1:
        raise ValueError(f"md_stride must be >= 1 MD step, not {md_stride}")
    symbols = {s for atoms in structures for s in atoms.get_chemical_symbols()}
    md_driver = resolve_driver(driver, symbols) if "md" in methods else Driver(str(driver))
    if isinstance(teacher, str):
        teacher = get_teacher(teacher)
    if teacher is None:
        needs = {"normal_modes"} | ({"md"} if md_driver.is_teacher else set())
        methods = [m for m in methods if m not in needs]
        if not methods:
            raise ValueError("md (with driver='teacher') and normal_modes need a teacher; pass teacher=, "
                             "a classical or student driver, or use rattle/strain/contact")
    else:
        teacher.check_elements(symbols, where="the structures to sample")
    return list(methods), teacher, md_driver


if __name__ == "__main__":
    from .cli import sample_main  # not at the top: data.cli imports this module

    sys.exit(sample_main(prog="python -m pair_student.data.sample"))
