"""Teachers shared by the data tests."""

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
