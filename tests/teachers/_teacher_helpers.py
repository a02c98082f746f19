"""Structures and finite-difference helpers shared by the teacher tests."""

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule



def si8(rattle=0.05, seed=0):
    atoms = bulk("Si", "diamond", a=5.431, cubic=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def si_cluster(seed=1):
    atoms = si8(0.05, seed)
    atoms.pbc = False
    atoms.cell = None
    return atoms


def gan_cell(seed=0):
    atoms = bulk("GaN", "wurtzite", a=3.189, c=5.185).repeat((2, 1, 1))
    atoms.rattle(0.04, seed=seed)
    return atoms


def gan_cluster(seed=0):
    atoms = gan_cell(seed).repeat((1, 2, 1))[:6]
    atoms.pbc = False
    atoms.cell = None
    return atoms


def cu_cell(seed=0):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def cu_cluster(seed=0):
    atoms = cu_cell(seed)
    atoms.pbc = False
    return atoms


def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.02, seed=3)
    return atoms


def fd_forces(teacher, atoms, components, h):
    """Central-difference -dE/dx for the given (atom, direction) pairs."""
    out = []
    for i, k in components:
        e = []
        for s in (1, -1):
            a = atoms.copy()
            a.positions[i, k] += s * h
            e.append(teacher.compute(a)["energy"])
        out.append(-(e[0] - e[1]) / (2 * h))
    return np.array(out)


def fd_stress(teacher, atoms, h):
    """Central-difference stress (1/V) dE/d(eps), Voigt order xx yy zz yz xz xy."""
    vol = atoms.get_volume()
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    out = []
    for i, j in pairs:
        e = []
        for s in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = s * h if i == j else s * h / 2
            a = atoms.copy()
            a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            e.append(teacher.compute(a)["energy"])
        out.append((e[0] - e[1]) / (2 * h) / vol)
    return np.array(out)


