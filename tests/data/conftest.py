import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT


from _data_helpers import FreshEMT


@pytest.fixture
def emt_teacher():
    return FreshEMT()


@pytest.fixture
def cu_frames():
    """12 small distinct Cu frames (EMT labels them in milliseconds)."""
    frames = []
    for i in range(12):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.rattle(0.05, seed=i)
        a.info["provenance"] = f"rattle seed={i}"
        frames.append(a)
    return frames
