"""A tiny labelled dataset: rattled/strained Cu-Al fcc cells and one cluster, labelled with EMT."""

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

SMALL_MODEL = {"channels": 6, "radial_hidden": 12, "hidden": 16, "readout_layers": 2, "lmax": 2}


def make_dataset(path, n_train=6, n_val=2, n_test=2, seed=0):
    import ase.io

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_train + n_val + n_test):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.symbols[[1]] = "Al"
        a.rattle(0.08, seed=int(rng.integers(1 << 30)))
        a.set_cell(a.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        if i == 1:  # a cluster: no stress
            a.pbc = False
            a.center(vacuum=3.0)
        a.calc = EMT()
        e, f = a.get_potential_energy(), a.get_forces()
        s = a.get_stress() if a.pbc.all() else None
        a.calc = SinglePointCalculator(a, energy=e, forces=f, **({"stress": s} if s is not None else {}))
        a.info["split"] = "train" if i < n_train else ("val" if i < n_train + n_val else "test")
        a.info["teacher"] = "emt"
        frames.append(a)
    ase.io.write(path, frames)
    return path
