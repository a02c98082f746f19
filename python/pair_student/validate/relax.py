"""Single points and fixed-cell relaxations shared by the property checks (crystal, elastic,
molecule): every model is relaxed by the same optimiser with the same settings, so a difference
in a property is the model's, not the optimiser's."""

from __future__ import annotations

from ase import Atoms
from ase.optimize import BFGS


def energy(calc, atoms: Atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def relax(calc, atoms: Atoms, fmax: float, steps: int, constraint=None) -> tuple[Atoms, bool, int]:
    """Positions relaxed at fixed cell: ``(atoms with calc attached, converged, steps)``."""
    atoms = atoms.copy()
    atoms.set_constraint(constraint)
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    return atoms, converged, int(opt.nsteps)


def stress(calc, atoms: Atoms):
    """Voigt stress (eV/A^3, ASE sign); a calculator without stress gets ASE's finite-difference one."""
    from ase.calculators.calculator import PropertyNotImplementedError

    try:
        return atoms.get_stress(voigt=True)
    except PropertyNotImplementedError:
        return calc.calculate_numerical_stress(atoms, voigt=True)
