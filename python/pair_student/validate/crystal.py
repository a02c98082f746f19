"""Crystal properties of one model (``pbc`` all true), see :mod:`.properties` for what is compared.

Defect and surface energies are taken at the input cell, like for like between teacher and
student, with the input cell's energy as the bulk reference (the demo cells are perfect crystals
with zero forces). Harmonic properties (elastic constants, phonons) are taken at each model's own
E-V minimum (the input cell scaled isotropically to the fitted V0): they shift with volume
(Grueneisen), so at the input cell a 1 % lattice error would show up again as a stiffness or
frequency error, and the lattice constant is already checked on its own.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Optional

import numpy as np
from ase import Atoms, units
from ase.eos import EquationOfState

from . import elastic, phonons
from .relax import energy, relax

EOS_POINTS = 7
EOS_STRAIN = 0.06  # +-6 % in volume: wide enough for a stable fit, narrow enough to stay harmonic-ish
VACANCY_FMAX = 0.05  # eV/A
VACANCY_STEPS = 150
INTERSTITIAL_FMAX = 0.05  # eV/A, as the vacancy: the two are compared with the same tolerance
INTERSTITIAL_STEPS = 200  # an interstitial pushes its neighbours further than a vacancy pulls them
VOID_GRID = 0.2  # A, spacing of the search for the largest void, refined afterwards
SURFACE_AXIS = 0  # the (100) plane of the cell: nonpolar for both demo cells (Si (100), GaN m-plane)
SURFACE_VACUUM = 10.0  # A, more than any teacher's or student's cutoff: the two faces do not see each other
SURFACE_FMAX = 0.05
SURFACE_STEPS = 200
J_PER_M2 = units._e * 1e20  # eV/A^2 -> J/m^2


def equation_of_state(calc, atoms: Atoms, *, points: int = EOS_POINTS, strain: float = EOS_STRAIN) -> dict:
    """E-V curve and Birch-Murnaghan fit; volumes and energies per atom."""
    n, v_in = len(atoms), atoms.get_volume()
    volumes, energies = [], []
    for f in np.linspace(1.0 - strain, 1.0 + strain, points):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell * f ** (1.0 / 3.0), scale_atoms=True)
        volumes.append(scaled.get_volume())
        energies.append(energy(calc, scaled))
    out = {"volumes": [v / n for v in volumes], "energies": [e / n for e in energies],
           "lattice_ratio": None, "bulk_modulus_GPa": None, "v0": None, "e0": None, "error": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a minimum outside the range is reported below instead
            v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    except (RuntimeError, ValueError) as exc:  # no minimum inside the range: the student is far off
        out["error"] = f"EOS fit failed: {exc}"
        return out
    if not (min(volumes) <= v0 <= max(volumes)) or not math.isfinite(b):
        out["error"] = f"EOS minimum V0={v0:.3f} A^3 is outside the sampled range"
    out.update(lattice_ratio=float((v0 / v_in) ** (1.0 / 3.0)), bulk_modulus_GPa=float(b / units.GPa),
               v0=float(v0 / n), e0=float(e0 / n))
    return out


def vacancy_energy(calc, atoms: Atoms, *, element: Optional[str] = None, e_bulk: Optional[float] = None) -> dict:
    """Relaxed vacancy formation energy at the input cell."""
    symbols = atoms.get_chemical_symbols()
    element = element or symbols[0]
    index = symbols.index(element)
    n = len(atoms)
    e_bulk = energy(calc, atoms) if e_bulk is None else e_bulk
    defect = atoms.copy()
    del defect[index]
    relaxed, converged, steps = relax(calc, defect, VACANCY_FMAX, VACANCY_STEPS)
    e_vac = float(relaxed.get_potential_energy())
    return {"vacancy_energy_eV": e_vac - (n - 1) / n * e_bulk, "element": element, "index": index,
            "converged": converged, "steps": steps}


def largest_void(atoms: Atoms, spacing: float = VOID_GRID) -> tuple[np.ndarray, float]:
    """The point of the cell farthest from every atom (images included) and that distance: a
    grid search, then Nelder-Mead on the distance to the nearest atom, which lands on the
    high-symmetry centre (the tetrahedral site in diamond) so the relaxation keeps its symmetry."""
    from scipy.optimize import minimize
    from scipy.spatial import cKDTree

    cell = atoms.cell.array
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), float)
    frac = atoms.get_scaled_positions(wrap=True)
    tree = cKDTree(((frac[None] + shifts[:, None]).reshape(-1, 3)) @ cell)
    n = [max(2, int(np.ceil(length / spacing))) for length in atoms.cell.lengths()]
    grid = np.stack(np.meshgrid(*[np.arange(k) / k for k in n], indexing="ij"), -1).reshape(-1, 3) @ cell
    dist, _ = tree.query(grid)
    start = grid[int(np.argmax(dist))]
    simplex = start + spacing * np.vstack([np.zeros(3), np.eye(3)])
    res = minimize(lambda x: -tree.query(x)[0], start, method="Nelder-Mead",
                   options={"initial_simplex": simplex, "xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000})
    best = res.x if -res.fun >= dist.max() else start
    wrapped = (np.linalg.solve(cell.T, best) % 1.0) @ cell
    return wrapped, float(tree.query(best)[0])


def interstitial_energy(calc, atoms: Atoms, *, element: Optional[str] = None, e_bulk: Optional[float] = None) -> dict:
    """Relaxed formation energy of one extra ``element`` atom (default: that of atom 0) put in
    the largest void, ``E_f = E_int - (N+1)/N * E_bulk`` at the input cell."""
    element = element or atoms.get_chemical_symbols()[0]
    site, clearance = largest_void(atoms)
    n = len(atoms)
    e_bulk = energy(calc, atoms) if e_bulk is None else e_bulk
    defect = atoms + Atoms(element, positions=[site])
    relaxed, converged, steps = relax(calc, defect, INTERSTITIAL_FMAX, INTERSTITIAL_STEPS)
    return {"interstitial_energy_eV": float(relaxed.get_potential_energy()) - (n + 1) / n * e_bulk,
            "element": element, "site": site.tolist(), "clearance_A": clearance,
            "displacement_A": float(np.linalg.norm(relaxed.positions[-1] - site)),
            "converged": converged, "steps": steps}


def make_slab(atoms: Atoms, axis: int = SURFACE_AXIS, vacuum: float = SURFACE_VACUUM) -> tuple[Atoms, float]:
    """The cell opened along cell vector ``axis`` into a slab with two equivalent faces: cut in
    the widest gap between atomic planes (fewest broken bonds: GaN's m-plane has close plane
    pairs, cutting between them would be the high-energy termination), ``vacuum`` added along the
    plane normal. Returns the slab and the area of one face (A^2)."""
    cell = atoms.cell.array.copy()
    frac = atoms.get_scaled_positions(wrap=True)
    s = np.sort(frac[:, axis])
    gaps = np.diff(np.append(s, s[0] + 1.0))
    k = int(np.argmax(gaps))
    frac[:, axis] = (frac[:, axis] - (s[k] + gaps[k] / 2)) % 1.0
    a, b = (cell[(axis + 1) % 3], cell[(axis + 2) % 3])
    normal = np.cross(a, b)
    area = float(np.linalg.norm(normal))
    normal *= np.sign(normal @ cell[axis]) / area
    slab = atoms.copy()
    slab.positions = frac @ cell
    cell[axis] = cell[axis] + vacuum * normal
    slab.set_cell(cell, scale_atoms=False)
    return slab, area


def surface_energy(calc, atoms: Atoms, *, axis: int = SURFACE_AXIS, e_bulk: Optional[float] = None) -> dict:
    """Relaxed surface energy (J/m^2) of the (100)-type plane of the cell normal to ``axis``."""
    slab, area = make_slab(atoms, axis)
    e_bulk = energy(calc, atoms) if e_bulk is None else e_bulk
    relaxed, converged, steps = relax(calc, slab, SURFACE_FMAX, SURFACE_STEPS)
    gamma = (float(relaxed.get_potential_energy()) - e_bulk) / (2 * area)
    miller = [int(i == axis) for i in range(3)]
    return {"surface_energy_J_m2": gamma * J_PER_M2, "miller": miller, "area_A2": area, "vacuum_A": SURFACE_VACUUM,
            "converged": converged, "steps": steps}


def at_equilibrium(atoms: Atoms, eos: dict) -> tuple[Atoms, bool]:
    """The cell scaled to the model's fitted V0; the input cell when the fit has no minimum in range."""
    out = atoms.copy()
    if eos.get("error") or not eos.get("v0"):
        return out, False
    out.set_cell(atoms.cell * (eos["v0"] * len(atoms) / atoms.get_volume()) ** (1.0 / 3.0), scale_atoms=True)
    return out, True


def crystal_properties(calc, atoms: Atoms, *, full: bool = False, element: Optional[str] = None,
                       qpoints=None) -> dict:
    """EOS and vacancy; with ``full`` also elastic constants, interstitial, surface and phonons
    (at ``qpoints``, reduced coordinates of the primitive cell, see :func:`.phonons.band_path`)."""
    e_bulk = energy(calc, atoms)
    out = {"eos": equation_of_state(calc, atoms),
           "vacancy": vacancy_energy(calc, atoms, element=element, e_bulk=e_bulk)}
    if not full:
        return out
    eq, at_v0 = at_equilibrium(atoms, out["eos"])
    prim = phonons.primitive_cell(eq)
    out["elastic"] = elastic.elastic_constants(calc, prim)
    rotations = phonons.point_group(prim)
    out["elastic"].update(C_sym_GPa=elastic.symmetrize(out["elastic"]["C_GPa"], rotations).tolist(),
                          point_group_order=len(rotations), at_eos_minimum=at_v0,
                          independent=elastic.independent_components(rotations))
    out["interstitial"] = interstitial_energy(calc, atoms, element=element, e_bulk=e_bulk)
    out["surface"] = surface_energy(calc, atoms, e_bulk=e_bulk)
    out["phonons"] = phonons.phonon_bands(calc, eq, qpoints if qpoints is not None else phonons.band_path(atoms).kpts)
    out["phonons"]["at_eos_minimum"] = at_v0
    return out


__all__ = ["equation_of_state", "vacancy_energy", "largest_void", "interstitial_energy", "make_slab",
           "surface_energy", "at_equilibrium", "crystal_properties"]
