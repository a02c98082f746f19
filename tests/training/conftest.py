"""Fixtures of the training tests."""

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

SPLITS = ["train"] * 6 + ["val"] * 2 + ["test"] * 2


def _labelled_cell(rng, cluster: bool):
    """A rattled, strained Cu3Al fcc cell, or a cluster cut from one, with its EMT labels."""
    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    a.symbols[[1]] = "Al"
    a.rattle(0.08, seed=int(rng.integers(1 << 30)))
    a.set_cell(a.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
    if cluster:  # no stress
        a.pbc = False
        a.center(vacuum=3.0)
    a.calc = EMT()
    e, f = a.get_potential_energy(), a.get_forces()
    s = a.get_stress() if a.pbc.all() else None
    a.calc = SinglePointCalculator(a, energy=e, forces=f, **({"stress": s} if s is not None else {}))
    return a


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """A tiny labelled dataset (extxyz): 6 train, 2 val and 2 test frames, frame 1 a cluster."""
    path = tmp_path_factory.mktemp("data") / "emt.extxyz"
    rng = np.random.default_rng(0)
    frames = []
    for i, split in enumerate(SPLITS):
        a = _labelled_cell(rng, cluster=i == 1)
        a.info["split"] = split
        a.info["teacher"] = "emt"
        frames.append(a)
    ase.io.write(path, frames)
    return path
