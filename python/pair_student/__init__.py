"""pair_student: distill foundation force fields into small students that run in LAMMPS."""

from .calculator import StudentCalculator
from .contract import CONTRACT_VERSION, load_student, read_metadata, save_student

__version__ = "0.1.0"
__all__ = ["StudentCalculator", "CONTRACT_VERSION", "load_student", "read_metadata", "save_student"]
