"""Structures, configuration sampling, teacher labelling and dataset reading."""

from .structures import demo_structure, read_structures

__all__ = ["demo_structure", "read_structures"]
