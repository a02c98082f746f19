import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from pair_student.teachers.base import ASETeacher


class FreshEMT(ASETeacher):
    """EMT with a new calculator per call: ASE's EMT reuses neighbour lists across calls, so
    its last bits depend on call history; a fresh one makes results a pure function of the
    frame, which byte-for-byte restart comparisons need."""

    def __init__(self):
        super().__init__(EMT(), name="emt", version="ase-emt")

    def calculator(self):
        return EMT()


class FailingTeacher(FreshEMT):
    """Raises :class:`Crash` once ``fail_after`` frames have been labelled: an interruption mid-chunk."""

    class Crash(Exception):
        pass

    def __init__(self, fail_after):
        super().__init__()
        self.left = fail_after

    def compute(self, atoms):
        if self.left == 0:
            raise self.Crash("injected")
        self.left -= 1
        return super().compute(atoms)


@pytest.fixture
def emt_teacher():
    return FreshEMT()


@pytest.fixture
def failing_teacher():
    """``failing_teacher(n)`` labels n frames like ``emt_teacher``, then raises
    ``failing_teacher.Crash``."""
    return FailingTeacher


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
