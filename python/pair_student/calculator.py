"""ASE calculator for any student file that follows :mod:`pair_student.contract`."""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from .contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES, carries_uncertainty, evaluate, load_student
from .graph import atom_virials, atoms_to_graph, edge_forces, edge_virials


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda[:N]`` or ``auto`` (CUDA when available); clear error for a missing GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but no CUDA device is available; use 'cpu' or 'auto'")
    return torch.device(device)


def _check_finite(atoms) -> None:
    """NaN positions drop out of every neighbour search (comparisons with NaN are false), so the
    energy would come back finite and wrong: refuse them."""
    bad = np.flatnonzero(~np.isfinite(atoms.positions).all(axis=1))
    if len(bad):
        raise ValueError(f"positions of {len(bad)} atom(s) are not finite (the first: atom {bad[0]}); "
                         "a diverged MD or optimiser step upstream usually causes this")
    if not np.isfinite(atoms.cell.array).all():
        raise ValueError("the cell is not finite")


class StudentCalculator(Calculator):
    """Energies, forces, stress and per-atom energies/virials from a student ``.pt`` file.

    Works with and without periodic boundary conditions; periodic images enter as edges, the
    same graph the LAMMPS pair style builds from ghost atoms.

    Args:
        model: path to a student file (``*_model_traced.pt``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        dtype: ``"float32"`` or ``"float64"``; default: the dtype stored in the file.
        uncertainty: also compute ``results["uncertainty"]``, each atom's expected force error
            in eV/A (:mod:`pair_student.models.uncertainty`), as ``pair_style student ...
            uncertainty yes`` does; the file must carry its statistics (exported with a dataset).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress", "stresses"]

    def __init__(self, model: str | os.PathLike, *, device: str = "cpu", dtype: str | None = None,
                 uncertainty: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.device = resolve_device(device)
        if dtype not in (None, "float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.module, self.metadata = load_student(
            model, device=self.device, dtype=getattr(torch, dtype) if dtype else None
        )
        self.dtype = getattr(torch, dtype or self.metadata["dtype"])
        self.elements = self.metadata["elements"]
        self.cutoff = self.metadata["cutoff"]
        self.uncertainty = bool(uncertainty)
        if self.uncertainty:
            self.implemented_properties = [*self.implemented_properties, "uncertainty"]
            if not carries_uncertainty(self.module):
                raise ValueError(f"{model} carries no uncertainty statistics; re-export it with "
                                 "'pair-student export FILE --uncertainty-from DATASET' (the dataset it was trained on)")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        _check_finite(self.atoms)
        graph = atoms_to_graph(self.atoms, self.cutoff, self.elements, dtype=self.dtype, device=self.device)
        n = graph[NUM_LOCAL]
        energies, grad = evaluate(self.module, graph[SPECIES], graph[EDGE_INDEX], graph[EDGE_VECTORS], n)
        energies, grad = energies.detach(), grad.detach()
        if not torch.isfinite(energies).all() or not torch.isfinite(grad).all():
            raise FloatingPointError("student returned NaN or inf; is the structure physical (no overlapping atoms)?")
        edges, vectors = graph[EDGE_INDEX], graph[EDGE_VECTORS]
        as_np = lambda t: t.to(torch.float64).cpu().numpy()  # noqa: E731
        self.results["energies"] = as_np(energies)
        self.results["energy"] = self.results["free_energy"] = float(energies.to(torch.float64).sum())
        self.results["forces"] = as_np(edge_forces(edges, grad, n))
        if self.uncertainty:
            with torch.no_grad():
                u = self.module.atom_uncertainty(graph[SPECIES], edges, vectors, n)
            self.results["uncertainty"] = as_np(u)
        if self.atoms.pbc.all():
            volume = self.atoms.get_volume()
            virial = as_np(edge_virials(vectors, grad).sum(0))
            self.results["stress"] = full_3x3_to_voigt_6_stress(-virial / volume)
            per_atom = as_np(atom_virials(edges, vectors, grad, n))
            self.results["stresses"] = np.array([full_3x3_to_voigt_6_stress(-v / volume) for v in per_atom])
