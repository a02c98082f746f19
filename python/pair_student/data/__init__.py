"""Structures, configuration sampling, teacher labelling and dataset reading."""

from .structures import DEMO_SYSTEMS, demo_structure, read_structures

__all__ = ["DEMO_SYSTEMS", "demo_structure", "read_structures"]
