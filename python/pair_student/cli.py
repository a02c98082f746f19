"""``pair-student``: one entry point, one subcommand per pipeline stage.

Each subcommand lives in its stage's module, which exposes ``main(argv) -> int`` with its own
argparse parser; only the module of the command being run is imported, so ``--help`` is fast
and an optional backend that is not installed only matters to the command that needs it.
"""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional

# name -> (module, one-line summary), in pipeline order
COMMANDS = {
    "sample": ("pair_student.data.sample", "generate diverse configurations from structures (MD, rattle, strain)"),
    "label": ("pair_student.data.label", "label configurations with a teacher into a resumable extxyz dataset"),
    "train": ("pair_student.training.cli", "train one student on a labelled dataset"),
    "distill": ("pair_student.distill", "whole pipeline: sample -> label -> train -> export, for several sizes"),
    "export": ("pair_student.export", "export a checkpoint to TorchScript / ONNX, verified against the model"),
    "models": ("pair_student.shipped", "print the path of every student shipped with the package"),
    "analyze": ("pair_student.analyze", "per-atom force analysis of students against the teacher"),
    "validate": ("pair_student.validate", "run the same LAMMPS input with teacher and students, compare"),
    "bench": ("pair_student.bench", "accuracy-speed benchmark against the teacher and peer potentials"),
    "lmp": ("pair_student.plugin", "run LAMMPS (serial or under mpirun) with the student plugin set up"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: pair-student COMMAND [options]   (pair-student COMMAND --help for details)", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pair-student: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest, prog=f"pair-student {name}") or 0)


if __name__ == "__main__":
    sys.exit(main())
